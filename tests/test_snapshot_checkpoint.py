"""The progress area of durable snapshots: where it is, how a task instance's folder and try
sequence are named, when a piece is due, and what a try keeps or removes, on a local
filesystem and an object store (fsspec's memory store through ObjectStoragePath)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import fsspec
import numpy as np
import pytest
from airflow.sdk import ObjectStoragePath
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_octopods.operators.message_status import MessageStatusToParquetOperator
from airflow_provider_octopods.parquet.schema import RowBuffer
from airflow_provider_octopods.snapshot.checkpoint import (
    Progress,
    default_progress_path,
    folder_name,
    sequence_of,
)
from airflow_provider_octopods.status import MessageStatus


@pytest.mark.parametrize(
    ("root", "progress"),
    [
        ("s3://lake/statuses/", "s3://lake/.statuses.octopods-progress/"),
        ("s3://lake/bi/statuses/", "s3://lake/bi/.statuses.octopods-progress/"),
        ("file:///data/statuses/", "file:///data/.statuses.octopods-progress/"),
        ("/data/statuses/", "/data/.statuses.octopods-progress/"),
        ("statuses/", ".statuses.octopods-progress/"),
    ],
)
def test_the_progress_area_is_beside_the_root(root: str, progress: str) -> None:
    assert default_progress_path(root) == progress


def test_a_root_at_the_top_of_a_bucket_keeps_its_progress_on_the_worker() -> None:
    one, other = default_progress_path("s3://lake/"), default_progress_path("gs://lake/")
    assert one.startswith("/") and ".octopods-progress" in one and one != other


def test_a_progress_path_under_the_root_is_refused() -> None:
    with pytest.raises(ValueError, match="under the output root"):
        MessageStatusToParquetOperator(
            task_id="t",
            message_ids=[1],
            output_path="s3://lake/statuses/{{ ds }}/",
            progress_path="s3://lake/statuses/.progress/",
        )


def test_a_task_instance_folder_name_is_one_safe_name() -> None:
    name = folder_name("daily/snapshot", "scheduled__2026-11-26T00:00:00+00:00", "snap+shot", 3)
    assert "/" not in name and name.count("+") == 3 and name.endswith("+3")
    long = folder_name("d" * 250, "r" * 250, "t", -1)
    assert len(long) == 200 and long != folder_name("d" * 250, "r" * 249 + "s", "t", -1)


def test_a_clear_or_a_new_run_is_another_sequence_and_a_retry_is_not() -> None:
    start = datetime(2026, 11, 26, tzinfo=UTC)
    run = SimpleNamespace(run_after=start, start_date=start, clear_number=0)
    ti = SimpleNamespace(max_tries=2, try_number=1)
    first = sequence_of(ti, run)
    assert sequence_of(SimpleNamespace(max_tries=2, try_number=2), run) == first  # a retry
    assert sequence_of(SimpleNamespace(max_tries=4, try_number=2), run) != first  # cleared: max_tries up
    assert sequence_of(ti, SimpleNamespace(run_after=start, start_date=start, clear_number=1)) != first
    later = datetime(2026, 11, 27, tzinfo=UTC)
    assert sequence_of(ti, SimpleNamespace(run_after=later, start_date=start, clear_number=0)) != first
    assert sequence_of(ti, SimpleNamespace(run_after=start, start_date=later, clear_number=0)) != first


def test_a_piece_is_due_after_its_rows_or_its_seconds() -> None:
    now = [0.0]
    progress = Progress(
        ObjectStoragePath("memory:///p/"),
        "a" * 16,
        1,
        RowBuffer().schema,
        rows=3,
        seconds=10,
        clock=lambda: now[0],
    )
    assert not progress.due(2) and progress.due(3)
    now[0] = 10.0
    assert progress.due(1) and not progress.due(0)  # nothing to commit


@pytest.fixture(params=["local", "object store"])
def folder(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ObjectStoragePath]:
    if request.param == "local":
        yield ObjectStoragePath(f"file://{tmp_path}/progress/ti")
        return
    from airflow.sdk.io.store import attach

    fs = fsspec.filesystem("memory")
    attach(protocol="memory", fs=fs)
    yield ObjectStoragePath("memory://bucket/.statuses.octopods-progress/ti")
    fs.rm("/bucket", recursive=True)


def _rows(ids: Iterable[int]) -> RowBuffer:
    buffer = RowBuffer()
    for i in ids:
        buffer.add_status(MessageStatus(message_id=i, status="delivered"), datetime.now(UTC))
    return buffer


def test_a_try_keeps_its_sequence_pieces_and_removes_the_rest(folder: ObjectStoragePath) -> None:
    schema = RowBuffer().schema
    earlier = Progress(folder, "0" * 16, 1, schema)  # a sequence a clear ended
    earlier.write(_rows(range(1, 4)).take())
    killed = Progress(folder, "f" * 16, 1, schema)
    killed.write(_rows(range(10, 13)).take())
    killed.write(_rows(range(13, 15)).take())
    folder.fs.pipe_file(f"{folder.path}/.piece-{'f' * 16}-001-000003.parquet.tmp-9a", b"half")
    folder.fs.pipe_file(f"{folder.path}/notes.txt", b"not ours")

    retry = Progress(folder, "f" * 16, 2, schema)
    removed = retry.discard_others()
    assert sorted(Path(p).name for p in removed) == [
        f".piece-{'f' * 16}-001-000003.parquet.tmp-9a",
        f"piece-{'0' * 16}-001-000001.parquet",
    ]
    assert sorted(retry.done_ids().tolist()) == [10, 11, 12, 13, 14]
    retry.write(_rows(range(15, 17)).take())
    kept = [b for b in retry.batches(np.array([10, 11, 13, 14, 15, 16]), 2)]
    assert sorted(i for b in kept for i in b.column("message_id").to_pylist()) == [10, 11, 13, 14, 15, 16]
    retry.remove()
    assert not folder.exists()


@given(
    pieces=st.lists(st.lists(st.integers(1, 60), min_size=1, max_size=8, unique=True), max_size=4),
    wanted=st.lists(st.integers(0, 70), max_size=30),
)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_the_part_takes_exactly_the_piece_rows_still_wanted(
    tmp_path: Path, pieces: list[list[int]], wanted: list[int]
) -> None:
    # Any order, duplicates, ids below, between and above the pieces' ids, or none at all.
    progress = Progress(
        ObjectStoragePath(f"file://{tmp_path}/{uuid.uuid4().hex}"), "0" * 16, 1, RowBuffer().schema
    )
    for ids in pieces:
        progress.write(_rows(ids).take())
    batches = progress.batches(np.array(wanted, dtype=np.int64), 3)
    kept = [i for batch in batches for i in batch.column("message_id").to_pylist()]
    assert sorted(kept) == sorted(i for ids in pieces for i in ids if i in wanted)
