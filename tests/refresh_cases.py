"""Rows held, as a refresh policy reads them, built from short descriptions."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa
from hypothesis import strategies as st

from airflow_provider_octopods.parquet.schema import snapshot_schema
from airflow_provider_octopods.refresh.rows import Rows

NOW = datetime(2026, 11, 27, tzinfo=UTC)
NAT = np.datetime64("NaT", "us")

# The example sender: a third of the reads come a day later; from day 14, later still.
SLOW_READERS: dict[str, Any] = {
    "name": "slow readers",
    "outcomes": {"delivered": 0.92, "failed": 0.06, "never_confirmed": 0.02},
    "deliver_delay_s": {"lognormal": {"median": 4, "sigma": 1.0}},
    "fail_delay_s": {"exponential": {"mean": 60}},
    "read_share_of_delivered": 0.55,
    "read_delay_s": {
        "mixture": [
            {"weight": 0.7, "lognormal": {"median": 600, "sigma": 1.5}},
            {"weight": 0.3, "lognormal": {"median": 86400, "sigma": 1.0}},
        ]
    },
    "delivery_unreported_share_of_read": 0.0,
    "shift": {"from_day": 14, "read_delay_factor": 3.0, "read_share_of_delivered": 0.3},
}

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


def delivered_rows(read_after: np.ndarray, fetched_after: np.ndarray, sent: np.ndarray | None = None) -> Rows:
    """Rows delivered 5 s after the send, read ``read_after`` seconds after it (``inf``: never),
    each last fetched ``fetched_after`` seconds after the send (``sent``: by default in the
    1,000 seconds before ``NOW``)."""
    count = len(read_after)
    if sent is None:
        sent = np.datetime64(NOW.replace(tzinfo=None), "us") - (np.arange(count) % 1000).astype(
            "timedelta64[s]"
        )
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


# Hostile rows: (status, an error row?, then sent_at, delivered_at, read_at, fetched_at as
# seconds from a base moment, ``None`` for missing; times before the send or after now too).
HOSTILE = st.lists(
    st.tuples(
        st.sampled_from(["sent", "delivered", "read", "failed", "queued", None]),
        st.booleans(),
        *[st.one_of(st.none(), st.floats(-3e7, 3e7, allow_nan=False)) for _ in range(4)],
    ),
    max_size=40,
)


def hostile_rows(rows: list[tuple[Any, ...]], base: np.datetime64) -> Rows:
    """``Rows`` of ``HOSTILE`` examples, their times counted from ``base``."""

    def column(index: int) -> np.ndarray:
        ages = np.array([np.nan if r[index] is None else r[index] for r in rows], dtype=float)
        return at(ages, np.full(len(rows), base))

    status = np.array([r[0] for r in rows], dtype=object)
    return Rows(np.arange(len(rows)), status, np.array([r[1] for r in rows], bool), *map(column, range(2, 6)))
