"""What an incremental snapshot keeps of the previous one: the rows not due for a request; and
which rows of a table of current statuses are due (``due_rows``), and which come due together
(``due_together``)."""

from __future__ import annotations

from collections.abc import Callable
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


def due_together(policy: RefreshPolicy, shards: int) -> Callable[[pa.Table], np.ndarray[Any, Any]]:
    """A key per row: the day ``policy`` makes it due again, and the mapped instance (of
    ``shards``) that will fetch it. Rows of a key are fetched by one run (``iceberg.merge``'s
    ``fetched_together``)."""

    def keys(rows: pa.Table) -> np.ndarray[Any, Any]:
        due = policy.next_fetch(_as_us(rows.column("sent_at")), _as_us(rows.column("fetched_at")))
        days = np.where(np.isnat(due), -1, due.astype("datetime64[D]").astype(np.int64))
        return days * shards + rows.column("message_id").to_numpy() % shards  # type: ignore[no-any-return]

    return keys


def _as_us(column: pa.ChunkedArray) -> np.ndarray[Any, Any]:
    values: np.ndarray[Any, Any] = column.cast(pa.timestamp("us", tz="UTC")).to_numpy(zero_copy_only=False)
    return values.astype("datetime64[us]")
