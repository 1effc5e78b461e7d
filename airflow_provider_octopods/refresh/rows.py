"""What a refresh policy reads of the rows held, one per message: numpy columns, ages in seconds.

Timestamps are ``datetime64[us]`` in UTC with ``NaT`` where missing; an age is the seconds from
``sent_at`` to a moment, ``nan`` where either is missing. Hostile values stay rows: a
timestamp before ``sent_at`` counts as age 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa

from airflow_provider_octopods.status import TERMINAL_STATUSES

Column = np.ndarray[Any, Any]
COLUMNS = ("message_id", "status", "error_code", "sent_at", "delivered_at", "read_at", "fetched_at")


@dataclass(frozen=True)
class Rows:
    message_id: Column  # int64
    status: Column  # object: str or None
    error: Column  # bool: an error row (no status was read)
    sent_at: Column
    delivered_at: Column
    read_at: Column
    fetched_at: Column

    @classmethod
    def from_arrow(cls, table: pa.Table) -> Rows:
        """The ``COLUMNS`` of a snapshot's or table's rows."""
        return cls(
            message_id=table.column("message_id").to_numpy(),
            status=table.column("status").to_numpy(zero_copy_only=False),
            error=table.column("error_code").is_valid().to_numpy(zero_copy_only=False),
            **{name: _as_us(table.column(name)) for name in COLUMNS[3:]},
        )

    def __len__(self) -> int:
        return len(self.message_id)

    def age(self, at: Column | np.datetime64) -> Column:
        """Seconds from ``sent_at`` to ``at`` (a column or one ``datetime64``), at least 0."""
        elapsed: Column = at - self.sent_at
        seconds = elapsed / np.timedelta64(1, "s")
        return np.maximum(seconds.astype(np.float64), 0.0)

    def terminal(self) -> Column:
        return np.isin(self.status, list(TERMINAL_STATUSES))

    def unknown_age(self) -> Column:
        return np.isnat(self.sent_at) | np.isnat(self.fetched_at)


def moment(at: datetime) -> np.datetime64:
    """``at`` as the columns hold it: UTC, naive (numpy has no zone; a naive ``at`` is UTC)."""
    offset = at.utcoffset() or timedelta(0)
    return np.datetime64((at - offset).replace(tzinfo=None), "us")


def _as_us(column: pa.ChunkedArray) -> Column:
    values: Column = column.cast(pa.timestamp("us", tz="UTC")).to_numpy(zero_copy_only=False)
    return values.astype("datetime64[us]")
