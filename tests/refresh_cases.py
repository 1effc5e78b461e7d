"""Rows held, as a refresh policy reads them, built from short descriptions."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa

from airflow_provider_octopods.parquet.schema import snapshot_schema
from airflow_provider_octopods.refresh.rows import Rows

NOW = datetime(2026, 11, 27, tzinfo=UTC)
NAT = np.datetime64("NaT", "us")

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


def at(ages: np.ndarray, sent: np.ndarray) -> np.ndarray:
    """Moments ``ages`` seconds after ``sent`` (``NaT`` where the age is ``nan``)."""
    micros = np.where(np.isnan(ages), 0, ages * 1e6).astype(np.int64).astype("timedelta64[us]")
    return np.where(np.isnan(ages), NAT, sent + micros)


def delivered_rows(read_after: np.ndarray, fetched_after: np.ndarray, seed: int = 0) -> Rows:
    """Rows delivered 5 s after the send, read ``read_after`` seconds after it (``inf``: never),
    each last fetched ``fetched_after`` seconds after the send."""
    count = len(read_after)
    sent = np.datetime64(NOW.replace(tzinfo=None), "us") - (np.arange(count) % 1000).astype("timedelta64[s]")
    read_seen = np.where(read_after <= fetched_after, read_after, np.nan)
    return Rows(
        message_id=np.arange(count, dtype=np.int64),
        status=np.where(np.isnan(read_seen), "delivered", "read").astype(object),
        error=np.zeros(count, dtype=bool),
        sent_at=sent,
        delivered_at=at(np.full(count, 5.0), sent),
        read_at=at(read_seen, sent),
        fetched_at=at(fetched_after, sent),
    )
