"""Helpers for the snapshot tests: run a case of tests/dags/octopods_snapshot_cases.py with
dag.test(), and read what it wrote as BI tools would."""

from __future__ import annotations

import glob
import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from airflow_provider_octopods.emulator import Emulator
from airflow_provider_octopods.parquet.schema import snapshot_schema
from tests.conftest import REPO
from tests.dag_runs import load_dag

DAY = datetime(2026, 11, 26, tzinfo=UTC)
T = TypeVar("T")


def run_case(dag_id: str, day: datetime = DAY, **conf: Any) -> Any:
    dag = load_dag(dag_id, file="tests/dags/octopods_snapshot_cases.py")
    return dag.test(run_conf={"case": dag_id, **conf}, logical_date=day)


@contextmanager
def killed_when_done(dag_id: str, emulator: Emulator, **conf: Any) -> Iterator[subprocess.Popen[bytes]]:
    """Run a case for ``DAY`` in ``airflow dags test``, a process of its own, and SIGKILL it when
    the block ends (the emulator's latency back to none)."""
    command = [sys.executable, "-m", "airflow", "dags", "test", dag_id, f"{DAY:%Y-%m-%d}", "--conf"]
    command.append(json.dumps({"case": dag_id, **conf}))
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield process
        process.send_signal(signal.SIGKILL)
        assert process.wait(timeout=30) == -signal.SIGKILL
    finally:
        emulator.set_latency(0.0)
        if process.poll() is None:
            process.kill()
            process.wait()


def wait_for(
    what: str, probe: Callable[[], T | None], process: subprocess.Popen[bytes], deadline: float
) -> T:
    """Poll ``probe`` until it returns something, the process ends, or the deadline passes."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        found = probe()
        if found is not None:
            return found
        if process.poll() is not None:
            raise AssertionError(f"the process ended (exit {process.returncode}) before {what}")
        time.sleep(0.01)
    raise AssertionError(f"no {what} within {deadline} s")


def files_under(folder: Path, pattern: str = "*") -> list[Path]:
    """The files below ``folder`` matching ``pattern``, as a poller sees them while a task
    writes there: a folder the task removes during the walk (its preflight probe's, a finished
    piece folder) is no error, only an empty listing this time."""
    try:
        return sorted(p for p in folder.rglob(pattern) if p.is_file()) if folder.exists() else []
    except FileNotFoundError:
        return []


def progress_root(root: Path) -> Path:
    """The default progress area of the case DAGs: beside their root, which is ``root`` (the
    output path up to the case, its first templated part)."""
    return root.parent / f".{root.name}.octopods-progress"


def partition(root: Path, case: str, day: datetime = DAY) -> Path:
    return root / case / f"snapshot_date={day:%Y-%m-%d}"


def read_back(folder: Path) -> pa.Table:
    """All rows of a partition: pyarrow for the schema, DuckDB as a BI tool would read it."""
    files = sorted(glob.glob(str(folder / "*.parquet")))
    assert files, f"no parquet file in {folder}"
    for file in files:
        schema = pq.read_schema(file)
        assert any(schema.equals(snapshot_schema(unit), check_metadata=False) for unit in ("us", "ms"))
    table = pq.read_table(files, partitioning=None)
    via_duckdb = duckdb.sql(
        f"select count(*), count(distinct message_id) from read_parquet('{folder}/*.parquet')"
    )
    assert via_duckdb.fetchall() == [(table.num_rows, len(set(table.column("message_id").to_pylist())))]
    return table


def read_root(table_root: Path) -> dict[str, list[tuple[str, int, int]]]:
    """(partition, rows, distinct ids) per partition of a root, as pyarrow, DuckDB and Polars
    read the whole root: each reader must read it, and all must agree."""
    arrow = pq.read_table(table_root).to_pandas()  # hive partitioning by default
    arrow["snapshot_date"] = arrow["snapshot_date"].astype(str)
    by_arrow = sorted(
        (str(day), len(rows), rows["message_id"].nunique()) for day, rows in arrow.groupby("snapshot_date")
    )
    by_duckdb = duckdb.sql(
        "select snapshot_date::varchar, count(*), count(distinct message_id) "
        f"from read_parquet('{table_root}/*/*', hive_partitioning = true) group by all order by 1"
    ).fetchall()
    by_polars = (
        pl.scan_parquet(table_root)
        .group_by(pl.col("snapshot_date").cast(pl.String))
        .agg(pl.len(), pl.col("message_id").n_unique())
        .sort("snapshot_date")
        .collect()
        .rows()
    )
    return {"pyarrow": by_arrow, "duckdb": by_duckdb, "polars": [tuple(r) for r in by_polars]}


def rows_by_id(table: pa.Table) -> dict[int, dict[str, Any]]:
    return {row["message_id"]: row for row in table.to_pylist()}
