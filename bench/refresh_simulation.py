"""What a daily snapshot over a rolling window costs in requests, and how true it stays, under
three refresh strategies. A simulation on a virtual clock; prints its figures.

The emulator's realistic campaigns (``EmulatorState.add_campaign``: delivery in seconds, reads
minutes to hours later, ~6 % failed, ~2 % never confirmed) send ``--per-day`` messages a day,
spread over the day. At each midnight a snapshot covers the sends of the last ``--window`` days,
and each strategy decides which rows to fetch; a fetched row is what the emulator answers at
that moment (``Message.body``), a carried row is the previous snapshot's. The first
``--window`` days fill the window and are not counted; the next ``--days`` are measured.

- (a) full refresh: every message, every day;
- (b) terminal carry-forward: ``read`` and ``failed`` rows carried, the rest fetched;
- (c) age-aware: ``RefreshPolicy`` (the operator's default unless ``--factor`` etc. are given).

Figures: requests per day, requests per message sent, the share of rows equal to the truth at
snapshot time (status, timestamps, failure reason), and the share of reads that a snapshot
showed within 24 hours of happening.

    .venv/bin/python bench/refresh_simulation.py [--per-day 20000] [--days 7] [--time-scale 1]
    .venv/bin/python bench/refresh_simulation.py --sweep    # the figures behind the defaults
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from airflow_provider_octopods.emulator.state import READ, EmulatorState
from airflow_provider_octopods.snapshot.refresh import RefreshPolicy

DAY = 86_400.0
START = datetime(2026, 1, 5, tzinfo=UTC).timestamp()
FIELDS = ("status", "sent_at", "delivered_at", "read_at", "failure_reason")

# (status, sent_at, fetched_at, now) -> which rows to fetch
Choose = Callable[[Any, Any, Any, datetime], np.ndarray[Any, Any]]


@dataclass
class Strategy:
    """One strategy's snapshot rows, over every message ever sent (``NaT``: never fetched)."""

    choose: Choose
    values: np.ndarray[Any, Any]  # object: the tuple of FIELDS, None before the first fetch
    fetched_at: np.ndarray[Any, Any]
    requests: list[int] = field(default_factory=list)
    true_share: list[float] = field(default_factory=list)
    read_seen_at: dict[int, float] = field(default_factory=dict)


def us(ts: float) -> np.datetime64:
    return np.datetime64(round(ts * 1_000_000), "us")


def full(status: np.ndarray[Any, Any], sent_at: Any, fetched_at: Any, now: datetime) -> np.ndarray[Any, Any]:
    return np.ones(len(status), dtype=bool)


def by_policy(policy: RefreshPolicy) -> Choose:
    def choose(
        status: np.ndarray[Any, Any], sent_at: Any, fetched_at: Any, now: datetime
    ) -> np.ndarray[Any, Any]:
        no_errors = np.zeros(len(status), dtype=bool)  # the emulator's campaigns answer every request
        return policy.due(status, no_errors, sent_at, fetched_at, now)

    return choose


@dataclass
class Result:
    name: str
    requests_per_day: float
    requests_per_sent: float
    true_share: float
    true_share_min: float
    reads_seen_24h: float


def simulate(args: argparse.Namespace, chooses: dict[str, Choose]) -> list[Result]:
    state = EmulatorState(seed=args.seed)
    days = args.window + args.days
    total = args.per_day * days
    strategies = {
        name: Strategy(choose, np.full(total, None, dtype=object), np.full(total, np.datetime64("NaT", "us")))
        for name, choose in chooses.items()
    }
    sent_at = np.full(total, np.datetime64("NaT", "us"))
    ids: list[int] = []
    sent_measured = 0
    for day in range(days):
        at = START + (day + 1) * DAY  # midnight: the day's sends are in, the snapshot runs
        state.advance(at - state.now())
        new = state.add_campaign(args.per_day, spread_hours=24, time_scale=args.time_scale)
        sent_at[len(ids) : len(ids) + len(new)] = [us(state.messages[m].created_at) for m in new]
        ids.extend(new)
        lo, hi = max(0, len(ids) - args.window * args.per_day), len(ids)
        truth = np.empty(hi - lo, dtype=object)
        truth[:] = [tuple(state.messages[m].body(at, "")[f] for f in FIELDS) for m in ids[lo:hi]]
        now = datetime.fromtimestamp(at, UTC)
        measured = day >= args.window
        sent_measured += len(new) if measured else 0
        for strategy in strategies.values():
            values, fetched_at = strategy.values[lo:hi], strategy.fetched_at[lo:hi]  # views
            status = np.array([None if v is None else v[0] for v in values], dtype=object)
            fetch = strategy.choose(status, sent_at[lo:hi], fetched_at, now)
            values[fetch] = truth[fetch]
            fetched_at[fetch] = us(at)
            for offset in np.flatnonzero(fetch):
                if truth[offset][0] == READ:
                    strategy.read_seen_at.setdefault(ids[lo + offset], at)
            if measured:
                strategy.requests.append(int(fetch.sum()))
                strategy.true_share.append(float(np.mean(values == truth)))
    return [_result(name, s, state, ids, args, sent_measured) for name, s in strategies.items()]


def _result(
    name: str, s: Strategy, state: EmulatorState, ids: list[int], args: argparse.Namespace, sent: int
) -> Result:
    """Reads counted: those that happened in the measured days (a snapshot followed each)."""
    first, last = START + (args.window + 1) * DAY, START + (args.window + args.days) * DAY
    lags = []
    for message_id in ids:
        message = state.messages[message_id]
        read_at = next((message.created_at + t for t, step in message.steps if step == READ), None)
        if read_at is not None and first - DAY <= read_at < last:
            seen = s.read_seen_at.get(message_id)
            lags.append(seen is not None and seen - read_at <= DAY)
    return Result(
        name=name,
        requests_per_day=float(np.mean(s.requests)),
        requests_per_sent=sum(s.requests) / sent,
        true_share=float(np.mean(s.true_share)),
        true_share_min=min(s.true_share),
        reads_seen_24h=float(np.mean(lags)) if lags else float("nan"),
    )


def show(results: list[Result]) -> None:
    base = results[0].requests_per_day
    heads = ("requests/day", 13), ("of (a)", 8), ("per sent", 10), ("rows true", 11), ("(min day)", 11)
    print(f"  {'strategy':<34}" + "".join(f"{h:>{w}}" for h, w in heads) + f"{'reads <24h':>12}")
    for r in results:
        print(
            f"  {r.name:<34}{r.requests_per_day:>13,.0f}{r.requests_per_day / base:>8.1%}"
            f"{r.requests_per_sent:>10.2f}"
            f"{r.true_share:>11.3%}{r.true_share_min:>11.3%}{r.reads_seen_24h:>12.3%}"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--per-day", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=7, help="days measured, after the window filled")
    parser.add_argument("--window", type=int, default=7, help="the rolling window, in days")
    parser.add_argument(
        "--time-scale", type=float, default=1.0, help="stretch every delay (10: reads 10x later)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sweep", action="store_true", help="several factors and ceilings for (c)")
    args = parser.parse_args()
    default = RefreshPolicy()
    chooses: dict[str, Choose] = {
        "(a) full refresh": full,
        "(b) terminal carry-forward": by_policy(RefreshPolicy(factor=0, floor=timedelta(0))),
        f"(c) age-aware {_named(default)}": by_policy(default),
    }
    if args.sweep:
        for factor in (1, 2, 4, 8, 16):
            for ceiling in (2, 4, 7):
                policy = replace(default, factor=factor, ceiling=timedelta(days=ceiling))
                chooses[f"    {_named(policy)}"] = by_policy(policy)
    print(
        f"Refresh simulation: {args.per_day:,} sends/day (emulator campaigns, time scale "
        f"{args.time_scale:g}), daily snapshot of the last {args.window} days, {args.days} days "
        f"measured after {args.window} to fill"
    )
    show(simulate(args, chooses))


def _named(policy: RefreshPolicy) -> str:
    return f"x{policy.factor:g} {_h(policy.floor)}..{_h(policy.ceiling)}"


def _h(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours / 24:g}d" if hours >= 24 else f"{hours:g}h"


if __name__ == "__main__":
    main()
