"""Staging a part, in both ways (an unnamed file, a named temporary one): invisible until
whole, nothing published on failure, and one put of the whole file to an object store."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fsspec
import pyarrow.parquet as pq
import pytest

from airflow_provider_octopods.parquet import staging
from airflow_provider_octopods.parquet.schema import snapshot_schema
from airflow_provider_octopods.parquet.writer import SnapshotWriter
from tests.parquet_cases import _rows


def test_a_part_is_invisible_until_whole(tmp_path: Path, staging_mode: str) -> None:
    from airflow.sdk import ObjectStoragePath

    target = ObjectStoragePath(f"file://{tmp_path}/part-00000.parquet")
    with SnapshotWriter(target, snapshot_schema(), row_group_rows=10) as writer:
        writer.write(_rows(29))
        listed = [p.name for p in tmp_path.iterdir()]
    if staging_mode == "unnamed":
        assert listed == []  # nothing any reader could list, half-written
    else:
        [temp] = listed
        assert temp.startswith(".part-00000.parquet.tmp-")
    assert [p.name for p in tmp_path.iterdir()] == ["part-00000.parquet"]
    assert pq.read_table(tmp_path / "part-00000.parquet").num_rows == 30


def test_writer_publishes_nothing_on_failure(tmp_path: Path, staging_mode: str) -> None:
    from airflow.sdk import ObjectStoragePath

    target = ObjectStoragePath(f"file://{tmp_path}/part-00000.parquet")

    def write_then_fail() -> None:
        with SnapshotWriter(target, snapshot_schema()) as writer:
            writer.write(_rows(10))
            raise RuntimeError("auth error mid-way")

    with pytest.raises(RuntimeError):
        write_then_fail()
    assert list(tmp_path.iterdir()) == []


@dataclass
class MemoryTarget:
    """An object store: publishing must be one put of a whole file."""

    path: str
    protocol: str = "memory"

    @property
    def fs(self) -> Any:
        return fsspec.filesystem("memory")


@pytest.fixture
def memory_bucket() -> Iterator[None]:
    """fsspec's memory filesystem is one per process: what a test puts in its ``/bucket`` is
    removed after it, so later tests in the same worker do not find it."""
    fs = fsspec.filesystem("memory")
    assert not fs.exists("/bucket")
    yield
    if fs.exists("/bucket"):
        fs.rm("/bucket", recursive=True)


@pytest.mark.usefixtures("memory_bucket")
def test_writer_publishes_to_an_object_store_in_one_put(
    monkeypatch: pytest.MonkeyPatch,
    staging_mode: str,
) -> None:
    fs = fsspec.filesystem("memory")
    puts: list[str] = []
    monkeypatch.setattr(
        type(fs),
        "put_file",
        lambda self, lpath, rpath, **kw: (
            puts.append(rpath) or self.pipe_file(rpath, Path(lpath).read_bytes())
        ),
    )
    target = MemoryTarget("/bucket/statuses/part-00000.parquet")
    with SnapshotWriter(target, snapshot_schema()) as writer:
        writer.write(_rows(5))
    assert puts == ["/bucket/statuses/part-00000.parquet"]
    assert pq.read_table(io.BytesIO(fs.cat_file(target.path))).num_rows == 6


def test_a_staged_name_is_recognised_as_the_file_it_becomes() -> None:
    """Leftovers of killed tries are found by this pattern: it must read what temp_name writes."""
    pattern = re.compile(staging.staged_pattern(r"part-(?P<index>\d{5})\.parquet"))
    staged = pattern.fullmatch(staging.temp_name("part-00003.parquet"))
    assert staged is not None and staged["temp"] and staged["index"] == "00003"
    published = pattern.fullmatch("part-00003.parquet")
    assert published is not None and not published["temp"]
    assert pattern.fullmatch("part-00003.parquet.tmp-0a1b") is None  # no leading dot: not ours
