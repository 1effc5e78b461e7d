"""Durable snapshots: a try whose worker is killed leaves whole pieces beside the root; its
retry fetches only the ids they miss, while a cleared task or a new run of the same day starts
again. A real ``airflow dags test`` process SIGKILLed once pieces exist, the next try run as
Airflow runs it, the emulator counting requests, the root read back with pyarrow, DuckDB and
Polars."""

from __future__ import annotations

import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from airflow_provider_octopods.emulator import Emulator
from tests.dag_runs import load_dag, next_try_after, task_xcom
from tests.snapshots import (
    files_under,
    killed_when_done,
    partition,
    progress_root,
    read_root,
    run_case,
    wait_for,
)

CASE = "snapshot_durable"
MESSAGES = 10_000
DAG_FILE = "tests/dags/octopods_snapshot_cases.py"


def piece_ids(folder: Path) -> list[int]:
    ids: list[int] = []
    for piece in files_under(folder):
        ids += pq.read_table(piece, columns=["message_id"]).column("message_id").to_pylist()
    return ids


def kill_once_pieces_exist(root: Path, emulator: Emulator, ids: list[int], pieces: int) -> list[int]:
    """Run the case in ``airflow dags test``, SIGKILL it once ``pieces`` pieces are published;
    return the ids the pieces hold."""
    ids_file = root / "ids.csv"
    ids_file.write_text("message_id\n" + "".join(f"{m}\n" for m in ids))
    emulator.set_latency(0.05)  # slow enough to be killed mid-fetch

    def enough() -> bool | None:
        return True if len(files_under(progress_root(root))) >= pieces else None

    with killed_when_done(CASE, emulator, path=f"file://{ids_file}") as killed:
        wait_for(f"{pieces} pieces", enough, killed, 240)
    # Requests the killed try sent are answered, and logged, after their latency: let them land
    # (nothing in flight, the log still for 0.2 s) before the caller counts the next try's.
    deadline, seen, still_since = time.monotonic() + 30, -1, time.monotonic()
    while time.monotonic() - still_since < 0.2 or emulator.state.in_flight:
        assert time.monotonic() < deadline, "the killed try's requests still arriving after 30 s"
        if len(emulator.requests()) != seen:
            seen, still_since = len(emulator.requests()), time.monotonic()
        time.sleep(0.01)
    done = piece_ids(progress_root(root))
    assert len(done) >= pieces * 500 and len(done) < MESSAGES
    assert len(set(done)) == len(done)
    assert not partition(root, CASE).exists()  # nothing under the root while it fetched
    return done


def requested(emulator: Emulator) -> list[int]:
    return [r.message_id for r in emulator.requests()]


def test_a_retry_after_a_killed_worker_fetches_only_what_is_missing(root: Path, emulator: Emulator) -> None:
    ids = emulator.add_messages(MESSAGES, deliver_after=0)
    done = kill_once_pieces_exist(root, emulator, ids, pieces=4)
    emulator.reset_requests()

    ti = next_try_after(load_dag(CASE, file=DAG_FILE), "snapshot", "worker died")
    assert ti.state == "success" and ti.try_number == 2

    assert sorted(requested(emulator)) == sorted(set(ids) - set(done))  # one request per missing id
    summary = task_xcom(ti, "snapshot")
    assert summary["resumed_rows"] == len(done)
    assert summary["requests"] == MESSAGES - len(done)
    assert summary["rows"] == MESSAGES and summary["rows_by_status"] == {"delivered": MESSAGES}
    expected = [("2026-11-26", MESSAGES, MESSAGES)]  # each id exactly once
    assert read_root(root / CASE) == dict.fromkeys(("pyarrow", "duckdb", "polars"), expected)
    assert [p.relative_to(root) for p in files_under(root / CASE)] == [
        Path(CASE, "snapshot_date=2026-11-26", "part-00000.parquet")
    ]
    assert files_under(progress_root(root)) == []


@pytest.mark.parametrize("how", ["cleared", "new run"])
def test_a_cleared_task_or_a_new_run_does_not_reuse_pieces(root: Path, emulator: Emulator, how: str) -> None:
    ids = emulator.add_messages(MESSAGES, deliver_after=0)
    kill_once_pieces_exist(root, emulator, ids, pieces=2)
    emulator.reset_requests()

    killed_run = files_under(progress_root(root))
    dag = load_dag(CASE, file=DAG_FILE)
    if how == "cleared":
        ti = next_try_after(dag, "snapshot", "cleared")
        assert ti.state == "success"
        dag_run = ti
    else:  # the same logical date again: airflow dags test replaces the run
        dag_run = run_case(CASE, path=f"file://{root / 'ids.csv'}")
        assert dag_run.state == "success"

    assert sorted(requested(emulator)) == sorted(ids)  # every id again: nothing reused
    assert task_xcom(dag_run, "snapshot")["resumed_rows"] == 0
    assert read_root(root / CASE)["polars"] == [("2026-11-26", MESSAGES, MESSAGES)]
    # A clear removes the earlier sequence's pieces. A new run may have a run id of its own
    # (airflow dags test names it after the time it starts): the killed run's folder is then
    # another one, left as it was, never read.
    left = files_under(progress_root(root))
    assert left == [] if how == "cleared" else set(left) <= set(killed_run)
