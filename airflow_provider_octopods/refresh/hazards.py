"""How soon a status changes, estimated from the rows held: the sender's own messages. For each
status a row can leave (``sent``, ``delivered``), a hazard that is constant within each band of
age (bands from a second to 90 days, each about 36 % longer than the last): the changes seen in
a band over the time rows were watched in it. A row still ``sent`` or ``delivered`` at its last
fetch was watched up to that age and no further (censored), so messages not yet read count
without biasing the estimate. Ages come from ``delivered_at`` and ``read_at``; a failure has no
timestamp, only the fetch that saw it, and is spread over the ages before that fetch as the
rows still ``sent`` at their fetches allow. Recent sends weigh more (half as much per
``HALF_LIFE`` of send time before the latest send), so that a change in how people read shows
within days; whether a band is watched enough counts rows, not weights. Pure arithmetic on
columns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from airflow_provider_octopods.refresh.rows import Column, Rows
from airflow_provider_octopods.status import FAILED, KNOWN_STATUSES

DAY = 86_400.0
EDGES = np.concatenate([[0.0], np.geomspace(1.0, 90 * DAY, 53)])
WIDTHS = np.diff(EDGES)
# Below this many rows watched across a band on average, its estimate is not trusted: the
# bands from the first such one on take the rate of the last ``TAIL`` trusted bands together,
# and rows older than ``REACH`` times the trusted age are left to the fixed rule.
MIN_WATCHED = 10.0
TAIL = 3
REACH = 3.0
HALF_LIFE = 3 * DAY
ITERATIONS = 30


@dataclass(frozen=True)
class Watch:
    """Rows watched in a status: ages on entering it and on leaving it or the last fetch in it
    (``exit``), whether they left (``changed``), and what each weighs."""

    entry: Column
    exit: Column
    changed: Column
    weight: Column


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
    def fit(cls, watch: Watch, undated: Watch) -> Curve:
        """From the rows watched in the status (``exit``: the age on leaving it, if
        ``changed``, else at the last fetch in it), and the fetches that saw a change of
        unknown time (``exit``: the age of that fetch)."""
        exposure = _time_in_bands(watch.exit, watch.weight) - _time_in_bands(watch.entry, watch.weight)
        events = np.bincount(
            _band(watch.exit[watch.changed]), weights=watch.weight[watch.changed], minlength=len(WIDTHS)
        ).astype(np.float64)
        undated_events, undated_exposure = _undated_changes(undated, exposure, events)
        events, exposure = events + undated_events, exposure + undated_exposure
        rate = _rates(events, exposure)
        ones = np.ones(len(watch.exit))
        watched = (_time_in_bands(watch.exit, ones) - _time_in_bands(watch.entry, ones)) / WIDTHS
        trusted = _trusted_bands(watched)
        if 0 < trusted < len(WIDTHS):
            tail = slice(max(0, trusted - TAIL), trusted)
            rate[trusted:] = events[tail].sum() / exposure[tail].sum()
        cumulative = np.concatenate([[0.0], np.cumsum(rate * WIDTHS)])
        return cls(cumulative, watched, int(watch.changed.sum()) + len(undated.exit), float(EDGES[trusted]))

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
        weight = _recency(rows.sent_at[known])
        was_delivered = ~np.isnan(delivered)
        in_delivered = (delivered, read, fetched, failed, weight)
        return cls(
            sent=_watched(np.zeros_like(fetched), _first_known(delivered, read), fetched, failed, weight),
            delivered=_watched(*(column[was_delivered] for column in in_delivered)),
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


def _watched(entry: Column, left: Column, fetched: Column, failed: Column, weight: Column) -> Curve:
    """A curve from rows that left at a known age (``left``), failed at an unknown one (by
    the fetch that saw it), or were still there at their last fetch."""
    changed = ~np.isnan(left)
    dated = changed | ~failed
    exit = np.where(changed, np.minimum(left, fetched), fetched)[dated]
    watch = Watch(entry[dated], np.maximum(exit, entry[dated]), changed[dated], weight[dated])
    undated = Watch(entry[~dated], fetched[~dated], failed[~dated], weight[~dated])
    return Curve.fit(watch, undated)


def _trusted_bands(watched: Column) -> int:
    """How many bands from the first are trusted: up to the first one watched too little after
    one watched enough (no row enters ``delivered`` in its first seconds)."""
    enough = watched >= MIN_WATCHED
    if not enough.any():
        return 0
    thin = np.flatnonzero(~enough[int(np.argmax(enough)) :])
    return int(np.argmax(enough)) + int(thin[0]) if len(thin) else len(WIDTHS)


def _recency(sent_at: Column) -> Column:
    """Each row's weight: 1 for the latest send, half as much per ``HALF_LIFE`` before it."""
    if len(sent_at) == 0:
        return np.ones(0)
    before = (sent_at.max() - sent_at) / np.timedelta64(1, "s")
    return np.exp2(-before.astype(np.float64) / HALF_LIFE)  # type: ignore[no-any-return]


def _band(ages: Column) -> Column:
    return np.clip(np.searchsorted(EDGES, ages, side="right") - 1, 0, len(WIDTHS) - 1)


def _rates(events: Column, exposure: Column) -> Column:
    return np.divide(events, exposure, out=np.zeros_like(events), where=exposure > 0)


def _undated_changes(undated: Watch, exposure: Column, dated: Column) -> tuple[Column, Column]:
    """Changes known only to have come between entering the status and the fetch that saw
    them (failures: the API gives them no time): their expected count in each band, and the
    time their rows were watched until them. The usual estimate for such data
    (expectation-maximisation, ``ITERATIONS`` rounds): each change is shared over the bands it
    may have come in as the estimate of such changes says, which the rows still in the status
    at their fetches (they had not changed yet) and the changes' own bounds together decide."""
    events, watched = np.zeros(len(WIDTHS)), np.zeros(len(WIDTHS))
    if len(undated.exit) == 0:
        return events, watched
    pairs, group = np.unique(
        np.stack([_band(undated.entry), _band(undated.exit)]), axis=1, return_inverse=True
    )
    counts = np.bincount(group.ravel(), weights=undated.weight)
    # From a constant rate: the rows keep only their latest fetch, so a change seen by a late
    # fetch may have come at any age before it, and the rounds start from the cautious guess.
    rate = np.full(len(WIDTHS), counts.sum() / max(float(exposure.sum()), 1.0))
    for _ in range(ITERATIONS):
        both = _rates(dated, exposure + watched) + rate
        survival = np.exp(-np.concatenate([[0.0], np.cumsum(both * WIDTHS)]))[:-1]
        chance = survival * np.divide(rate, both, out=np.zeros_like(rate), where=both > 0)
        chance *= -np.expm1(-both * WIDTHS)
        events, watched = np.zeros(len(WIDTHS)), np.zeros(len(WIDTHS))
        for (first, last), count in zip(pairs.T, counts, strict=True):
            span = slice(first, last + 1)
            share = (
                chance[span] / chance[span].sum() if chance[span].sum() > 0 else np.eye(last + 1 - first)[-1]
            )
            later = np.cumsum(share[::-1])[::-1] - share  # the change came after the band
            events[span] += count * share
            watched[span] += count * WIDTHS[span] * (later + share / 2)
        rate = _rates(events, exposure + watched)
    return events, watched


def _first_known(*ages: Column) -> Column:
    """Per row, the first of ``ages`` that is not ``nan``."""
    result = ages[-1]
    for age in reversed(ages[:-1]):
        result = np.where(np.isnan(age), result, age)
    return result


def _time_in_bands(ages: Column, weights: Column) -> Column:
    """Summed over rows (each times its weight), the time each spent in each band from age 0
    to its age."""
    ages = np.clip(ages, 0, EDGES[-1])
    band = np.searchsorted(EDGES, ages, side="right") - 1
    rows_in = np.bincount(band, weights=weights, minlength=len(EDGES)).astype(np.float64)
    beyond = np.cumsum(rows_in[::-1])[::-1][1:]  # rows past each band
    partial = np.bincount(band, weights=weights * (ages - EDGES[band]), minlength=len(EDGES))
    return WIDTHS * beyond + partial[:-1]
