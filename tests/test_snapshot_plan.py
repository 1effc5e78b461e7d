"""Planning a snapshot run, with no DAG run: the inputs, rows carried forward, rows an earlier
try fetched, the target and the rate; strict inputs refused before anything is written; the
options defaulted from what the operator leaves unset."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airflow_provider_octopods.errors import InvalidMessageReference
from airflow_provider_octopods.refresh import LearnedRefresh
from airflow_provider_octopods.snapshot.plan import plan_snapshot
from tests.snapshot_cases import Lines, checkpoint_of, job, options, statuses


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
    warning, removed, refresh, start = log.lines
    assert (
        refresh.startswith("Refresh: learned refresh: target 0.99 of rows exact") and "fixed rule" in refresh
    )
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


def test_the_options_default_what_the_operator_leaves_unset(tmp_path: Path) -> None:
    chosen = options(tmp_path, unrelated="ignored")
    assert chosen.output_root == f"file://{tmp_path}/statuses/"
    assert chosen.progress_path == f"file://{tmp_path}/.statuses.octopods-progress/"
    assert chosen.refresh_policy == LearnedRefresh()
    with pytest.raises(ValueError, match="under the output root"):
        options(tmp_path, progress_path=f"file://{tmp_path}/statuses/.progress/")
    with pytest.raises(ValueError, match="timestamp unit must be one of"):
        options(tmp_path, timestamp_unit="ns")
