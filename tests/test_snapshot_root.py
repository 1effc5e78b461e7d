"""What a snapshot's root is (the output path up to its first template), and the schema check
that refuses a partition of another schema under it: on a local filesystem and on an object
store (fsspec's memory store)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from airflow_provider_octopods.parquet.schema import snapshot_schema
from airflow_provider_octopods.snapshot.root import SchemaMismatch, check_schema, root_of
from tests.folder_cases import _put, _write_part, filesystem_folder


@pytest.fixture(params=["local", "object store"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Any, str]]:
    """A filesystem and a folder on it."""
    yield from filesystem_folder(request.param, tmp_path)


def test_a_root_refuses_another_schema(store: tuple[Any, str]) -> None:
    fs, root = store
    day = f"{root}/snapshot_date=2026-11-26"
    _write_part(fs, f"{root}/snapshot_date=2026-11-25/part-00000.parquet", snapshot_schema("ms"))
    _put(fs, f"{root}/snapshot_date=2026-11-24/.part-00000.parquet.tmp-0a", b"half")

    check_schema(fs, root, day, snapshot_schema("ms"))
    with pytest.raises(SchemaMismatch, match=r"timestamps in 'ms' \(e\.g\. .*2026-11-25/part-00000"):
        check_schema(fs, root, day, snapshot_schema("us"))
    check_schema(fs, root, f"{root}/snapshot_date=2026-11-25", snapshot_schema("us"))  # its only partition

    wider = snapshot_schema("ms").append(pa.field("campaign", pa.string()))
    with pytest.raises(SchemaMismatch, match="columns differing: campaign"):
        check_schema(fs, root, day, wider)


def test_only_partitions_as_deep_as_the_written_one_count(store: tuple[Any, str]) -> None:
    fs, root = store
    _write_part(fs, f"{root}/part-00000.parquet", snapshot_schema("ms"))  # not a partition of the table
    _write_part(fs, f"{root}/country=br/day=1/extra/part-00000.parquet", snapshot_schema("ms"))
    check_schema(fs, root, f"{root}/country=br/day=2", snapshot_schema("us"))
    _write_part(fs, f"{root}/country=ar/day=1/part-00000.parquet", snapshot_schema("ms"))
    with pytest.raises(SchemaMismatch, match="'ms'"):
        check_schema(fs, root, f"{root}/country=br/day=2", snapshot_schema("us"))


def test_the_root_is_the_path_up_to_its_first_template() -> None:
    assert root_of("s3://b/statuses/snapshot_date={{ ds }}/") == "s3://b/statuses/"
    assert root_of("s3://b/statuses/day_{{ ds }}/") == "s3://b/statuses/"
    assert root_of("/data/statuses/today/") == "/data/statuses/today/"
