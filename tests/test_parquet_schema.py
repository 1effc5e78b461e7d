"""The snapshot's fixed schema, as the row buffer fills it."""

from __future__ import annotations

from datetime import UTC, datetime

from airflow_provider_octopods.parquet.schema import snapshot_schema
from tests.parquet_cases import _rows


def test_row_buffer_keeps_the_fixed_schema() -> None:
    batch = _rows(2, unit="ms")
    assert batch.schema.equals(snapshot_schema("ms"))
    rows = batch.to_pylist()
    assert rows[0]["sent_at"] == datetime(2026, 11, 26, 10, 0, 0, 123000, tzinfo=UTC)  # truncated to ms
    assert rows[2]["status"] is None and rows[2]["error_code"] == -1 and "down" in rows[2]["error"]
