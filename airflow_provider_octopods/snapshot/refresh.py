"""When a row of the previous snapshot is worth a request again: the age-aware refresh policy.

A message changes most while it is young: delivery comes within seconds, most reads within
hours, and the longer a ``sent`` or ``delivered`` message has stayed so, the less likely the
next request finds anything new (the vendor says as much: back off after ``delivered``). So a
row is fetched again only when the time since its last fetch is at least ``factor`` times the
message's age at that fetch, kept between ``floor`` and ``ceiling``; past ``horizon`` (the
message's age now) a row is never fetched again. Rows in a terminal status (``read``,
``failed``) are never fetched again; error rows and rows with no ``sent_at`` always are.

Pure logic on whole columns: no I/O, and no clock of its own (the caller passes ``now``).
The defaults come from ``bench/refresh_simulation.py``; see docs/operator.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from airflow_provider_octopods.status import TERMINAL_STATUSES

Column = np.ndarray[Any, Any]


@dataclass(frozen=True)
class RefreshPolicy:
    """``factor``: how many times its age at the last fetch a row waits before the next one.
    ``floor``/``ceiling``: the shortest and longest wait. ``horizon``: the age after which a
    message is not fetched again. ``RefreshPolicy(factor=0, floor=timedelta(0))`` fetches every
    non-terminal row (carry forward the terminal ones only)."""

    factor: float = 2.0
    floor: timedelta = timedelta(hours=1)
    ceiling: timedelta = timedelta(days=4)
    horizon: timedelta = timedelta(days=30)

    def __post_init__(self) -> None:
        if not self.factor >= 0:
            raise ValueError(f"factor must be a number >= 0, not {self.factor!r}")
        if not timedelta(0) <= self.floor <= self.ceiling:
            raise ValueError(f"need 0 <= floor <= ceiling, not floor={self.floor}, ceiling={self.ceiling}")
        if self.horizon <= timedelta(0):
            raise ValueError(f"horizon must be positive, not {self.horizon}")

    def due(
        self, status: Column, error: Column, sent_at: Column, fetched_at: Column, now: datetime
    ) -> Column:
        """Which rows to fetch again at ``now``: a boolean per row.

        ``status``: object array of str or None; ``error``: bool (the row is an error row);
        ``sent_at``, ``fetched_at``: ``datetime64[us]`` in UTC, ``NaT`` where missing.
        """
        at = np.datetime64(_naive_utc(now), "us")
        waited_enough = at >= self.next_fetch(sent_at, fetched_at)
        young = (at - sent_at) <= _us(self.horizon)
        terminal = np.isin(status, list(TERMINAL_STATUSES))
        unknown_age = np.isnat(sent_at) | np.isnat(fetched_at)
        return np.asarray(error | (~terminal & (unknown_age | (waited_enough & young))), dtype=bool)

    def next_fetch(self, sent_at: Column, fetched_at: Column) -> Column:
        """When each row (not final, with a known age) is due again: ``datetime64[us]``, ``NaT``
        where its age is unknown (such a row is always due)."""
        wait: Column = np.clip((fetched_at - sent_at) * self.factor, _us(self.floor), _us(self.ceiling))
        return fetched_at + wait


def _us(delta: timedelta) -> np.timedelta64:
    return np.timedelta64(delta, "us")


def _naive_utc(moment: datetime) -> datetime:
    """numpy's datetime64 has no zone: UTC, naive (a naive ``now`` is taken as UTC)."""
    offset = moment.utcoffset() or timedelta(0)
    return (moment - offset).replace(tzinfo=None)
