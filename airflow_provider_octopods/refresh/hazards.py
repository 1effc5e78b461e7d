"""How soon a status changes, estimated from the rows held: the sender's own messages.

For each status a row can leave (``sent``, ``delivered``), a hazard that is constant within
each band of age (bands from a minute to 90 days, each about 35 % longer than the last): the
changes seen in a band over the time rows were watched in it. A row still ``sent`` or
``delivered`` at its last fetch was watched up to that age and no further (censored), so
messages not yet read count without biasing the estimate. Ages come from ``delivered_at``
and ``read_at``; a failure has no timestamp and counts at the age of the fetch that saw it
(the latest it can have been). Pure arithmetic on columns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from airflow_provider_octopods.refresh.rows import Column, Rows
from airflow_provider_octopods.status import FAILED, KNOWN_STATUSES

DAY = 86_400.0
EDGES = np.concatenate([[0.0], np.geomspace(60.0, 90 * DAY, 40)])
WIDTHS = np.diff(EDGES)
# Below this many rows watched across a band on average, its estimate is not trusted: the
# bands from the first such one on take the rate of the last ``TAIL`` trusted bands together,
# and rows older than ``REACH`` times the trusted age are left to the fixed rule.
MIN_WATCHED = 30.0
TAIL = 3
REACH = 2.0


@dataclass(frozen=True)
class Curve:
    """The cumulative hazard of leaving one status, at each of ``EDGES``."""

    cumulative: Column
    watched: Column  # rows watched, on average, across each band
    changes: int
    trusted_to: float  # the age up to which every band was watched enough (0: none was)

    @property
    def reach(self) -> float:
        """The age up to which the estimate decides (beyond: the fixed rule)."""
        return REACH * self.trusted_to

    @classmethod
    def fit(cls, entry: Column, exit: Column, changed: Column, undated: Column) -> Curve:
        """From each row's ages on entering the status and on leaving it (``changed``) or on
        its last fetch in it; and the ages of the fetches that saw changes of unknown time."""
        exposure = _time_in_bands(exit) - _time_in_bands(entry)
        events = np.bincount(_band(exit[changed]), minlength=len(WIDTHS)).astype(np.float64)
        events += _spread(_band(undated), _rates(events, exposure))
        rate = _rates(events, exposure)
        watched = exposure / WIDTHS
        thin = np.flatnonzero(watched < MIN_WATCHED)
        trusted = int(thin[0]) if len(thin) else len(WIDTHS)
        if 0 < trusted < len(WIDTHS):
            tail = slice(max(0, trusted - TAIL), trusted)
            rate[trusted:] = events[tail].sum() / exposure[tail].sum()
        cumulative = np.concatenate([[0.0], np.cumsum(rate * WIDTHS)])
        return cls(cumulative, watched, int(changed.sum()) + len(undated), float(EDGES[trusted]))

    def chance(self, start: Column, end: Column) -> Column:
        """The chance of a change between two ages, for a row still in the status at ``start``."""
        between = np.interp(end, EDGES, self.cumulative) - np.interp(start, EDGES, self.cumulative)
        return -np.expm1(-np.maximum(between, 0.0))

    def when(self, start: Column, chance: float) -> Column:
        """The age at which the chance of a change since ``start`` reaches ``chance``
        (``inf``: never, as far as the estimate goes)."""
        goal = np.interp(start, EDGES, self.cumulative) - np.log1p(-min(chance, 1 - 1e-12))
        upper = np.searchsorted(self.cumulative, goal, side="left")
        inside = upper < len(EDGES)
        i = np.clip(upper, 1, len(EDGES) - 1)
        low, high = self.cumulative[i - 1], self.cumulative[i]
        share = np.divide(goal - low, high - low, out=np.ones_like(goal), where=high > low)
        age = EDGES[i - 1] + np.clip(share, 0, 1) * WIDTHS[i - 1]
        return np.where(inside, np.maximum(age, start), np.inf)


@dataclass(frozen=True)
class Hazards:
    """``sent``: leaving ``sent`` (delivered, read with no delivery reported, or failed).
    ``delivered``: leaving ``delivered`` (read, or failed)."""

    sent: Curve
    delivered: Curve
    rows: int

    @classmethod
    def fit(cls, rows: Rows) -> Hazards:
        known = ~rows.error & ~rows.unknown_age() & np.isin(rows.status, list(KNOWN_STATUSES))
        fetched = rows.age(rows.fetched_at)[known]
        delivered, read = rows.age(rows.delivered_at)[known], rows.age(rows.read_at)[known]
        failed = rows.status[known] == FAILED
        has_delivered = ~np.isnan(delivered)
        return cls(
            sent=_watched(np.zeros_like(fetched), _first_known(delivered, read), fetched, failed),
            delivered=_watched(
                delivered[has_delivered], read[has_delivered], fetched[has_delivered], failed[has_delivered]
            ),
            rows=int(known.sum()),
        )

    def describe(self) -> list[str]:
        """The fitted figures, as the task log shows them."""
        lines = [f"fitted from {self.rows:,} rows held"]
        for name, curve in (("sent", self.sent), ("delivered", self.delivered)):
            spans = ", ".join(
                f"{label} {float(curve.chance(np.array(lo), np.array(hi))):.1%}"
                for label, lo, hi in (("by 1 h", 0, 3600), ("1 h-1 d", 3600, DAY), ("1-7 d", DAY, 7 * DAY))
            )
            trusted = curve.trusted_to / DAY
            lines.append(
                f"{name}: {curve.changes:,} changes seen; chance of a change {spans}; "
                f"trusted to age {trusted:.2g} days"
            )
        return lines


def _watched(entry: Column, left: Column, fetched: Column, failed: Column) -> Curve:
    """A curve from rows that left at a known age (``left``), failed at an unknown one (by
    the fetch that saw it), or were still there at their last fetch."""
    changed = ~np.isnan(left)
    dated = changed | ~failed
    exit = np.where(changed, np.minimum(left, fetched), fetched)[dated]
    return Curve.fit(entry[dated], np.maximum(exit, entry[dated]), changed[dated], fetched[~dated])


def _band(ages: Column) -> Column:
    return np.clip(np.searchsorted(EDGES, ages, side="right") - 1, 0, len(WIDTHS) - 1)


def _rates(events: Column, exposure: Column) -> Column:
    return np.divide(events, exposure, out=np.zeros_like(events), where=exposure > 0)


def _spread(bands: Column, rate: Column) -> Column:
    """Changes known only to have come by the end of a band, shared over that band and the
    ones before it as the dated changes are (one step of the usual estimate for such data);
    where no dated change came before, at the band that saw them."""
    survival = np.exp(-np.concatenate([[0.0], np.cumsum(rate * WIDTHS)]))
    density = survival[:-1] - survival[1:]
    spread = np.zeros(len(WIDTHS))
    for band, count in enumerate(np.bincount(bands, minlength=len(WIDTHS))):
        if count:
            before = density[: band + 1]
            share = before / before.sum() if before.sum() > 0 else np.eye(band + 1)[band]
            spread[: band + 1] += count * share
    return spread


def _first_known(*ages: Column) -> Column:
    """Per row, the first of ``ages`` that is not ``nan``."""
    result = ages[-1]
    for age in reversed(ages[:-1]):
        result = np.where(np.isnan(age), result, age)
    return result


def _time_in_bands(ages: Column) -> Column:
    """Summed over rows, the time each spent in each band from age 0 to its age."""
    ages = np.clip(ages, 0, EDGES[-1])
    band = np.searchsorted(EDGES, ages, side="right") - 1
    rows_in = np.bincount(band, minlength=len(EDGES)).astype(np.float64)
    beyond = np.cumsum(rows_in[::-1])[::-1][1:]  # rows past each band
    partial = np.bincount(band, weights=ages - EDGES[band], minlength=len(EDGES))
    return WIDTHS * beyond + partial[:-1]
