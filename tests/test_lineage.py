"""OpenLineage: the snapshot operator's run, with the OpenLineage provider installed and a file
transport, emits a COMPLETE event with the API and the ids file as inputs and the Parquet file,
its schema and its statistics as output. Run as ``airflow dags test`` in its own process: the
OpenLineage listener reads its configuration once per process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from airflow_provider_octopods.emulator import Emulator
from airflow_provider_octopods.parquet.schema import snapshot_schema

pytest.importorskip("airflow.providers.openlineage")


def _events(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_the_snapshot_reports_its_lineage(tmp_path: Path, emulator: Emulator, airflow_db: str) -> None:
    ids = emulator.add_messages(25, deliver_after=0)
    ids_file = tmp_path / "send_log.csv"
    pacsv.write_csv(pa.table({"message_id": ids}), ids_file)
    events_file = tmp_path / "openlineage.jsonl"
    env = {
        **os.environ,
        "AIRFLOW_CONN_OCTOPODS_DEFAULT": emulator.connection_json(),
        "OCTOPODS_TEST_SNAPSHOT_ROOT": f"file://{tmp_path}/out",
        "AIRFLOW__OPENLINEAGE__NAMESPACE": "octopods-tests",
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(
            {"type": "file", "log_file_path": str(events_file), "append": True}
        ),
    }
    conf = {"case": "snapshot_file", "path": f"file://{ids_file}"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "airflow",
            "dags",
            "test",
            "snapshot_file",
            "2026-11-24",
            "-c",
            json.dumps(conf),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=240,
    )
    assert "state=success" in result.stdout + result.stderr, result.stderr[-3000:]

    [complete] = [
        e
        for e in _events(events_file)
        if e["eventType"] == "COMPLETE" and e["job"]["name"] == "snapshot_file.snapshot"
    ]
    assert complete["job"]["namespace"] == "octopods-tests"
    inputs = {(d["namespace"], d["name"]) for d in complete["inputs"]}
    assert inputs == {
        (f"octopods://127.0.0.1:{emulator.port}", "api/v1/whatsapp/messages"),
        ("file", str(ids_file)),
    }
    written = tmp_path / "out" / "snapshot_file" / "snapshot_date=2026-11-24" / "part-00000.parquet"
    [output] = complete["outputs"]
    assert (output["namespace"], output["name"]) == ("file", str(written))
    fields = [(f["name"], f["type"]) for f in output["facets"]["schema"]["fields"]]
    assert fields == [(f.name, str(f.type)) for f in snapshot_schema()]
    statistics = output["outputFacets"]["outputStatistics"]
    assert statistics["rowCount"] == pq.read_metadata(written).num_rows == len(ids)
    assert statistics["size"] == written.stat().st_size
    assert statistics["fileCount"] == 1


def test_the_table_operator_reports_the_table_as_its_output(
    tmp_path: Path, emulator: Emulator, airflow_db: str
) -> None:
    from tests.iceberg_cases import catalog_connection

    ids = emulator.add_messages(7, deliver_after=0)
    events_file = tmp_path / "openlineage.jsonl"
    env = {
        **os.environ,
        "AIRFLOW_CONN_OCTOPODS_DEFAULT": emulator.connection_json(),
        "AIRFLOW_CONN_ICEBERG_DEFAULT": catalog_connection(tmp_path),
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(
            {"type": "file", "log_file_path": str(events_file), "append": True}
        ),
    }
    conf = json.dumps({"case": "iceberg_ids", "messages": ids})
    command = [sys.executable, "-m", "airflow", "dags", "test", "iceberg_ids", "2026-11-24", "-c", conf]
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False, timeout=240)
    assert "state=success" in result.stdout + result.stderr, result.stderr[-3000:]

    [complete] = [
        e
        for e in _events(events_file)
        if e["eventType"] == "COMPLETE" and e["job"]["name"] == "iceberg_ids.table"
    ]
    [output] = complete["outputs"]
    assert (output["namespace"], output["name"]) == ("iceberg://iceberg_default", "octopods.message_statuses")
    [location] = output["facets"]["symlinks"]["identifiers"]
    assert location == {
        "namespace": "file",
        "name": f"{tmp_path}/warehouse/octopods/message_statuses",
        "type": "LOCATION",
    }
    fields = [(f["name"], f["type"]) for f in output["facets"]["schema"]["fields"]]
    assert fields == [(f.name, str(f.type)) for f in snapshot_schema()]
    statistics = output["outputFacets"]["outputStatistics"]
    assert statistics["rowCount"] == len(ids) and statistics["fileCount"] == 1 and statistics["size"] > 0


def test_no_lineage_before_the_connection_was_read() -> None:
    """OpenLineage also asks after a failure; one before anything was read reports nothing."""
    from airflow_provider_octopods.operators.message_status import MessageStatusToParquetOperator

    operator = MessageStatusToParquetOperator(task_id="snapshot", output_path="/tmp/out/", message_ids=[1])
    lineage = operator.get_openlineage_facets_on_complete(None)
    assert (lineage.inputs, lineage.outputs) == ([], [])
