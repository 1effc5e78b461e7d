"""The steps of a snapshot run, each on its own and with no DAG run: the plan (inputs, rows
carried forward, rows an earlier try fetched), the fetch into the checkpoint against the
emulator (and its stop, as on SIGTERM), and the Parquet part the publisher writes."""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from airflow.sdk import ObjectStoragePath
from airflow.sdk.exceptions import AirflowException

from airflow_provider_octopods.clients.async_client import AsyncOctopodsClient
from airflow_provider_octopods.emulator import Emulator
from airflow_provider_octopods.errors import InvalidMessageReference
from airflow_provider_octopods.parquet.schema import RowBuffer, snapshot_schema
from airflow_provider_octopods.snapshot.checkpoint import Progress
from airflow_provider_octopods.snapshot.fetch import Connect, Stop, fetch_snapshot
from airflow_provider_octopods.snapshot.plan import Job, Plan, Slot, SnapshotOptions, plan_snapshot
from airflow_provider_octopods.snapshot.publish import ParquetPartPublisher, RunResult
from airflow_provider_octopods.snapshot.refresh import RefreshPolicy
from airflow_provider_octopods.status import MessageStatus
from tests.conftest import settings_for

SEQUENCE = "a" * 16
FOLDER = "snapshot+run+task+-1"
PARAMETERS: dict[str, Any] = {
    "max_requests_per_second": 5000,
    "max_concurrency": 32,
    "strict": False,
    "max_error_ratio": 0.01,
    "incremental": False,
    "refresh_policy": None,
    "full_refresh": False,
    "write_empty_file": True,
    "timestamp_unit": "us",
    "compression": "zstd",
    "row_group_rows": 1000,
    "progress_path": None,
    "checkpoint_rows": 2000,
    "checkpoint_seconds": 60.0,
}


class Lines:
    """A log that keeps its lines, formatted."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def info(self, event: Any, *args: Any, **kw: Any) -> None:
        self.lines.append(event % args if args else event)

    warning = info


def options(root: Path, **changes: Any) -> SnapshotOptions:
    return SnapshotOptions.from_parameters(f"file://{root}/statuses/{{{{ ds }}}}/", {**PARAMETERS, **changes})


def job(
    root: Path,
    ids: list[Any],
    *,
    previous: str | None = None,
    index: int = 0,
    shards: int = 1,
    try_number: int = 1,
) -> Job:
    return Job(
        output_path=f"file://{root}/statuses/day=1/",
        message_ids=ids,
        message_ids_path=None,
        base_url="https://app.octopods.io",
        requests_per_second=10.0,
        previous_path=lambda: previous,
        slot=Slot(index, shards, FOLDER, SEQUENCE, try_number),
    )


def connect_to(emulator: Emulator) -> Connect:
    return functools.partial(AsyncOctopodsClient, settings_for(emulator))


def statuses(ids: list[int], status: str, **fields: Any) -> pa.RecordBatch:
    buffer = RowBuffer()
    for message_id in ids:
        buffer.add_status(MessageStatus(message_id=message_id, status=status, **fields), datetime.now(UTC))
    return buffer.take()


def checkpoint_of(root: Path, sequence: str = SEQUENCE) -> Progress:
    """The checkpoint of the test's task instance, as a try of ``sequence`` opens it."""
    return Progress(ObjectStoragePath(options(root).progress_path) / FOLDER, sequence, 1, snapshot_schema())


def published(plan: Plan, emulator: Emulator, log: Lines) -> RunResult:
    return ParquetPartPublisher().publish(plan, fetch_snapshot(plan, connect_to(emulator), Stop(), log), log)


def test_the_plan_carries_rows_forward_and_resumes_what_an_earlier_try_fetched(tmp_path: Path) -> None:
    previous = tmp_path / "previous.parquet"
    # Read rows are final: carried as they are. A sent row with no send time is due again.
    batches = [statuses([1, 2, 3], "read"), statuses([4], "sent")]
    pq.write_table(pa.Table.from_batches(batches), previous)
    checkpoint_of(tmp_path).write(statuses([5, 6], "delivered"))  # an earlier try of this sequence
    checkpoint_of(tmp_path, "b" * 16).write(statuses([7], "delivered"))  # of a run since cleared
    log = Lines()
    given = [*range(1, 11), "abc", 3]
    plan = plan_snapshot(
        job(tmp_path, given, previous=str(previous), index=1, shards=2, try_number=2), options(tmp_path), log
    )
    assert plan.writes and plan.carried is not None
    assert plan.carried.column("message_id").to_pylist() == [1, 2, 3]
    assert plan.to_fetch.tolist() == [4, 5, 6, 7, 8, 9, 10]
    assert plan.resumed.tolist() == [5, 6]
    assert plan.requests.tolist() == [4, 7, 8, 9, 10]
    assert plan.target.name == "part-00001.parquet" and plan.rate == 2500
    assert (plan.given.received, plan.given.invalid, plan.given.duplicates) == (12, 1, 1)
    warning, removed, start = log.lines
    assert warning == (
        "1 of 12 input(s) are not message ids, e.g. 'abc'; they get no row and count as errors "
        "towards max_error_ratio"
    )
    assert removed.startswith("Removed progress of an earlier run or try sequence: [") and "b" * 16 in removed
    assert start.startswith(
        f"Snapshot of 10 message(s) to {plan.target}: 3 carried forward, 2 fetched by earlier tries, 5 to "
        "fetch at 2500 requests/s (the budget split over 2 mapped instances): at least "
    )


def test_strict_refuses_inputs_that_are_not_ids_before_anything_is_written(tmp_path: Path) -> None:
    with pytest.raises(InvalidMessageReference, match=r"nothing was fetched \(strict=True\)$"):
        plan_snapshot(job(tmp_path, [1, "abc"]), options(tmp_path, strict=True), Lines())
    assert not (tmp_path / "statuses").exists()


def test_no_ids_and_no_empty_file_write_nothing_and_remove_an_earlier_part(tmp_path: Path) -> None:
    out = tmp_path / "statuses" / "day=1"
    out.mkdir(parents=True)
    (out / "part-00000.parquet").write_bytes(b"an earlier run's part")
    log = Lines()
    plan = plan_snapshot(job(tmp_path, []), options(tmp_path, write_empty_file=False), log)
    assert not plan.writes
    assert not (tmp_path / ".statuses.octopods-progress").exists()  # no folder made for nothing

    result = ParquetPartPublisher().publish_nothing(plan, log)
    assert list(out.iterdir()) == []
    assert result.summary == {
        "output_paths": [],
        "inputs": 0,
        "duplicates": 0,
        "invalid_inputs": 0,
        "invalid_samples": [],
        "rows": 0,
        "seconds": result.seconds,
    }
    assert log.lines == [
        "No message ids: nothing written (write_empty_file=False)",
        f"Removed parts of an earlier run this run does not replace: ['{out / 'part-00000.parquet'}']",
    ]
    result.check_error_ratio()  # no row and no input: nothing to fail on


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


@pytest.fixture
def publish_run(tmp_path: Path, emulator: Emulator) -> tuple[list[int], list[int], RunResult, Lines]:
    """A run carrying 5 read rows forward and fetching 20, into a partition where a killed try
    left a temporary file and a run with more shards a part: the ids carried, those fetched,
    the result and the log."""
    carried, fetched = emulator.add_messages(5, read_after=0), emulator.add_messages(20, deliver_after=0)
    previous = tmp_path / "previous.parquet"
    pq.write_table(pa.Table.from_batches([statuses(carried, "read", phone_number="carried")]), previous)
    out = tmp_path / "statuses" / "day=1"
    out.mkdir(parents=True)
    (out / ".part-00000.parquet.tmp-0a1b").write_bytes(b"a killed try's")
    (out / "part-00002.parquet").write_bytes(b"a run with more shards'")
    log = Lines()
    plan = plan_snapshot(job(tmp_path, [*carried, *fetched], previous=str(previous)), options(tmp_path), log)
    return carried, fetched, published(plan, emulator, log), log


def test_the_part_holds_the_carried_rows_as_they_were_and_the_fetched_ones(
    publish_run: tuple[list[int], list[int], RunResult, Lines], emulator: Emulator
) -> None:
    carried, fetched, result, _ = publish_run
    table = pq.read_table(result.output_paths[0].removeprefix("file://"))
    assert table.schema.equals(snapshot_schema(), check_metadata=False)
    rows = {r["message_id"]: r for r in table.to_pylist()}
    assert sorted(rows) == sorted([*carried, *fetched])
    assert all(rows[m]["phone_number"] == "carried" and rows[m]["status"] == "read" for m in carried)
    assert all(rows[m]["status"] == "delivered" for m in fetched)
    assert len(emulator.requests()) == 20  # none for the carried rows


def test_publish_counts_the_rows_and_leaves_the_partition_its_part_alone(
    publish_run: tuple[list[int], list[int], RunResult, Lines], tmp_path: Path
) -> None:
    _, _, result, log = publish_run
    out = tmp_path / "statuses" / "day=1"
    assert [p.name for p in out.iterdir()] == ["part-00000.parquet"]
    assert not (tmp_path / ".statuses.octopods-progress" / FOLDER).exists()
    assert result.summary == {
        "output_paths": [f"file://{out / 'part-00000.parquet'}"],
        "inputs": 25,
        "duplicates": 0,
        "invalid_inputs": 0,
        "invalid_samples": [],
        "rows": 25,
        "rows_by_status": {"read": 5, "delivered": 20},
        "error_rows": 0,
        "carried_forward": 5,
        "resumed_rows": 0,
        "requests": 20,
        "rate_limited": 0,
        "seconds": result.seconds,
    }
    leftover, stale = out / ".part-00000.parquet.tmp-0a1b", out / "part-00002.parquet"
    assert f"Removed what earlier, killed tries of this part left: ['{leftover}']" in log.lines
    assert f"Removed parts of an earlier run this run does not replace: ['{stale}']" in log.lines
    result.check_error_ratio()


def test_error_rows_past_the_ratio_fail_the_run_once_its_part_is_written(
    tmp_path: Path, emulator: Emulator
) -> None:
    ids = emulator.add_messages(3, deliver_after=0)
    plan = plan_snapshot(job(tmp_path, [*ids, 999_999_999]), options(tmp_path), Lines())
    result = published(plan, emulator, Lines())
    with pytest.raises(AirflowException) as failed:
        result.check_error_ratio()
    assert type(failed.value) is AirflowException  # retried: the errors may pass
    text = str(failed.value)
    assert text.startswith("1 of 4 rows are errors: ")
    assert text.endswith(
        f"That is 1 of 4, more than max_error_ratio=0.01; the file was written: {result.output_paths[0]}"
    )
    assert pq.read_table(result.output_paths[0].removeprefix("file://")).num_rows == 4


def test_invalid_inputs_past_the_ratio_fail_without_retries(tmp_path: Path, emulator: Emulator) -> None:
    ids = emulator.add_messages(1, deliver_after=0)
    plan = plan_snapshot(job(tmp_path, [*ids, "abc"]), options(tmp_path), Lines())
    result = published(plan, emulator, Lines())
    with pytest.raises(InvalidMessageReference) as failed:
        result.check_error_ratio()
    assert str(failed.value) == (
        "1 of 2 inputs are not message ids (e.g. 'abc'). That is 1 of 2, more than "
        f"max_error_ratio=0.01; the file was written: {result.output_paths[0]}"
    )


def test_the_options_default_what_the_operator_leaves_unset(tmp_path: Path) -> None:
    chosen = options(tmp_path, unrelated="ignored")
    assert chosen.output_root == f"file://{tmp_path}/statuses/"
    assert chosen.progress_path == f"file://{tmp_path}/.statuses.octopods-progress/"
    assert chosen.refresh_policy == RefreshPolicy()
    with pytest.raises(ValueError, match="under the output root"):
        options(tmp_path, progress_path=f"file://{tmp_path}/statuses/.progress/")
    with pytest.raises(ValueError, match="timestamp unit must be one of"):
        options(tmp_path, timestamp_unit="ns")
