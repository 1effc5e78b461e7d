"""Rows held, as a refresh policy reads them, built from short descriptions."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import pyarrow as pa

from airflow_provider_octopods.parquet.schema import snapshot_schema
from airflow_provider_octopods.refresh.rows import Rows

# (status, an error row?, sent_at, fetched_at)
Short = tuple[str | None, bool, datetime | None, datetime | None]


def rows_of(dicts: Iterable[dict[str, Any]]) -> Rows:
    """``Rows`` from snapshot rows given as dicts (missing columns null; ids 1, 2, ...)."""
    listed = [{"message_id": i, **row} for i, row in enumerate(dicts, start=1)]
    return Rows.from_arrow(pa.Table.from_pylist(listed, schema=snapshot_schema("us")))


def short_rows(rows: Iterable[Short]) -> Rows:
    return rows_of(
        {"status": status, "error_code": 500 if error else None, "sent_at": sent, "fetched_at": fetched}
        for status, error, sent, fetched in rows
    )
