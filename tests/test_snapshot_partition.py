"""What an instance of a snapshot task may remove from its partition: on a local filesystem and
on an object store (fsspec's memory store; the operator end to end through ObjectStoragePath)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airflow_provider_octopods.emulator import Emulator
from airflow_provider_octopods.snapshot import partition
from tests.folder_cases import _put, filesystem_folder
from tests.snapshots import run_case


@pytest.fixture(params=["local", "object store"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Any, str]]:
    """A filesystem and a folder on it."""
    yield from filesystem_folder(request.param, tmp_path)


def _names(fs: Any, folder: str) -> list[str]:
    return sorted(p.rsplit("/", 1)[-1] for p in fs.ls(folder, detail=False))


def test_an_instance_removes_stale_parts_and_never_a_siblings(store: tuple[Any, str]) -> None:
    fs, folder = store
    folder += "/snapshot_date=2026-11-26"
    names = [
        "part-00000.parquet",  # this instance's (0 of 2), from an earlier run
        ".part-00000.parquet.tmp-0a",  # left by a killed earlier try of this part
        "part-00001.parquet",  # the sibling's
        ".part-00001.parquet.tmp-1b",  # the sibling, writing right now
        "part-00002.parquet",  # an earlier run with three or more shards
        ".part-00003.parquet.tmp-3c",  # ... killed in its fourth shard
        "part-00003.parquet",
        "notes.txt",  # not the snapshot's: never touched
        "part-0.parquet",
    ]
    for name in names:
        _put(fs, f"{folder}/{name}", b"x")

    assert _names(fs, folder) == sorted(names)
    assert [p.rsplit("/", 1)[-1] for p in partition.clear_leftovers(fs, folder, 0)] == [
        ".part-00000.parquet.tmp-0a"
    ]
    partition.remove_stale(fs, folder, 0, 2, wrote=True)
    kept = ["part-00000.parquet", "part-00001.parquet", ".part-00001.parquet.tmp-1b", "notes.txt"]
    assert _names(fs, folder) == sorted([*kept, "part-0.parquet"])
    partition.remove_stale(fs, folder, 1, 2, wrote=True)  # the sibling, after: nothing left to do
    partition.remove_stale(fs, folder, 0, 2, wrote=False)  # no part of its own this time
    assert _names(fs, folder) == sorted(
        ["part-00001.parquet", ".part-00001.parquet.tmp-1b", "notes.txt", "part-0.parquet"]
    )
    assert partition.remove_stale(fs, f"{folder}/missing", 0, 1, wrote=False) == []


def test_the_operator_on_an_object_store(
    root: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Re-sharding through ObjectStoragePath on a store that is not a local filesystem."""
    from airflow.sdk.io.store import attach

    fs = fsspec.filesystem("memory")
    attach(protocol="memory", fs=fs)
    monkeypatch.setenv("OCTOPODS_TEST_SNAPSHOT_ROOT", "memory://bucket/snapshots")
    folder = "/bucket/snapshots/snapshot_mapped/snapshot_date=2026-11-26"
    ids = emulator.add_messages(60, deliver_after=0)
    try:
        assert run_case("snapshot_mapped", messages=ids, shards=3).state == "success"
        assert _names(fs, folder) == [partition.part_name(i) for i in range(3)]
        assert run_case("snapshot_mapped", messages=ids, shards=2).state == "success"
        assert _names(fs, folder) == [partition.part_name(i) for i in range(2)]
        table = pa.concat_tables(
            pq.read_table(io.BytesIO(fs.cat_file(p))) for p in fs.ls(folder, detail=False)
        )
        assert sorted(table.column("message_id").to_pylist()) == ids
    finally:
        fs.rm("/bucket", recursive=True)
