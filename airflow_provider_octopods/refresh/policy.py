"""What every refresh policy answers: which rows held are due now, when each fetched row will be
due next, and why, in lines a task log can show."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import numpy as np

from airflow_provider_octopods.refresh.rows import Column, Rows, moment

DAY = 86_400.0
# Age bands of the log's tally: (label, from seconds, to seconds).
BANDS = (("under 1 day", 0.0, DAY), ("1-3 days", DAY, 3 * DAY), ("3-7 days", 3 * DAY, 7 * DAY))


@dataclass(frozen=True)
class Decision:
    """``due``: a boolean per row. ``next_fetch``: for rows just fetched, when each will be due
    (``datetime64[us]``; ``NaT``: at once, ``max``: never), so that rows due together can be
    kept together. ``lines``: why, for the log."""

    due: Column
    next_fetch: Callable[[Rows], Column]
    lines: tuple[str, ...]


class RefreshPolicy(Protocol):
    """A rule that decides, from the rows held and ``now``, which are fetched again.
    ``output_rows``: how many rows the run's output will hold (the share a target counts on)."""

    horizon: timedelta

    def decide(self, rows: Rows, now: datetime, output_rows: int) -> Decision: ...


def span(delta: timedelta) -> str:
    """A duration as a log line says it: ``90 min``, ``24 h``, ``4 days``."""
    hours = delta.total_seconds() / 3600
    if hours < 2:
        return f"{hours * 60:g} min"
    return f"{hours:g} h" if hours <= 48 else f"{hours / 24:g} days"


def tally(rows: Rows, due: Column, now: datetime) -> list[str]:
    """Due rows of each status, by age band: what a log line says about the decision."""
    age = rows.age(moment(now))
    lines = []
    status = np.where(rows.error, "error", rows.status.astype(str))
    for name in np.unique(status[due]) if due.any() else ():
        of_status = due & (status == name)
        bands = [f"{int(np.sum(of_status & (lo <= age) & (age < hi))):,} {label}" for label, lo, hi in BANDS]
        older = int(np.sum(of_status & (age >= BANDS[-1][2])))
        lines.append(f"{name}: {int(of_status.sum()):,} due ({', '.join(bands)}, {older:,} older)")
    return lines
