"""The streaming writer: row groups of the set size, compressed, under either staging."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from airflow_provider_octopods.parquet.schema import snapshot_schema
from airflow_provider_octopods.parquet.writer import SnapshotWriter
from tests.parquet_cases import _rows


def test_writer_writes_row_groups_of_the_set_size(tmp_path: Path, staging_mode: str) -> None:
    from airflow.sdk import ObjectStoragePath

    target = ObjectStoragePath(f"file://{tmp_path}/part-00000.parquet")
    with SnapshotWriter(target, snapshot_schema(), row_group_rows=100) as writer:
        for _ in range(9):
            writer.write(_rows(29))  # 30 rows a batch
    meta = pq.ParquetFile(tmp_path / "part-00000.parquet").metadata
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [100, 100, 70]
    assert meta.row_group(0).column(0).compression == "ZSTD"
    assert [p.name for p in tmp_path.iterdir()] == ["part-00000.parquet"]
