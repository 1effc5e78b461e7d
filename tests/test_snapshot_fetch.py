"""Fetching a snapshot run's statuses into its checkpoint against the emulator, and its stop
(as on SIGTERM) before or during the fetch; and the collector frozen over what lived before a
fetch."""

from __future__ import annotations

import gc
from pathlib import Path

import pyarrow as pa
import pytest
from airflow.sdk.exceptions import AirflowException

from airflow_provider_octopods.emulator import Emulator
from airflow_provider_octopods.snapshot.fetch import Stop, fetch_snapshot, heap_frozen
from airflow_provider_octopods.snapshot.plan import plan_snapshot
from tests.snapshot_cases import Lines, connect_to, job, options


def test_the_fetch_commits_every_status_to_the_checkpoint(tmp_path: Path, emulator: Emulator) -> None:
    ids = emulator.add_messages(30, deliver_after=0)
    plan = plan_snapshot(job(tmp_path, ids), options(tmp_path, checkpoint_rows=10), Lines())
    fetched = fetch_snapshot(plan, connect_to(emulator), Stop(), Lines())
    assert fetched.checkpoint is plan.progress
    assert fetched.tally.requests == len(emulator.requests()) == 30
    assert sorted(fetched.checkpoint.done_ids().tolist()) == sorted(ids)
    assert len(fetched.checkpoint.pieces()) == 3


def test_a_stop_before_the_fetch_makes_no_request(tmp_path: Path, emulator: Emulator) -> None:
    ids = emulator.add_messages(5, deliver_after=0)
    plan = plan_snapshot(job(tmp_path, ids), options(tmp_path), Lines())
    stop = Stop()
    stop.request()
    with pytest.raises(AirflowException, match=r"^Stopped \(SIGTERM\) before the first request$"):
        fetch_snapshot(plan, connect_to(emulator), stop, Lines())
    assert emulator.requests() == []


def test_a_stop_mid_fetch_keeps_what_was_fetched_for_the_next_try(
    tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = emulator.add_messages(300, deliver_after=0)
    settings = options(tmp_path, checkpoint_rows=10, max_concurrency=4)
    plan = plan_snapshot(job(tmp_path, ids), settings, Lines())
    assert plan.progress is not None
    stop, commit = Stop(), plan.progress.write

    def commit_then_stop(batch: pa.RecordBatch) -> None:
        commit(batch)
        stop.request()  # as on_kill does on SIGTERM, once a piece is committed

    monkeypatch.setattr(plan.progress, "write", commit_then_stop)
    with pytest.raises(AirflowException, match=r"^Stopped \(SIGTERM\); the rows fetched so far are kept in "):
        fetch_snapshot(plan, connect_to(emulator), stop, Lines())
    kept = sorted(plan.progress.done_ids().tolist())
    assert 10 <= len(kept) < 300

    retry = plan_snapshot(job(tmp_path, ids, try_number=2), settings, Lines())
    assert retry.resumed.tolist() == kept
    assert len(retry.requests) == 300 - len(kept)


def _in_a_generation(obj: object) -> bool:
    """Whether the collector scans ``obj`` (frozen objects are in no generation)."""
    return any(o is obj for o in gc.get_objects())


def test_a_fetch_keeps_what_lived_before_it_out_of_collections_and_restores_the_collector() -> None:
    assert gc.get_freeze_count() == 0
    before: list[object] = []
    with heap_frozen():
        during: list[object] = []
        assert not _in_a_generation(before)
        assert _in_a_generation(during)
    assert gc.get_freeze_count() == 0
    assert _in_a_generation(before)


def test_a_process_that_froze_objects_itself_keeps_them_frozen() -> None:
    frozen_by_the_process: list[object] = []
    gc.freeze()
    try:
        with heap_frozen():
            pass
        assert not _in_a_generation(frozen_by_the_process)
    finally:
        gc.unfreeze()
