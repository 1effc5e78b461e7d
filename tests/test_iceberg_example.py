"""The example DAG dags/octopods_iceberg_table.py on two days against the emulator, then the
table read as docs/iceberg.md reads it: the page's pyiceberg, Polars, DuckDB and time-travel
code is the code between this module's section markers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_octopods.emulator import Emulator
from tests.dag_runs import load_dag, task_xcom
from tests.iceberg_cases import load_catalog, use_catalog
from tests.snapshots import DAY


@pytest.fixture
def send_log(root: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("OCTOPODS_SEND_LOG_ROOT", f"file://{root}/send_log")
    (root / "send_log").mkdir()
    return root / "send_log"


def _run_day(send_log: Path, day: datetime, ids: list[int]) -> Any:
    (send_log / f"{day.date()}.csv").write_text("message_id\n" + "".join(f"{m}\n" for m in ids))
    run = load_dag("octopods_iceberg_table").test(logical_date=day)
    assert run.state == "success"
    return run


def _statuses(rows: Any) -> dict[int, str]:
    return dict(zip(rows.column("message_id").to_pylist(), rows.column("status").to_pylist(), strict=True))


def test_the_example_keeps_one_table_and_the_docs_queries_read_it(
    root: Path, send_log: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog = load_catalog(use_catalog(monkeypatch, root / "iceberg"))
    first = [*emulator.add_messages(6, deliver_after=0), *emulator.add_messages(4, read_after=0)]
    one = _run_day(send_log, DAY, first)
    assert task_xcom(one, "update_statuses")["inserted"] == 10
    assert task_xcom(one, "upkeep")["partitions_compacted"] == 0
    day_one_committed = datetime.fromtimestamp(
        catalog.load_table("octopods.message_statuses").current_snapshot().timestamp_ms / 1000, UTC
    )

    second = [*emulator.add_messages(3, deliver_after=0), *emulator.add_messages(2, read_after=0)]
    two = _run_day(send_log, DAY + timedelta(days=1), second)
    assert task_xcom(two, "update_statuses")["inserted"] == 5
    # Each day wrote a file of final rows and one of the others into today's partition: two
    # files of final rows are fewer than the upkeep's four (tests/test_iceberg_upkeep.py).
    assert task_xcom(two, "upkeep") == {
        "partitions_compacted": 0,
        "files_compacted": 0,
        "files_written": 0,
        "snapshots_expired": 0,
        "files_deleted": 0,
    }

    # --8<-- [start:pyiceberg]
    table = catalog.load_table("octopods.message_statuses")
    since = datetime.now(UTC) - timedelta(days=7)
    recent = table.scan(row_filter=f"sent_at >= '{since.isoformat()}'").to_arrow()
    # --8<-- [end:pyiceberg]
    assert len(table.scan().plan_files()) == 4
    assert _statuses(recent) == {m: "delivered" for m in first[:6] + second[:3]} | {
        m: "read" for m in first[6:] + second[3:]
    }

    # --8<-- [start:polars]
    import polars as pl

    by_status = pl.scan_iceberg(table).filter(pl.col("sent_at") >= since).group_by("status").len().collect()
    # --8<-- [end:polars]
    assert dict(by_status.iter_rows()) == {"delivered": 9, "read": 6}

    # --8<-- [start:duckdb]
    import duckdb

    [(messages, delivery_rate)] = duckdb.sql(
        "select count(*), count(*) filter (where status in ('delivered', 'read')) / count(*) "
        "from recent"  # the Arrow table above
    ).fetchall()
    # --8<-- [end:duckdb]
    assert (messages, delivery_rate) == (15, 1.0)

    # --8<-- [start:as-of]
    as_of = day_one_committed  # any moment, e.g. datetime(2026, 11, 27, tzinfo=UTC)
    then = table.snapshot_as_of_timestamp(int(as_of.timestamp() * 1000))
    statuses_then = table.scan(snapshot_id=then.snapshot_id).to_arrow()
    # --8<-- [end:as-of]
    assert sorted(statuses_then.column("message_id").to_pylist()) == sorted(first)

    # --8<-- [start:history]
    for snapshot in table.snapshots():
        written_by = snapshot.summary.additional_properties
        print(snapshot.snapshot_id, written_by.get("octopods.run-id"), written_by.get("octopods.task-id"))
    # --8<-- [end:history]
    by = [s.summary.additional_properties for s in table.snapshots()]
    assert [(b.get("octopods.run-id"), b.get("octopods.task-id")) for b in by] == [
        (one.run_id, "update_statuses"),
        (two.run_id, "update_statuses"),
    ]  # no compaction: too few files of final rows
    assert {b["octopods.dag-id"] for b in by} == {"octopods_iceberg_table"}
    assert by[0]["octopods.try-number"] == "1" and by[0]["octopods.map-index"] == "-1"
