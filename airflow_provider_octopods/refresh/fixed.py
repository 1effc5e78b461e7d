"""The fixed age rule: a row is fetched again once it has waited ``factor`` times its age at the
last fetch.

A message changes most while it is young: delivery comes within seconds, most reads within
hours, and the longer a ``sent`` or ``delivered`` message has stayed so, the less likely the
next request finds anything new. The wait is kept between ``floor`` and ``ceiling``; past
``horizon`` (the message's age now) a row is never fetched again. Rows in a terminal status
(``read``, ``failed``) are never fetched again; error rows and rows of unknown age always are.
It knows nothing of the sender: ``learned.LearnedRefresh`` starts from it and learns.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from airflow_provider_octopods.refresh.policy import Decision, span, tally
from airflow_provider_octopods.refresh.rows import Column, Rows, moment


@dataclass(frozen=True)
class FixedRefresh:
    """``factor``: how many times its age at the last fetch a row waits before the next one.
    ``floor``/``ceiling``: the shortest and longest wait. ``horizon``: the age after which a
    message is not fetched again. ``FixedRefresh(factor=0, floor=timedelta(0))`` fetches every
    row not final (carries the final ones only)."""

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

    def decide(self, rows: Rows, now: datetime, output_rows: int = 0) -> Decision:
        due = self.due(rows, now)
        waits = f"{span(self.floor)} to {span(self.ceiling)}"
        rule = f"fixed rule: x{self.factor:g} the age at the last fetch, {waits}"
        return Decision(due, self.next_fetch, (rule, *tally(rows, due, now)))

    def due(self, rows: Rows, now: datetime) -> Column:
        """Which rows to fetch again at ``now``: a boolean per row."""
        at = moment(now)
        waited_enough = at >= self.next_fetch(rows)
        young = (at - rows.sent_at) <= np.timedelta64(self.horizon, "us")
        due = rows.error | (~rows.terminal() & (rows.unknown_age() | (waited_enough & young)))
        return np.asarray(due, dtype=bool)

    def next_fetch(self, rows: Rows) -> Column:
        """When each row (not final, with a known age) is due again: ``datetime64[us]``, ``NaT``
        where its age is unknown (such a row is always due)."""
        waited = rows.fetched_at - rows.sent_at
        wait: Column = np.clip(waited * self.factor, _us(self.floor), _us(self.ceiling))
        return rows.fetched_at + wait


def _us(delta: timedelta) -> np.timedelta64:
    return np.timedelta64(delta, "us")
