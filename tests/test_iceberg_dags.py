"""MessageStatusToIcebergOperator end to end: dag.test() runs against the emulator on two
days, the table read back with pyiceberg, Polars and DuckDB and checked against the
emulator's own truth."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pytest

from airflow_provider_octopods.emulator import Emulator
from tests.dag_runs import task_xcom
from tests.iceberg_cases import TABLE, duckdb_iceberg, load_catalog, run_case, use_catalog
from tests.snapshots import DAY


@pytest.fixture
def warehouse(root: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return use_catalog(monkeypatch, root / "iceberg")


def _truth(emulator: Emulator, ids: list[int]) -> dict[int, str]:
    return {m: emulator.state.messages[m].body(emulator.state.now(), "")["status"] for m in ids}


def _statuses(table: pa.Table) -> dict[int, Any]:
    return dict(zip(table.column("message_id").to_pylist(), table.column("status").to_pylist(), strict=True))


def test_two_days_keep_one_row_per_id_with_the_emulators_truth(warehouse: Path, emulator: Emulator) -> None:
    first = [*emulator.add_messages(20, deliver_after=0), *emulator.add_messages(10)]
    day_one = run_case("iceberg_ids", messages=[*first, 999])
    assert day_one.state == "success"
    summary = task_xcom(day_one, "table")
    assert summary["inserted"] == 31 and summary["replaced"] == 0 and summary["error_rows"] == 1

    table = load_catalog(warehouse).load_table(TABLE)
    one = table.scan().to_arrow()
    assert sorted(one.column("message_id").to_pylist()) == sorted([*first, 999])
    assert _statuses(one) == {**_truth(emulator, first), 999: None}
    as_of_day_one = table.current_snapshot().snapshot_id

    # Day two: the sent ones are read meanwhile; new ids come; the first ids are given again.
    for message_id in first[20:]:
        emulator.set_status(message_id, "read")
    second = emulator.add_messages(15, read_after=0)
    everything = run_case("iceberg_full_refresh", day=DAY + timedelta(days=1), messages=[*second, *first])
    assert everything.state == "success"
    table.refresh()
    two = table.scan().to_arrow()
    ids = two.column("message_id").to_pylist()
    assert len(ids) == len(set(ids)) == 31 + 15
    assert _statuses(two) == {**_truth(emulator, [*first, *second]), 999: None}
    assert two.schema.field("sent_at").type == pa.timestamp("us", tz="UTC")

    # Other engines read the same table: Polars, and DuckDB with its own Iceberg reader.
    frame = pl.scan_iceberg(table).collect()
    assert frame.height == 46 and frame["message_id"].n_unique() == 46
    duck = duckdb_iceberg()
    scan = f"iceberg_scan('{table.metadata_location}')"
    counts = duck.sql(f"select status, count(*) from {scan} group by status").fetchall()
    assert dict(counts) == {"read": 25, "delivered": 20, None: 1}

    # Time travel: as of day one, the table holds day one's rows, by pyiceberg and by DuckDB.
    before = table.scan(snapshot_id=as_of_day_one).to_arrow()
    assert _statuses(before) == _statuses(one)
    old = f"iceberg_scan('{table.metadata_location}', snapshot_from_id => {as_of_day_one})"
    assert dict(duck.sql(f"select message_id, status from {old}").fetchall()) == _statuses(one)


def _asset_events(uri: str, after: int) -> list[tuple[Any, Any]]:
    """(partition key, extra) of the Asset's events with an id above ``after``, oldest first."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    query = (
        select(AssetEvent.partition_key, AssetEvent.extra)
        .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
        .where(AssetModel.uri == uri, AssetEvent.id > after)
        .order_by(AssetEvent.id)
    )
    with create_session() as session:
        return [tuple(row) for row in session.execute(query)]


def _last_event_id() -> int:
    from airflow.models.asset import AssetEvent
    from airflow.utils.session import create_session
    from sqlalchemy import func, select

    with create_session() as session:
        return int(session.scalar(select(func.max(AssetEvent.id))) or 0)


def _partitions_supported() -> bool:
    from airflow.sdk.execution_time.context import OutletEventAccessor

    return hasattr(OutletEventAccessor, "add_partitions")


def test_the_asset_event_names_the_days_that_changed(warehouse: Path, emulator: Emulator) -> None:
    ids = emulator.add_messages(3, deliver_after=0)
    before = _last_event_id()
    dag_run = run_case("iceberg_ids", messages=[*ids, 999])
    assert dag_run.state == "success"
    summary = task_xcom(dag_run, "table")
    events = _asset_events("iceberg://iceberg_default/octopods/message_statuses", before)
    assert summary["days"] == sorted([summary["days"][0], "no-sent-at"])
    if _partitions_supported():  # Airflow 3.3+
        assert sorted(key for key, _ in events) == summary["days"]
    else:
        assert [key for key, _ in events] == [None]
    assert all(extra["snapshot_id"] == summary["snapshot_id"] and extra["rows"] == 4 for _, extra in events)


def test_a_cleared_and_re_run_task_changes_nothing(warehouse: Path, emulator: Emulator) -> None:
    ids = emulator.add_messages(12, deliver_after=0)
    assert run_case("iceberg_ids", messages=ids).state == "success"
    table = load_catalog(warehouse).load_table(TABLE)
    snapshots = [s.snapshot_id for s in table.snapshots()]
    again = run_case("iceberg_ids", messages=ids)
    assert again.state == "success"
    summary = task_xcom(again, "table")
    assert summary["new_ids"] == 0 and summary["due_rows"] == 0 and summary["requests"] == 0
    table.refresh()
    assert [s.snapshot_id for s in table.snapshots()] == snapshots
