"""Publishing a snapshot run's Parquet part, with no DAG run: the rows carried forward and
fetched, the partition left its part alone, the summary, and the error ratio checked once the
part is written (or nothing written, and an earlier part removed, when there are no ids)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from airflow.sdk.exceptions import AirflowException

from airflow_provider_octopods.emulator import Emulator
from airflow_provider_octopods.errors import InvalidMessageReference
from airflow_provider_octopods.parquet.schema import snapshot_schema
from airflow_provider_octopods.snapshot.plan import plan_snapshot
from airflow_provider_octopods.snapshot.publish import ParquetPartPublisher, RunResult
from tests.snapshot_cases import FOLDER, Lines, job, options, published, statuses


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
