"""MessageStatusToParquetOperator end to end: dag.test() runs against the emulator, the output
read back with pyarrow and DuckDB and checked against the emulator's own truth."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airflow_provider_octopods.emulator import Emulator
from airflow_provider_octopods.parquet.schema import snapshot_schema
from tests.conftest import EXAMPLE_ROOT
from tests.dag_runs import load_dag, task_state, task_xcom
from tests.snapshots import DAY, partition, progress_root, read_back, rows_by_id, run_case


def test_snapshot_matches_the_emulator(root: Path, emulator: Emulator) -> None:
    delivered = emulator.add_messages(40, deliver_after=0)
    read = emulator.add_messages(30, deliver_after=0, read_after=0)
    read_only = emulator.add_messages(10, read_after=0)
    failed = emulator.add_messages(10, fail_after=0)
    sent = emulator.add_messages(10)
    ids = [*delivered, *read, *read_only, *failed, *sent]
    messages = [
        *ids,
        ids[0],
        str(ids[1]),
        emulator.message_status_url(ids[2]),
        999,
        "abc",
        -5,
        "https://x.example/1",
    ]
    dag_run = run_case("snapshot_ms_tolerant", messages=messages)
    assert dag_run.state == "success"

    table = read_back(partition(root, "snapshot_ms_tolerant"))
    rows = rows_by_id(table)
    assert sorted(rows) == sorted([*ids, 999])  # every valid id exactly once, invalid ones none
    truth = {m: emulator.state.messages[m].body(emulator.state.now(), "") for m in ids}
    for message_id in ids:
        row, expected = rows[message_id], truth[message_id]
        assert row["status"] == expected["status"]
        assert row["failure_reason"] == expected["failure_reason"]
        for stamp in ("sent_at", "delivered_at", "read_at"):
            got = row[stamp].isoformat(timespec="milliseconds").replace("+00:00", "Z") if row[stamp] else None
            assert got == expected[stamp]
        assert row["error_code"] is None and row["request_id"]
    assert rows[999]["status"] is None and rows[999]["error_code"] == 2 and rows[999]["request_id"]
    assert table.schema.field("sent_at").type == pa.timestamp("ms", tz="UTC")

    summary = task_xcom(dag_run, "snapshot")
    assert summary["rows"] == 101 and summary["error_rows"] == 1
    assert summary["rows_by_status"] == {"delivered": 40, "read": 40, "failed": 10, "sent": 10}
    assert summary["invalid_inputs"] == 3 and summary["duplicates"] == 3
    assert summary["requests"] == 101
    assert len(emulator.requests()) == 101  # duplicates fetched once, invalid inputs never
    assert not progress_root(root).exists()  # no empty progress folder left beside the root


def test_faults_and_a_429_storm_lose_nothing(
    root: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_OCTOPODS_DEFAULT", emulator.connection_json(max_retries=3))
    ids = emulator.add_messages(400, deliver_after=0)
    emulator.state.fault_rates = {"server_error": 0.05, "drop": 0.03, "truncated": 0.03}
    emulator.set_rate_limit(per_second=300, burst=5)
    dag_run = run_case("snapshot_ids", messages=ids)
    assert dag_run.state == "success"
    rows = rows_by_id(read_back(partition(root, "snapshot_ids")))
    assert sorted(rows) == ids
    summary = task_xcom(dag_run, "snapshot")
    failed_rows = [r for r in rows.values() if r["error"] is not None]
    assert summary["error_rows"] == len(failed_rows)  # retries spent: reported, never dropped
    assert all(r["status"] == "delivered" for r in rows.values() if r["error"] is None)
    assert any(r.http_status == 429 for r in emulator.requests()), "no 429 was met"


def test_rerun_of_the_same_date_replaces_its_file(root: Path, emulator: Emulator) -> None:
    ids = emulator.add_messages(20, deliver_after=0)
    run_case("snapshot_ids", messages=ids)
    emulator.add_messages(5)  # more sends that day; the re-run covers the same ids
    dag_run = run_case("snapshot_ids", messages=ids)
    assert dag_run.state == "success"
    folder = partition(root, "snapshot_ids")
    assert sorted(p.name for p in folder.iterdir()) == ["part-00000.parquet"]  # no temp files left
    assert sorted(rows_by_id(read_back(folder))) == ids


def test_ids_from_csv_and_parquet_files(root: Path, emulator: Emulator) -> None:
    ids = emulator.add_messages(30, deliver_after=0)
    csv = root / "sent.csv"
    csv.write_text("message_id,phone\n" + "".join(f"{m},+1\n" for m in ids) + "not-an-id,+1\n")
    dag_run = run_case("snapshot_file_tolerant", path=f"file://{csv}")
    assert dag_run.state == "success"
    assert sorted(rows_by_id(read_back(partition(root, "snapshot_file_tolerant")))) == ids
    assert task_xcom(dag_run, "snapshot")["invalid_inputs"] == 1

    sent_log = root / "sent.parquet"
    pq.write_table(pa.table({"message_id": pa.array(ids[:10] * 2, pa.int64())}), sent_log)
    dag_run = run_case("snapshot_file", path=f"file://{sent_log}")
    assert sorted(rows_by_id(read_back(partition(root, "snapshot_file")))) == ids[:10]


def test_strict_fails_before_any_request(root: Path, emulator: Emulator) -> None:
    ids = emulator.add_messages(5, deliver_after=0)
    dag_run = run_case("snapshot_strict", messages=[*ids, "abc"])
    assert dag_run.state == "failed"
    assert emulator.requests() == []
    assert not partition(root, "snapshot_strict").exists()


def test_ids_of_thousands_of_digits_are_counted_not_a_failed_run(root: Path, emulator: Emulator) -> None:
    ids = emulator.add_messages(5, deliver_after=0)
    huge = "9" * 5000  # past Python's int digit limit: int() raises on it
    csv = root / "sent.csv"
    csv.write_text("message_id\n" + "".join(f"{m}\n" for m in ids) + f"{huge}\n")
    for dag_id, conf in (
        ("snapshot_file_tolerant", {"path": f"file://{csv}"}),
        ("snapshot_ids_tolerant", {"messages": [*ids, huge]}),
    ):
        dag_run = run_case(dag_id, **conf)
        assert dag_run.state == "success"
        summary = task_xcom(dag_run, "snapshot")
        assert summary["invalid_inputs"] == 1
        assert summary["invalid_samples"][0].startswith("'9999")
        assert sorted(rows_by_id(read_back(partition(root, dag_id)))) == ids
    requests_before = len(emulator.requests())
    dag_run = run_case("snapshot_strict", messages=[*ids, huge])
    assert dag_run.state == "failed"
    assert len(emulator.requests()) == requests_before  # refused before any request


def test_revoked_key_fails_fast_and_publishes_nothing(
    root: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_OCTOPODS_DEFAULT", emulator.connection_json(api_key=emulator.revoked_key)
    )
    ids = emulator.add_messages(500, deliver_after=0, api_key=emulator.revoked_key)
    dag_run = run_case("snapshot_ids", messages=ids)
    assert dag_run.state == "failed"
    assert len(emulator.requests()) <= 32  # the first requests in flight, not 500
    folder = partition(root, "snapshot_ids")
    assert not folder.exists() or list(folder.iterdir()) == []


def test_too_many_errors_fail_after_writing(root: Path, emulator: Emulator) -> None:
    ids = emulator.add_messages(10, deliver_after=0)
    dag_run = run_case("snapshot_ids", messages=[*ids, 1, 2, 3])  # 3 of 13 rows are "not found"
    assert dag_run.state == "failed"
    assert len(read_back(partition(root, "snapshot_ids"))) == 13  # nothing fetched is lost


def test_incremental_carries_terminal_messages_forward(root: Path, emulator: Emulator) -> None:
    read = emulator.add_messages(10, deliver_after=0, read_after=0)
    failed = emulator.add_messages(5, fail_after=0)
    delivered = emulator.add_messages(10, deliver_after=0)
    ids = [*read, *failed, *delivered]
    run_case("snapshot_ids", messages=ids)
    previous = partition(root, "snapshot_ids")
    emulator.reset_requests()
    dag_run = run_case("snapshot_terminal_only", messages=ids, previous=f"file://{previous}")
    assert dag_run.state == "success"
    assert {r.message_id for r in emulator.requests()} == set(delivered)  # no request for terminal ones
    now = rows_by_id(read_back(partition(root, "snapshot_terminal_only")))
    before = rows_by_id(read_back(previous))
    assert sorted(now) == sorted(ids)
    for message_id in [*read, *failed]:
        assert now[message_id] == before[message_id]
    assert task_xcom(dag_run, "snapshot")["carried_forward"] == 15


def _previous_snapshot(folder: Path, rows: list[dict[str, Any]]) -> None:
    folder.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=snapshot_schema()), folder / "part-00000.parquet")


def test_incremental_fetches_again_only_the_rows_due_by_age(root: Path, emulator: Emulator) -> None:
    """A delivered row fetched an hour after its send, two days ago, is due; one fetched a day
    after its send, an hour ago, is not and keeps its fetched_at; an error row always is."""
    due, fresh, errored = emulator.add_messages(3, deliver_after=0, read_after=0)
    now = datetime.now(UTC)
    row = {"status": "delivered", "error_code": None}
    _previous_snapshot(
        root / "previous",
        [
            {
                **row,
                "message_id": due,
                "sent_at": now - timedelta(days=2, hours=1),
                "fetched_at": now - timedelta(days=2),
            },
            {
                **row,
                "message_id": fresh,
                "sent_at": now - timedelta(days=1),
                "fetched_at": now - timedelta(hours=1),
            },
            {
                "message_id": errored,
                "fetched_at": now - timedelta(minutes=1),
                "error_code": 500,
                "error": "x",
            },
        ],
    )
    dag_run = run_case(
        "snapshot_incremental", messages=[due, fresh, errored], previous=f"file://{root / 'previous'}"
    )
    assert dag_run.state == "success"
    assert sorted(r.message_id for r in emulator.requests()) == sorted([due, errored])
    rows = rows_by_id(read_back(partition(root, "snapshot_incremental")))
    assert rows[due]["status"] == rows[errored]["status"] == "read"
    assert rows[fresh]["status"] == "delivered"
    assert rows[fresh]["fetched_at"] == now - timedelta(hours=1)
    assert task_xcom(dag_run, "snapshot")["carried_forward"] == 1


def _has_asset_state_store() -> bool:
    try:
        from airflow.sdk.execution_time.context import AssetStateStoreAccessor  # noqa: F401
    except ImportError:
        return False
    return True


def test_incremental_finds_the_last_snapshot_in_the_asset_state_store(root: Path, emulator: Emulator) -> None:
    """On Airflow 3.3+ the last snapshot is found in the output Asset's state store; on 3.2 there
    is none, and the run fetches everything (with a warning) instead of failing."""
    read = emulator.add_messages(5, deliver_after=0, read_after=0)
    run_case("snapshot_ids", messages=read)  # records its partition in the output Asset's state
    emulator.reset_requests()
    dag_run = run_case("snapshot_auto_incremental", messages=read)
    assert dag_run.state == "success"
    carried = 5 if _has_asset_state_store() else 0
    assert len(emulator.requests()) == 5 - carried
    assert task_xcom(dag_run, "snapshot")["carried_forward"] == carried
    emulator.reset_requests()
    dag_run = run_case("snapshot_full_refresh", messages=read)
    assert len(emulator.requests()) == 5
    assert task_xcom(dag_run, "snapshot")["carried_forward"] == 0


def test_empty_input(root: Path, emulator: Emulator) -> None:
    dag_run = run_case("snapshot_ids", messages=[])
    assert dag_run.state == "success"
    table = read_back(partition(root, "snapshot_ids"))
    assert table.num_rows == 0 and table.schema.equals(snapshot_schema(), check_metadata=False)
    dag_run = run_case("snapshot_no_empty_file", messages=[])
    assert task_state(dag_run, "snapshot") == "success"
    assert not partition(root, "snapshot_no_empty_file").exists()


def test_mapped_shards_write_separate_files_and_split_the_budget(root: Path, emulator: Emulator) -> None:
    ids = emulator.add_messages(30, deliver_after=0)
    dag_run = run_case("snapshot_mapped", messages=ids)
    assert dag_run.state == "success"
    folder = partition(root, "snapshot_mapped")
    assert sorted(p.name for p in folder.iterdir()) == [f"part-0000{i}.parquet" for i in range(3)]
    assert sorted(rows_by_id(read_back(folder))) == ids


def test_the_api_key_is_nowhere_in_the_output(root: Path, emulator: Emulator) -> None:
    ids = emulator.add_messages(20, deliver_after=0)
    run_case("snapshot_ms_tolerant", messages=[*ids, 999])
    for file in partition(root, "snapshot_ms_tolerant").iterdir():
        assert emulator.api_key.encode() not in file.read_bytes()


def write_send_log(day: str, ids: list[int]) -> None:
    """The example DAGs' input: the day's send log, one CSV with a message_id column."""
    send_log = EXAMPLE_ROOT / "send_log"
    send_log.mkdir(parents=True, exist_ok=True)
    (send_log / f"{day}.csv").write_text("message_id\n" + "".join(f"{m}\n" for m in ids))


def test_example_daily_snapshot_dag(root: Path, emulator: Emulator) -> None:
    from airflow.models.asset import AssetEvent
    from airflow.utils.session import create_session
    from sqlalchemy import select

    snapshots, reports = EXAMPLE_ROOT / "statuses", EXAMPLE_ROOT / "reports"
    ids = [*emulator.add_messages(30, deliver_after=0), *emulator.add_messages(5, fail_after=0)]
    write_send_log("2026-11-26", ids)

    dag = load_dag("octopods_daily_snapshot")
    [outlet] = dag.get_task("snapshot_statuses").outlets
    assert outlet.uri == f"file://{snapshots}"  # one Asset for every daily partition
    dag_run = dag.test(logical_date=DAY)
    assert dag_run.state == "success"
    folder = snapshots / "snapshot_date=2026-11-26"
    assert sorted(rows_by_id(read_back(folder))) == ids
    with create_session() as session:
        events = session.scalars(select(AssetEvent).where(AssetEvent.source_run_id == dag_run.run_id)).all()
    [extra] = [e.extra for e in events]
    report = urlsplit(extra.pop("report"))  # the day's report in the Delivery view
    assert extra == {"path": f"file://{folder}/part-00000.parquet", "rows": 35}
    assert report.path == "/octopods/delivery/"
    assert parse_qs(report.query) == {"asset": [outlet.uri], "run_id": [dag_run.run_id]}
    report = task_xcom(dag_run, "report")
    assert (report["messages"], report["delivery_rate"], report["failure_rate"]) == (
        35,
        round(30 / 35, 4),
        round(5 / 35, 4),
    )
    assert Path(report["files"]["picture"]) == reports / "report_date=2026-11-26" / "report.png"
    assert Path(report["files"]["picture"]).read_bytes().startswith(b"\x89PNG")
    refresh = load_dag("octopods_statuses_refresh", "dags/octopods_daily_snapshot.py")
    assert [a.uri for a in refresh.timetable.asset_condition.objects] == [f"file://{snapshots}"]


def test_example_rolling_snapshot_dag(root: Path, emulator: Emulator) -> None:
    """Two days of the rolling example: the second run starts from the first one's snapshot,
    found in the Asset's state store (3.3+), and fetches only the day's new sends and the rows
    its refresh policy makes due; on 3.2 it fetches the whole window. Every id once either way."""
    # Read or failed: carried. Delivered a moment ago: not due for an hour.
    yesterday = [
        *emulator.add_messages(6, deliver_after=0, read_after=0),
        *emulator.add_messages(2, fail_after=0),
        *emulator.add_messages(4, deliver_after=0),
    ]
    write_send_log("2026-11-25", yesterday)
    dag = load_dag("octopods_rolling_snapshot")
    assert dag.test(logical_date=DAY - timedelta(days=1)).state == "success"

    today = emulator.add_messages(3, deliver_after=0)
    write_send_log("2026-11-26", today)
    emulator.reset_requests()
    dag_run = dag.test(logical_date=DAY)
    assert dag_run.state == "success"
    summary = task_xcom(dag_run, "snapshot_window")
    carried = len(yesterday) if _has_asset_state_store() else 0
    fetched = len(yesterday) + len(today) - carried
    assert (summary["carried_forward"], len(emulator.requests())) == (carried, fetched)
    ids = read_back(EXAMPLE_ROOT / "rolling" / "snapshot_date=2026-11-26").column("message_id").to_pylist()
    assert sorted(ids) == sorted(yesterday + today)


def test_example_refresh_dag_runs_without_events(root: Path) -> None:
    """Under dags test (a manual run) no snapshot event triggered it: it reads nothing and succeeds.
    Its Asset-triggered runs are exercised on a real scheduler."""
    refresh = load_dag("octopods_statuses_refresh", "dags/octopods_daily_snapshot.py")
    dag_run = refresh.test(logical_date=DAY)
    assert dag_run.state == "success"
    assert task_xcom(dag_run, "refresh") == {}
