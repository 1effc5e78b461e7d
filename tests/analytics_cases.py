"""A day of statuses as the snapshot operator writes it (the emulator's messages, answered and
parsed as the client parses them, in the snapshot's schema, several part files), and the
delivery report's figures computed from those files by DuckDB, by Polars and by plain Python
counting rows as ``DEFINITIONS`` says, in one shape to hold against the report."""

from __future__ import annotations

import json
import math
import random
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from airflow_provider_octopods.analytics import DELIVERED_OR_READ, PERCENTILES, DeliveryReport
from airflow_provider_octopods.emulator.state import (
    CAMPAIGNS,
    FAILED,
    FAILURE_REASONS,
    FAILURE_WEIGHTS,
    Message,
    lifecycle,
    model_lifecycles,
)
from airflow_provider_octopods.errors import OctopodsRequestError, OctopodsServerError
from airflow_provider_octopods.parquet.schema import RowBuffer
from airflow_provider_octopods.protocol.answers import Answer, status_of

DAY = datetime(2026, 11, 26, tzinfo=UTC)
SNAPSHOT_AT = DAY + timedelta(hours=26)  # the next morning: most reads are in, some never come
NO_REASON = "(no reason given)"
RATES = ("delivery_rate", "read_rate", "failure_rate")
# Each latency's end: time to deliver is delivered_at - sent_at, time to read read_at - sent_at.
ENDS = {"deliver": "delivered_at", "read": "read_at"}


def latency(kind: str, q: float) -> str:
    """The summary's name of a percentile: ``time_to_deliver_p90_s``."""
    return f"time_to_{kind}_p{round(q * 100)}_s"


LATENCIES = tuple(latency(kind, q) for kind in ENDS for q in PERCENTILES)
HOURLY = ("messages", *RATES, *LATENCIES)  # an hour's figures: error rows are in no hour
# Sends by hour of the day (UTC): a morning campaign, an evening one, a trickle in between.
_SENDS_BY_HOUR = np.array([0, 0, 0, 0, 0, 0, 2, 4, 8, 30, 12, 6, 5, 5, 4, 4, 5, 6, 20, 9, 4, 2, 1, 0], float)


@dataclass
class Figures:
    """The report's figures as one engine computes them: unrounded, but for the report's own.
    ``day``: messages, error_rows, the rates (``RATES``, error_rate), ``LATENCIES``, by_status
    and failure_reasons; ``hourly``: hour of send (``2026-11-26T09``) to ``HOURLY``."""

    day: dict[str, Any]
    hourly: dict[str, dict[str, Any]]


def emulated_day(messages: int = 3000, unit: str = "us", seed: int = 26) -> pa.Table:
    """The day's snapshot: the emulator's campaign model, each message answered as the emulator
    answers at ``SNAPSHOT_AT`` and parsed by the client; a few statuses Octopods may add
    later (no send time: in no hour), and error rows for the fetches that failed."""
    rng = np.random.default_rng(seed)
    reasons = random.Random(seed)  # noqa: S311 - a reproducible day, not a secret
    hours = rng.choice(24, size=messages, p=_SENDS_BY_HOUR / _SENDS_BY_HOUR.sum())
    sent = DAY.timestamp() + hours * 3600 + rng.uniform(0, 3600, messages)
    steps = model_lifecycles(CAMPAIGNS, rng, np.zeros(messages, np.int64))
    later = [lifecycle(status="pending")] * 7 + [lifecycle(status="deleted")] * 3
    buffer = RowBuffer(unit)
    times = [*sent, *[DAY.timestamp()] * len(later)]
    for message_id, (at, lived) in enumerate(zip(times, [*steps, *later], strict=True), 1):
        reason = reasons.choices(FAILURE_REASONS, FAILURE_WEIGHTS)[0] if lived[-1][1] == FAILED else None
        message = Message(message_id, "key", f"+1555{message_id:07d}", float(at), lived, reason)
        body = json.dumps(message.body(SNAPSHOT_AT.timestamp(), f"req-{message_id}")).encode()
        buffer.add_status(status_of(Answer.read({}, body, None), message_id), SNAPSHOT_AT)
    for message_id in range(len(times) + 1, len(times) + 31):
        error = (
            OctopodsRequestError("Message not found", http_status=404, error_code=1004)
            if message_id % 3
            else OctopodsServerError("Octopods answered 503", http_status=503)
        )
        buffer.add_error(message_id, error, SNAPSHOT_AT)
    return pa.Table.from_batches([buffer.take()])


def write_partition(table: pa.Table, root: Path, parts: int = 3) -> Path:
    """``table`` as the operator leaves a day: ``part-<map index>.parquet`` files in the day's
    partition directory, each a slice of the messages; the directory."""
    folder = root / f"snapshot_date={DAY:%Y-%m-%d}"
    folder.mkdir(parents=True)
    size = math.ceil(table.num_rows / parts) if table.num_rows else 0
    for index in range(parts):
        part = table.slice(index * size, size) if size else table
        pq.write_table(part, folder / f"part-{index}.parquet", compression="zstd")
    return folder


def report_figures(report: DeliveryReport) -> Figures:
    """The report's figures in the engines' shape (rounded, as the report gives them)."""
    s = report.summary
    day = {k: s[k] for k in ("messages", "error_rows", "error_rate", *RATES, *LATENCIES)}
    day |= {"by_status": s["by_status"], "failure_reasons": s["failure_reasons"]}
    hourly = {
        f"{row['sent_hour']:%Y-%m-%dT%H}": {k: _none_for_nan(row[k]) for k in HOURLY}
        for row in report.hourly.to_dict("records")
    }
    return Figures(day, hourly)


def _none_for_nan(value: Any) -> Any:
    """The hourly DataFrame holds an hour's missing figure (None in the summary) as NaN: pandas
    makes a float column of floats and Nones."""
    return None if isinstance(value, float) and math.isnan(value) else value


# Every figure of a set of rows, for the day (no group) or by hour of send (sent_hour). The hour
# is truncated in UTC whatever the session's TimeZone: date_trunc on a TIMESTAMPTZ truncates in
# the session's zone (Asia/Kolkata: hours starting at :30 UTC). Division by zero is NaN in
# DuckDB, so a denominator of 0 is made NULL: the report says None.
_DUCKDB_FIGURES = """
WITH m AS (
    SELECT status,
           epoch(delivered_at - sent_at) AS to_deliver,
           epoch(read_at - sent_at) AS to_read,
           strftime(date_trunc('hour', timezone('UTC', sent_at)), '%Y-%m-%dT%H') AS sent_hour
    FROM read_parquet('{files}')
)
SELECT {key} AS key,
       count(*) AS messages,
       count(*) FILTER (WHERE status IS NULL) AS error_rows,
       count(*) FILTER (WHERE status IN ('delivered', 'read')) / nullif(count(*), 0) AS delivery_rate,
       count(*) FILTER (WHERE status = 'read')
         / nullif(count(*) FILTER (WHERE status IN ('delivered', 'read')), 0) AS read_rate,
       count(*) FILTER (WHERE status = 'failed') / nullif(count(*), 0) AS failure_rate,
       count(*) FILTER (WHERE status IS NULL) / nullif(count(*), 0) AS error_rate,
       quantile_cont(to_deliver, [0.5, 0.9, 0.99]) AS time_to_deliver,
       quantile_cont(to_read, [0.5, 0.9, 0.99]) AS time_to_read
FROM m {grouping}
"""
_DUCKDB_COUNTS = """
SELECT {key}, count(*) FROM read_parquet('{files}') WHERE {where} GROUP BY ALL
"""


def duckdb_figures(folder: Path, time_zone: str = "UTC") -> Figures:
    """The figures DuckDB computes from the part files, in a session of ``time_zone``."""
    import duckdb

    con = duckdb.connect()
    con.execute(f"SET TimeZone = '{time_zone}'")
    files = f"{folder}/*.parquet"

    def rows(key: str, grouping: str = "") -> list[dict[str, Any]]:
        cursor = con.execute(_DUCKDB_FIGURES.format(files=files, key=key, grouping=grouping))
        names = [c[0] for c in cursor.description]
        return [_spread_latencies(dict(zip(names, row, strict=True))) for row in cursor.fetchall()]

    def counts(key: str, where: str) -> dict[str, int]:
        return dict(con.execute(_DUCKDB_COUNTS.format(files=files, key=key, where=where)).fetchall())

    [day] = rows("NULL")
    del day["key"]
    day["by_status"] = counts("status", "status IS NOT NULL")
    day["failure_reasons"] = counts(f"coalesce(failure_reason, '{NO_REASON}')", "status = 'failed'")
    hourly = rows("sent_hour", "WHERE sent_hour IS NOT NULL GROUP BY sent_hour")
    by_hour = {row.pop("key"): row for row in hourly}
    for row in by_hour.values():  # error rows have no send time: no hour has any
        del row["error_rows"], row["error_rate"]
    return Figures(day, by_hour)


def _spread_latencies(row: dict[str, Any]) -> dict[str, Any]:
    """A row's lists of percentiles (None when no message has that time) as one figure each."""
    for kind in ENDS:
        values = row.pop(f"time_to_{kind}") or [None] * len(PERCENTILES)
        row |= {latency(kind, q): v for q, v in zip(PERCENTILES, values, strict=True)}
    return row


def polars_figures(folder: Path) -> Figures:
    """The figures Polars computes from the part files (a lazy scan)."""
    import polars as pl

    scan = pl.scan_parquet(f"{folder}/*.parquet")
    status = pl.col("status")
    figures = _polars_expressions()
    [day] = scan.select(figures, error_rows=status.is_null().sum()).collect().to_dicts()
    day["error_rate"] = day["error_rows"] / day["messages"] if day["messages"] else None

    def counts(frame: pl.LazyFrame, key: pl.Expr) -> dict[str, int]:
        return dict(frame.group_by(key.alias("key")).len().collect().iter_rows())

    day["by_status"] = counts(scan.filter(status.is_not_null()), status)
    reason = pl.col("failure_reason").fill_null(NO_REASON)
    day["failure_reasons"] = counts(scan.filter(status == "failed"), reason)
    hour = pl.col("sent_at").dt.truncate("1h").dt.strftime("%Y-%m-%dT%H")
    hourly = scan.filter(pl.col("sent_at").is_not_null()).group_by(hour.alias("key")).agg(figures)
    return Figures(day, {row.pop("key"): row for row in hourly.collect().to_dicts()})


def _polars_expressions() -> list[Any]:
    """The figures as Polars expressions. Two traps: ``dt.total_seconds()`` is whole seconds
    unless ``fractional=True``, and 0 / 0 is NaN, not null, so an empty denominator is masked."""
    import polars as pl

    status = pl.col("status")
    reached = status.is_in(DELIVERED_OR_READ).sum()

    def share(part: pl.Expr, whole: pl.Expr) -> pl.Expr:
        return pl.when(whole > 0).then(part / whole)

    def seconds(kind: str) -> pl.Expr:
        return (pl.col(ENDS[kind]) - pl.col("sent_at")).dt.total_seconds(fractional=True)

    return [
        pl.len().alias("messages"),
        share(reached, pl.len()).alias("delivery_rate"),
        share((status == "read").sum(), reached).alias("read_rate"),
        share((status == "failed").sum(), pl.len()).alias("failure_rate"),
        *(
            seconds(kind).quantile(q, interpolation="linear").alias(latency(kind, q))
            for kind in ENDS
            for q in PERCENTILES
        ),
    ]


def python_figures(table: pa.Table) -> Figures:
    """The figures counted row by row in plain Python, as ``DEFINITIONS`` words them."""
    rows = table.to_pylist()
    day = _counted(rows)
    errors = sum(row["status"] is None for row in rows)
    day |= {"error_rows": errors, "error_rate": errors / len(rows) if rows else None}
    day["by_status"] = dict(Counter(row["status"] for row in rows if row["status"] is not None))
    failed = (row["failure_reason"] or NO_REASON for row in rows if row["status"] == "failed")
    day["failure_reasons"] = dict(Counter(failed))
    by_hour: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        if row["sent_at"] is not None:
            by_hour[f"{row['sent_at']:%Y-%m-%dT%H}"].append(row)
    return Figures(day, {hour: _counted(hour_rows) for hour, hour_rows in by_hour.items()})


def _counted(rows: list[dict[str, Any]]) -> dict[str, Any]:
    status = Counter(row["status"] for row in rows)
    reached = status["delivered"] + status["read"]
    figures = {
        "messages": len(rows),
        "delivery_rate": reached / len(rows) if rows else None,
        "read_rate": status["read"] / reached if reached else None,
        "failure_rate": status["failed"] / len(rows) if rows else None,
    }
    for kind, end in ENDS.items():
        seconds = sorted(
            (row[end] - row["sent_at"]).total_seconds()
            for row in rows
            if row[end] is not None and row["sent_at"] is not None
        )
        figures |= {latency(kind, q): _linear(seconds, q) for q in PERCENTILES}
    return figures


def _linear(ordered: list[float], q: float) -> float | None:
    """The ``q`` quantile with linear interpolation between the closest ranks (pandas' default,
    DuckDB's quantile_cont)."""
    if not ordered:
        return None
    position = (len(ordered) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def mismatches(report: Figures, engine: Figures) -> list[str]:
    """Where ``engine``'s figures, rounded as the report rounds them, are not the report's."""
    found = figure_mismatches("day", report.day, engine.day, complete=True)
    for name in ("by_status", "failure_reasons"):
        if report.day[name] != engine.day[name]:
            found.append(f"day {name}: report {report.day[name]}, engine {engine.day[name]}")
    if report.hourly.keys() != engine.hourly.keys():
        found.append(f"hours: {sorted(report.hourly)} != {sorted(engine.hourly)}")
    for hour in report.hourly.keys() & engine.hourly.keys():
        found += figure_mismatches(hour, report.hourly[hour], engine.hourly[hour], complete=True)
    return found


def figure_mismatches(
    where: str, report: dict[str, Any], engine: dict[str, Any], complete: bool = False
) -> list[str]:
    """The figures both have that differ; ``complete``: and the figures one of them lacks."""
    missing = report.keys() ^ engine.keys() if complete else set()
    checks: Iterable[tuple[str, Callable[[Any, Any], bool]]] = [
        ("messages", _equal),
        *((name, _rate) for name in (*RATES, "error_rate")),
        ("error_rows", _equal),
        *((name, _latency) for name in LATENCIES),
    ]
    return [f"{where}: {name} missing" for name in sorted(missing)] + [
        f"{where} {name}: report {report[name]!r}, engine {engine[name]!r}"
        for name, same in checks
        if name in report and name in engine and not same(report[name], engine[name])
    ]


def _equal(reported: Any, computed: Any) -> bool:
    return bool(reported == computed)


def _rate(reported: float | None, computed: float | None) -> bool:
    """A rate: the engine's exact quotient, rounded by Python as the report rounds (4 digits)."""
    return reported is None if computed is None else reported == round(computed, 4)


def _latency(reported: float | None, computed: float | None) -> bool:
    """A percentile in seconds: the engine's value rounded to the millisecond, as the report
    rounds, is the report's; except on a tie (timestamps in milliseconds put many a p50 half
    way between two milliseconds), where the engines' interpolations differ in the last bit
    and either neighbour is the rounding of the same value."""
    if reported is None or computed is None:
        return reported is None and computed is None
    if reported == round(computed, 3):
        return True
    return math.isclose(abs(computed - reported), 0.0005, rel_tol=0, abs_tol=1e-9 * max(1.0, abs(computed)))
