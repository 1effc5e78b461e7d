"""What each refresh policy costs in requests, and how true it keeps the output, on sender
models: a simulation on a virtual clock that prints its figures.

Each model (``emulator/models/*.json``, or ``--model FILE``) sends ``--per-day`` messages a
day, spread evenly over the day, for ``--days`` days (``SenderModel.sample``: when each
message is delivered, read or failed). At each midnight a run refreshes the output: the sends
of the last ``--window`` days (the rolling Parquet snapshot; 0: every message, the Iceberg
table). New messages are always fetched; each policy decides which rows held are fetched
again, from the rows as its own earlier fetches left them. The last ``--measured`` days count:

- ``full``: every row, every run; ``terminal_carry``: every row not ``read`` or ``failed``;
- ``age_x2``: ``FixedRefresh()``, the fixed rule (x2 the age at the last fetch, 1 h..4 days);
- ``learned``: ``LearnedRefresh()``, to the default ``RefreshTarget`` (no hindsight);
- ``oracle``: exactly the rows whose status changed since their last fetch (the floor);
- ``best_fixed``: the cheapest ``FixedRefresh`` of a sweep (factors 1 to 16, ceilings 1 to 7
  days) that meets the target on that model, found in hindsight; its settings in ``rule``.

Figures: requests per message sent; rows exact (the share of the output's rows equal to what
the API answers at the run; mean, and the worst day); reads seen within 24 hours (of the reads
in the measured days, those a run showed within 24 hours). A policy meets the target when the
mean is at least 99 %, the worst day at least 98 %, and 99 % of reads are seen within 24 hours.

    .venv/bin/python bench/refresh_simulation.py [--model FILE ...] [--per-day 5000] [--json]
    .venv/bin/python bench/refresh_simulation.py --fit SNAPSHOT_ROOT_OR_TABLE > my_sender.json
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow.dataset as ds

from airflow_provider_octopods.emulator.fit import fit_model
from airflow_provider_octopods.emulator.model import BUILTIN, SenderModel
from airflow_provider_octopods.refresh import FixedRefresh, LearnedRefresh, RefreshPolicy, RefreshTarget
from airflow_provider_octopods.refresh.rows import COLUMNS, Rows
from airflow_provider_octopods.snapshot.previous import latest
from airflow_provider_octopods.status import DELIVERED, FAILED, READ, SENT

DAY = 86_400.0
START = datetime(2026, 1, 5, tzinfo=UTC).timestamp()
FIRST_ID = 3_851_828
TARGET = RefreshTarget()
FACTORS, CEILINGS = (1, 2, 4, 8, 16), range(1, 8)

Column = np.ndarray[Any, Any]
# (sends, rows held, their last fetch, now, rows in the output) -> which rows held to fetch
Choose = Callable[["Sends", Column, Column, float, int], Column]


@dataclass(frozen=True)
class Sends:
    """Every message of the run: when it was sent, and when each step the API shows came
    (seconds since the epoch; ``nan``: never). A delivery never reported is no step."""

    sent: Column
    delivered: Column
    read: Column
    failed: Column

    @classmethod
    def of(cls, model: SenderModel, per_day: int, days: int, seed: int) -> Sends:
        rng = np.random.default_rng(seed)
        parts = []
        for day in range(days):
            sent = START + day * DAY + (np.arange(per_day) + 0.5) * DAY / per_day
            timings = model.sample(rng, per_day, day)
            delivered = np.where(timings.unreported, np.nan, timings.deliver)
            parts.append((sent, sent + delivered, sent + timings.read, sent + timings.fail))
        return cls(*(np.concatenate(column) for column in zip(*parts, strict=True)))

    def status(self, rows: Column, at: Column | float) -> Column:
        status = np.full(len(rows), SENT, dtype=object)
        for step, times in ((DELIVERED, self.delivered), (READ, self.read), (FAILED, self.failed)):
            status[times[rows] <= at] = step
        return status

    def changed(self, rows: Column, since: Column, at: float) -> Column:
        """Whether a step came between each row's last fetch and ``at``."""
        steps = (self.delivered[rows], self.read[rows], self.failed[rows])
        return np.logical_or.reduce([(since < t) & (t <= at) for t in steps])

    def held(self, rows: Column, fetched: Column) -> Rows:
        """The rows as the output holds them: each as its last fetch saw it."""

        def seen(times: Column) -> Column:
            return _us(np.where(times[rows] <= fetched, times[rows], np.nan))

        return Rows(
            message_id=FIRST_ID + rows,
            status=self.status(rows, fetched),
            error=np.zeros(len(rows), dtype=bool),
            sent_at=_us(self.sent[rows]),
            delivered_at=seen(self.delivered),
            read_at=seen(self.read),
            fetched_at=_us(fetched),
        )


def _us(seconds: Column) -> Column:
    micros = np.where(np.isnan(seconds), 0, np.round(seconds * 1e6)).astype(np.int64)
    return np.where(np.isnan(seconds), np.datetime64("NaT", "us"), micros.astype("datetime64[us]"))


def by_policy(policy: RefreshPolicy) -> Choose:
    def choose(sends: Sends, rows: Column, fetched: Column, now: float, output_rows: int) -> Column:
        at = datetime.fromtimestamp(now, UTC)
        return policy.decide(sends.held(rows, fetched), at, output_rows).due

    return choose


def full(sends: Sends, rows: Column, fetched: Column, now: float, output_rows: int) -> Column:
    return np.ones(len(rows), dtype=bool)


def oracle(sends: Sends, rows: Column, fetched: Column, now: float, output_rows: int) -> Column:
    return sends.changed(rows, fetched, now)


@dataclass
class Outcome:
    """One policy's figures over the measured days."""

    requests: list[int] = field(default_factory=list)
    exact: list[float] = field(default_factory=list)
    reads_in_time: float = float("nan")
    sent: int = 0

    def figures(self) -> dict[str, float]:
        return {
            "requests_per_sent": round(sum(self.requests) / self.sent, 4),
            "rows_exact": round(float(np.mean(self.exact)), 5),
            "rows_exact_min_day": round(min(self.exact), 5),
            "reads_seen_24h": round(self.reads_in_time, 5),
        }

    def meets(self, target: RefreshTarget = TARGET) -> bool:
        return (
            float(np.mean(self.exact)) >= target.rows_exact
            and min(self.exact) >= target.rows_exact - 0.01
            and self.reads_in_time >= target.reads_seen
        )


def simulate(sends: Sends, choose: Choose, args: argparse.Namespace) -> Outcome:
    """Run after run at each midnight; the last ``args.measured`` runs count."""
    fetched = np.full(len(sends.sent), np.nan)
    seen = np.full(len(sends.sent), np.nan)  # when a run first showed each read
    outcome = Outcome()
    for day in range(args.days):
        now = START + (day + 1) * DAY
        window = (sends.sent <= now) & (sends.sent > now - args.window * DAY if args.window else True)
        rows = np.flatnonzero(window)
        held = rows[~np.isnan(fetched[rows])]
        due = choose(sends, held, fetched[held], now, len(rows))
        fetch = np.concatenate([rows[np.isnan(fetched[rows])], held[due]])
        fetched[fetch] = now
        read_now = fetch[(sends.read[fetch] <= now) & np.isnan(seen[fetch])]
        seen[read_now] = now
        if day >= args.days - args.measured:
            outcome.requests.append(len(fetch))
            outcome.exact.append(float(np.mean(~sends.changed(rows, fetched[rows], now))))
            outcome.sent += int(np.sum((sends.sent > now - DAY) & (sends.sent <= now)))
    outcome.reads_in_time = _reads_in_time(sends, seen, args)
    return outcome


def _reads_in_time(sends: Sends, seen: Column, args: argparse.Namespace) -> float:
    """Of the reads in the measured days that a run could show (the message still in its
    window), the share shown within 24 hours."""
    first, last = START + (args.days - args.measured) * DAY, START + args.days * DAY
    next_run = START + np.ceil((sends.read - START) / DAY) * DAY
    counted = (sends.read >= first) & (sends.read < last)
    if args.window:
        counted &= sends.sent > next_run - args.window * DAY
    lag = seen[counted] - sends.read[counted]
    return float(np.mean(lag <= DAY)) if counted.any() else float("nan")


def policies() -> dict[str, Choose]:
    return {
        "full": full,
        "terminal_carry": by_policy(FixedRefresh(factor=0, floor=timedelta(0))),
        "age_x2": by_policy(FixedRefresh()),
        "learned": by_policy(LearnedRefresh(TARGET)),
        "oracle": oracle,
    }


def best_fixed(sends: Sends, args: argparse.Namespace) -> tuple[dict[str, Any], Outcome] | None:
    """The cheapest fixed rule of the sweep that meets the target, in hindsight."""
    found: list[tuple[float, dict[str, Any], Outcome]] = []
    for factor in FACTORS:
        for ceiling in CEILINGS:
            rule = FixedRefresh(factor=factor, ceiling=timedelta(days=ceiling))
            outcome = simulate(sends, by_policy(rule), args)
            if outcome.meets():
                found.append((sum(outcome.requests), {"factor": factor, "ceiling_days": ceiling}, outcome))
    if not found:
        return None
    _, rule_found, outcome = min(found, key=lambda item: item[0])
    return rule_found, outcome


def measure(model: SenderModel, args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    sends = Sends.of(model, args.per_day, args.days, args.seed)
    result: dict[str, dict[str, Any]] = {}
    for name, choose in policies().items():
        outcome = simulate(sends, choose, args)
        result[name] = {**outcome.figures(), "meets_target": outcome.meets()}
    best = best_fixed(sends, args)
    if best is None:
        result["best_fixed"] = {"rule": None, "meets_target": False}
    else:
        rule, outcome = best
        result["best_fixed"] = {**outcome.figures(), "meets_target": True, "rule": rule}
    return result


def show(name: str, result: dict[str, dict[str, Any]]) -> None:
    print(f"\n{name}")
    heads = ("requests/sent", 15), ("rows exact", 12), ("(worst day)", 13), ("reads <24h", 12), ("target", 8)
    print(f"  {'policy':<16}" + "".join(f"{h:>{w}}" for h, w in heads))
    for policy, figures in result.items():
        if "requests_per_sent" not in figures:
            print(f"  {policy:<16}  no rule of the sweep meets the target")
            continue
        rule = figures.get("rule")
        note = f"  x{rule['factor']}, ceiling {rule['ceiling_days']} d" if rule else ""
        print(
            f"  {policy:<16}{figures['requests_per_sent']:>15.3f}{figures['rows_exact']:>12.3%}"
            f"{figures['rows_exact_min_day']:>13.3%}{figures['reads_seen_24h']:>12.3%}"
            f"{'met' if figures['meets_target'] else 'missed':>8}{note}"
        )


def main(argv: Iterable[str] | None = None) -> None:
    args = _parse(argv)
    if args.fit:
        print(
            json.dumps(fit_model(Rows.from_arrow(held_rows(args.fit)), f"fitted from {args.fit}").to_dict())
        )
        return
    scope = f"the last {args.window} days" if args.window else "every message (a table)"
    print(
        f"Refresh simulation: {args.per_day:,} sends a day for {args.days} days, a run each midnight "
        f"over {scope}; the last {args.measured} runs measured"
    )
    results = {}
    for model in args.models:
        results[model.name] = measure(model, args)
        show(model.name, results[model.name])
    if args.json:
        print(json.dumps({"models": results}))


def _parse(argv: Iterable[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", action="append", default=[], help="a sender model file (repeatable)")
    parser.add_argument("--per-day", type=int, default=5_000)
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--measured", type=int, default=14, help="the last runs that count")
    parser.add_argument("--window", type=int, default=7, help="days of sends a run covers (0: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="end with one line of JSON: the figures")
    parser.add_argument("--fit", metavar="PATH", help="print a model fitted from a snapshot root or table")
    args = parser.parse_args(list(argv) if argv is not None else None)
    if not 0 < args.measured <= args.days:
        parser.error("--measured must be between 1 and --days")
    try:  # a model that does not load is a usage error: its message, not a traceback
        args.models = _models(args.model)
    except ValueError as error:
        parser.error(str(error))
    return args


def _models(sources: list[str]) -> list[SenderModel]:
    return [SenderModel.load(source) for source in sources or BUILTIN]


def held_rows(path: str) -> Any:
    """The rows a snapshot root (Parquet, the latest row per message) or an Iceberg table (its
    ``metadata/*.metadata.json`` file) holds."""
    if path.endswith(".metadata.json"):
        from pyiceberg.table import StaticTable

        return StaticTable.from_metadata(path).scan(selected_fields=COLUMNS).to_arrow()
    return latest(ds.dataset(path, format="parquet", partitioning="hive").to_table(columns=list(COLUMNS)))


if __name__ == "__main__":
    main()
