"""What an incremental snapshot keeps of the previous one: the rows not due for a request."""

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
    due = policy.due(
        latest.column("status").to_numpy(zero_copy_only=False),
        latest.column("error_code").is_valid().to_numpy(zero_copy_only=False),
        _as_us(latest.column("sent_at")),
        _as_us(latest.column("fetched_at")),
        now,
    )
    return latest.filter(pa.array(~due))


def _as_us(column: pa.ChunkedArray) -> np.ndarray[Any, Any]:
    values: np.ndarray[Any, Any] = column.cast(pa.timestamp("us", tz="UTC")).to_numpy(zero_copy_only=False)
    return values.astype("datetime64[us]")
