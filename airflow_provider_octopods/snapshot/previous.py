"""What an incremental snapshot keeps of the previous one: the rows not due for a request; and
which rows of a table of current statuses are due (``due_rows``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from airflow_provider_octopods.snapshot.refresh import RefreshPolicy


def carried_forward(previous: pa.Table, policy: RefreshPolicy, now: datetime) -> pa.Table:
    """The latest row per message of ``previous`` that ``policy`` does not make due at ``now``,
    exactly as it was (its ``fetched_at`` included, so a reader sees how old each row is)."""
    order = pc.sort_indices(previous, [("message_id", "ascending"), ("fetched_at", "descending")])
    latest = previous.take(order)
    ids = latest.column("message_id").to_numpy()
    first = np.ones(len(ids), dtype=bool)
    first[1:] = ids[1:] != ids[:-1]
    latest = latest.filter(pa.array(first))
    return latest.filter(pa.array(~due_rows(latest, policy, now)))


def due_rows(rows: pa.Table, policy: RefreshPolicy, now: datetime) -> np.ndarray[Any, Any]:
    """Which of ``rows`` (one per message: ``status``, ``error_code``, ``sent_at``,
    ``fetched_at``) ``policy`` makes due for a request at ``now``."""
    return policy.due(
        rows.column("status").to_numpy(zero_copy_only=False),
        rows.column("error_code").is_valid().to_numpy(zero_copy_only=False),
        _as_us(rows.column("sent_at")),
        _as_us(rows.column("fetched_at")),
        now,
    )


def _as_us(column: pa.ChunkedArray) -> np.ndarray[Any, Any]:
    values: np.ndarray[Any, Any] = column.cast(pa.timestamp("us", tz="UTC")).to_numpy(zero_copy_only=False)
    return values.astype("datetime64[us]")
