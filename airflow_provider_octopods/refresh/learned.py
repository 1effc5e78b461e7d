"""The learned refresh: requests go where the sender's own history says a status may have
changed, as many as a ``RefreshTarget`` needs and no more.

From the rows held, ``hazards`` estimates how soon a ``sent`` or ``delivered`` status changes
at each age. For each row not final, that gives the chance it changed since its last fetch,
and the chance a read happened that only a fetch now shows within ``reads_seen_within``. A run
leaves out the rows least likely to have changed for as long as the expected rows left wrong
and reads shown late stay within half of what the target allows (the other half absorbs the
estimate's own error); every other row is fetched. A row whose chance of any change before the
horizon is negligible is thereby settled: never fetched again.

Where the history is too thin to trust (no rows yet, or none watched at that age), a row
follows the fixed rule (``fixed.FixedRefresh``), as it does with no history at all; and one row
in ``PROBES`` is fetched when the fixed rule says so as well, so that a change in how late
people read is seen, and learned, whatever the estimate said before.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

from airflow_provider_octopods.refresh.fixed import FixedRefresh
from airflow_provider_octopods.refresh.hazards import Curve, Hazards
from airflow_provider_octopods.refresh.policy import Decision, span, tally
from airflow_provider_octopods.refresh.rows import Column, Rows, moment
from airflow_provider_octopods.refresh.target import RefreshTarget
from airflow_provider_octopods.status import DELIVERED, SENT

PROBES = 64
SPEND = 0.5
NEVER = np.datetime64("9999-12-31", "us")


@dataclass(frozen=True)
class Chances:
    """Per row (0 for a row not ``sent`` or ``delivered``): ``changed`` since its last fetch;
    ``read_late``: read at a time that only a fetch now shows in time."""

    changed: Column
    read_late: Column

    def score(self, allowed: Allowed) -> Column:
        """How much of the allowed misses leaving each row out would spend: the larger share."""
        return np.maximum(_share(self.changed, allowed.wrong), _share(self.read_late, allowed.late))


@dataclass(frozen=True)
class LearnedRefresh:
    """Meets ``target`` with the fewest requests the sender's history allows."""

    target: RefreshTarget = field(default_factory=RefreshTarget)

    @property
    def horizon(self) -> timedelta:
        return self.target.horizon

    @property
    def start(self) -> FixedRefresh:
        """The rule for rows whose history is too thin, and the probes' extra fetches."""
        return FixedRefresh(horizon=self.horizon)

    def decide(self, rows: Rows, now: datetime, output_rows: int = 0) -> Decision:
        hazards = Hazards.fit(rows)
        at = moment(now)
        chances = _chances(rows, hazards, at, self.target.reads_seen_within)
        learned = self._learned(rows, hazards, at)
        allowed = Allowed.of(rows, at, output_rows, self.target)
        skip = _cheapest_skips(chances, learned, allowed)
        by_rule = self.start.due(rows, now)
        probed = probes(rows.message_id) & by_rule & learned & skip
        due = np.where(learned, ~skip, by_rule) | probed
        due = _within_budget(due, chances.score(allowed), rows, self.target.max_requests)
        threshold = float(chances.changed[skip].max()) if skip.any() else 0.0
        lines = (
            *self._heading(rows, output_rows),
            *hazards.describe(),
            f"{int((~learned & due).sum()):,} due by the fixed rule (history too thin at their "
            f"age), {int(probed.sum()):,} as probes (1 in {PROBES} rows keeps the fixed rule's "
            f"fetches too); {int((skip & ~probed).sum()):,} left out as unlikely "
            "to have changed",
            allowed.expected(chances, due),
            *tally(rows, due, now),
        )
        return Decision(due, lambda fetched: self._next_fetch(fetched, hazards, threshold), lines)

    def _learned(self, rows: Rows, hazards: Hazards, at: Column | np.datetime64) -> Column:
        """The rows the estimate decides: not final, young, of an age it trusts."""
        age = rows.age(at)
        young = age <= self.horizon.total_seconds()
        trusted = np.where(
            rows.status == DELIVERED, age <= hazards.delivered.reach, age <= hazards.sent.reach
        )
        pending = np.isin(rows.status, [SENT, DELIVERED]) & ~rows.error & ~rows.unknown_age()
        return pending & young & trusted

    def _next_fetch(self, rows: Rows, hazards: Hazards, threshold: float) -> Column:
        """When a row just fetched reaches the chance of change at which this run fetched."""
        age = rows.age(rows.fetched_at)
        due_age = np.where(
            rows.status == DELIVERED,
            hazards.delivered.when(age, threshold),
            hazards.sent.when(age, threshold),
        )
        wait = np.where(np.isfinite(due_age), due_age - age, 0).astype("timedelta64[s]")
        learned = np.where(np.isfinite(due_age), rows.fetched_at + wait, NEVER)
        return np.where(self._learned(rows, hazards, rows.fetched_at), learned, self.start.next_fetch(rows))

    def _heading(self, rows: Rows, output_rows: int) -> list[str]:
        target = self.target
        budget = "" if target.max_requests is None else f", at most {target.max_requests:,} requests"
        return [
            f"learned refresh: target {target.rows_exact:.3g} of rows exact, {target.reads_seen:.3g} of "
            f"reads seen within {span(target.reads_seen_within)}{budget}; {len(rows):,} rows held, "
            f"{max(output_rows, len(rows)):,} in the output"
        ]


def probes(message_id: Column) -> Column:
    """One row in ``PROBES``, by a hash of its id: the same rows run after run."""
    mixed = message_id.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    return (mixed >> np.uint64(58)) == 0  # type: ignore[no-any-return]


def _chances(rows: Rows, hazards: Hazards, at: np.datetime64, within: timedelta) -> Chances:
    last, now = rows.age(rows.fetched_at), rows.age(at)
    window = within.total_seconds()
    since_last_run = np.clip(_seconds(at - _latest(rows.fetched_at)), 0, window)
    # A read in (now - window, now - window + since_last_run] is late unless fetched now.
    late_from, late_to = np.maximum(last, now - window), np.minimum(now, now - window + since_last_run)

    def of_status(curve_of: dict[str, Curve], start: Column, end: Column) -> Column:
        delivered = curve_of[DELIVERED].chance(start, end)
        return np.where(rows.status == DELIVERED, delivered, curve_of[SENT].chance(start, end))

    curves = {SENT: hazards.sent, DELIVERED: hazards.delivered}
    pending = np.isin(rows.status, [SENT, DELIVERED]) & ~rows.error & ~rows.unknown_age()
    changed = np.where(pending, of_status(curves, last, now), 0.0)
    late = np.where(pending & (late_to > late_from), of_status(curves, late_from, late_to), 0.0)
    return Chances(np.nan_to_num(changed), np.nan_to_num(late))


@dataclass(frozen=True)
class Allowed:
    """What the run may expect to miss: ``SPEND`` of the target's allowance of ``output_rows``
    rows left wrong and of ``reads`` (as many as the last run's period showed) shown late."""

    output_rows: int
    reads: int
    target: RefreshTarget

    @classmethod
    def of(cls, rows: Rows, at: np.datetime64, output_rows: int, target: RefreshTarget) -> Allowed:
        latest = _latest(rows.fetched_at)
        period = np.clip(_seconds(at - latest), 0, target.reads_seen_within.total_seconds())
        recent = (rows.read_at > latest - np.timedelta64(int(period), "s")) & (rows.read_at <= latest)
        return cls(max(output_rows, len(rows), 1), max(int(recent.sum()), 1), target)

    @property
    def wrong(self) -> float:
        return (1 - self.target.rows_exact) * self.output_rows * SPEND

    @property
    def late(self) -> float:
        return (1 - self.target.reads_seen) * self.reads * SPEND

    def expected(self, chances: Chances, due: Column) -> str:
        """What the decision is expected to give, in the target's terms."""
        wrong, late = chances.changed[~due].sum(), chances.read_late[~due].sum()
        return (
            f"expected at this run: {1 - wrong / self.output_rows:.2%} of rows exact, "
            f"{1 - late / self.reads:.2%} of reads seen in time (of about {self.reads:,})"
        )


def _cheapest_skips(chances: Chances, learned: Column, allowed: Allowed) -> Column:
    """Of the ``learned`` rows, the most that can be left out, the least likely to have
    changed first, while the expected misses stay within ``allowed``."""
    rows = np.flatnonzero(learned)
    order = rows[np.argsort(chances.score(allowed)[rows], kind="stable")]
    fits = (np.cumsum(chances.changed[order]) <= allowed.wrong) & (
        np.cumsum(chances.read_late[order]) <= allowed.late
    )
    count = int(np.argmin(fits)) if not fits.all() else len(order)
    skip = np.zeros(len(learned), dtype=bool)
    skip[order[:count]] = True
    return skip


def _within_budget(due: Column, score: Column, rows: Rows, budget: int | None) -> Column:
    """At most ``budget`` due rows: error rows and rows of unknown age first, then by score."""
    if budget is None or int(due.sum()) <= budget:
        return due
    priority = np.where(rows.error | rows.unknown_age(), np.inf, score)
    candidates = np.flatnonzero(due)
    keep = candidates[np.argsort(-priority[candidates], kind="stable")[:budget]]
    within = np.zeros(len(due), dtype=bool)
    within[keep] = True
    return within


def _share(chance: Column, allowed: float) -> Column:
    if allowed > 0:
        return chance / allowed
    return np.where(chance > 0, np.inf, 0.0)


def _latest(moments: Column) -> np.datetime64:
    known = moments[~np.isnat(moments)]
    return known.max() if len(known) else np.datetime64("NaT", "us")


def _seconds(delta: np.timedelta64) -> float:
    return 0.0 if np.isnat(delta) else float(delta / np.timedelta64(1, "s"))
