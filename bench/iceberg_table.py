"""What a day's run costs on the Iceberg table of current statuses, against the Parquet
operator's rolling snapshot of the same day; and what reading the last week costs from each.
No Airflow run and no emulator: the rows are built with pyarrow in the snapshot's schema.

- The table: a pyiceberg SQL catalog on SQLite, its warehouse in a temp folder, created with
  the provider's schema, partitioning, sort order and table properties. It is filled with
  ``--days`` days of ``--per-day`` messages (ids increasing with ``sent_at``), one
  ``merge.merge`` per day, each day's rows as they stand today: final (read, failed) but for
  the share that stays delivered or sent. Each day's partition then holds a file of final
  rows and one of the others: the layout daily runs leave (the not-final rows of a day are
  fetched, and rewritten, together).
- The day's run, one ``merge.merge``: ``--per-day`` new rows sent today, and ``--changed`` rows
  of earlier days fetched again, the not-final rows of the days the refresh policy makes due
  (the default ``FixedRefresh``: 1, 3, 7, 11, ... days back; the share of not-final rows per
  day is set so that these days hold ``--changed`` rows; with ``--not-final-share`` above
  that, ``--changed`` of them are fetched and the others rewritten); a quarter read since.
  Printed: the merge's wall time, the bytes it wrote (data files, and metadata: manifests,
  manifest list, table metadata, i.e. the files new in the warehouse), files added/removed,
  the rows the new files hold (the fetched ones, and those kept from rewritten files) and
  their bytes per row by column.
- The same day as the rolling example (dags/octopods_rolling_snapshot.py) does it: the whole
  ``--window``-day window (today's rows and the last days' as they stand after the run)
  written with ``SnapshotWriter`` (zstd, as the operator) into one new partition.
  Printed: write time, bytes (by column too), and Iceberg bytes / rolling bytes (the
  issue's target: at most a quarter; the commit within 30 s on a 2-core machine).
- Reading the current status of every message of the window: from the table with pyiceberg
  (``scan(row_filter=GreaterThanOrEqual("sent_at", ...)).to_arrow()``) and with Polars
  (``scan_iceberg``), against reading the rolling snapshot's newest folder with
  ``pyarrow.dataset`` and Polars.

``--simulate`` builds the table as daily runs would (``Simulation``): each day's run fetches
the day's messages and the rows the default ``FixedRefresh`` makes due, from each message's
truth at that moment; the day measured is the next run. Its due rows are not whole files:
the policy's wait is twice a row's age at its last fetch, so a day's not-final rows come due
on different days, and the merge rewrites the rest of their files.

The merge groups rows not final by the day the default ``FixedRefresh`` makes them due, as
the operator does (``snapshot.previous.due_together``), so that a run fetches whole files;
``--ungrouped`` writes them in one file per partition instead, for comparison.

``--table-property KEY=VALUE`` (repeatable) sets a table property at creation, to compare
writer settings: it wins over the merge's ``WRITE_DEFAULTS`` (e.g.
``write.parquet.compression-level=3``; 15 is the merge's; 19 writes 0.230 of the rolling
bytes in about 4 times the time).

    .venv/bin/python bench/iceberg_table.py [--days 30] [--per-day 100000] [--changed 100000] [--window 7]
        [--not-final-share 0.47] [--simulate] [--ungrouped]
        [--table-property write.parquet.compression-level=3]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.expressions import GreaterThanOrEqual

from airflow_provider_octopods.emulator.state import FAILURE_REASONS
from airflow_provider_octopods.iceberg import schema
from airflow_provider_octopods.iceberg.catalog import TABLE_PROPERTIES
from airflow_provider_octopods.iceberg.merge import COMMITTED_BY, TRY_NUMBER, merge
from airflow_provider_octopods.parquet.writer import SnapshotWriter
from airflow_provider_octopods.refresh import Decision, FixedRefresh
from airflow_provider_octopods.refresh.rows import Rows
from airflow_provider_octopods.snapshot.previous import due_together
from airflow_provider_octopods.snapshot.table_plan import table_state
from airflow_provider_octopods.status import DELIVERED, FAILED, READ, SENT

T = TypeVar("T")


def ascii(text: bytes) -> np.ndarray[Any, Any]:
    return np.frombuffer(text, np.uint8)


SCHEMA = schema.ARROW_SCHEMA
START = datetime(2026, 11, 1, tzinfo=UTC)
DAY_US = 86_400_000_000
RECIPIENTS = 1_000_000  # distinct phone numbers: customers get several messages a month
FAILED_SHARE = 0.06
SNAPSHOT_FILE = "snapshot_date=today/part-0.parquet"  # in the rolling snapshot's root
BASE64 = ascii(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
HEX_LOWER, HEX_UPPER = ascii(b"0123456789abcdef"), ascii(b"0123456789ABCDEF")


@dataclass(frozen=True)
class Target:
    """A local file for ``SnapshotWriter``: the parts of ``ObjectStoragePath`` it uses."""

    path: str
    protocol: str = "file"
    fs: Any = None


def timed(work: Callable[[], T]) -> tuple[T, float]:
    started = time.perf_counter()
    done = work()
    return done, time.perf_counter() - started


def strings(chars: np.ndarray[Any, Any]) -> pa.Array:
    """A string per row of ``chars`` (ASCII codes, one row per string, all as wide)."""
    count, width = chars.shape
    offsets = pa.py_buffer((np.arange(count + 1, dtype=np.int32) * width).tobytes())
    return pa.StringArray.from_buffers(count, offsets, pa.py_buffer(np.ascontiguousarray(chars).tobytes()))


def base64(raw: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Each row of ``raw`` (bytes, a multiple of 3 wide) in base64."""
    groups = raw.reshape(len(raw), -1, 3).astype(np.uint32)
    word = groups[..., 0] << 16 | groups[..., 1] << 8 | groups[..., 2]
    sextets = np.stack([word >> shift & 63 for shift in (18, 12, 6, 0)], axis=-1)
    return BASE64[sextets.reshape(len(raw), -1)]


def request_ids(rng: np.random.Generator, count: int) -> pa.Array:
    """uuid4 strings, as the API's ``request_id``."""
    chars = HEX_LOWER[rng.integers(0, 16, (count, 36))]
    chars[:, [8, 13, 18, 23]] = ord("-")
    chars[:, 14] = ord("4")
    return strings(chars)


def recipients(rng: np.random.Generator) -> np.ndarray[Any, Any]:
    """The digits of ``RECIPIENTS`` phone numbers of one country (a row each)."""
    digits = ascii(b"0123456789")[rng.integers(0, 10, (RECIPIENTS, 11))]
    digits[:, 0] = ord("1")
    return digits


def phone_numbers(digits: np.ndarray[Any, Any]) -> pa.Array:
    return strings(np.concatenate([np.broadcast_to(ascii(b"+"), (len(digits), 1)), digits], axis=1))


def channel_message_ids(rng: np.random.Generator, digits: np.ndarray[Any, Any]) -> pa.Array:
    """WhatsApp's ``wamid.`` ids: base64 of the recipient's number (``digits``, without the
    plus) and 18 random hex digits, framed as WhatsApp frames them."""
    count = len(digits)
    raw = np.concatenate(
        [
            np.broadcast_to(ascii(b"\x1c\x18\x0b"), (count, 3)),
            digits,
            np.broadcast_to(ascii(b"\x15\x02\x00\x11\x18\x12"), (count, 6)),
            HEX_UPPER[rng.integers(0, 16, (count, 18))],
            np.zeros((count, 1), np.uint8),
        ],
        axis=1,
    )
    return strings(np.concatenate([np.broadcast_to(ascii(b"wamid."), (count, 6)), base64(raw)], axis=1))


def timestamps(values: np.ndarray[Any, Any], present: np.ndarray[Any, Any] | None = None) -> pa.Array:
    mask = None if present is None else ~present
    finite = values if present is None else np.where(present, values, 0)
    return pa.array(finite.astype(np.int64), type=pa.int64(), mask=mask).cast(SCHEMA.field("sent_at").type)


class Traffic:
    """The messages of each day, as they stand today, in the snapshot's schema."""

    def __init__(self, seed: int, per_day: int, not_final_share: float) -> None:
        self.rng = np.random.default_rng(seed)
        self.per_day = per_day
        self.not_final_share = not_final_share
        self.digits = recipients(self.rng)

    def day(self, day: int, today: bool) -> pa.Table:
        """Day ``day``'s messages (ids from ``day * per_day``), fetched at the end of the day
        (``today``: the run's day, half of the reads still to come) or later."""
        rng, count = self.rng, self.per_day
        sent = START.timestamp() * 1e6 + day * DAY_US + np.sort(rng.uniform(0, DAY_US, count))
        not_final = 0.5 if today else self.not_final_share
        shares = [1 - FAILED_SHARE - not_final, FAILED_SHARE, not_final * 0.8, not_final * 0.2]
        status = np.array([READ, FAILED, DELIVERED, SENT])[rng.choice(4, count, p=shares)]
        delivered = sent + rng.exponential(5e6, count)
        read_at = delivered + rng.exponential(2 * 3600e6, count)
        fetched = START.timestamp() * 1e6 + (day + 1) * DAY_US + rng.uniform(0, 600e6, count)
        digits = self.digits[rng.integers(0, RECIPIENTS, count)]
        reasons = np.array(FAILURE_REASONS, dtype=object)[rng.integers(0, len(FAILURE_REASONS), count)]
        columns = {
            "message_id": pa.array(np.arange(day * count, (day + 1) * count, dtype=np.int64)),
            "status": pa.array(status),
            "phone_number": strings(
                np.concatenate([np.full((count, 1), ord("+"), np.uint8), digits], axis=1)
            ),
            "channel_message_id": channel_message_ids(rng, digits),
            "sent_at": timestamps(sent),
            "delivered_at": timestamps(delivered, (status == DELIVERED) | (status == READ)),
            "read_at": timestamps(read_at, status == READ),
            "failure_reason": pa.array(np.where(status == FAILED, reasons, None), type=pa.string()),
            "request_id": request_ids(rng, count),
            "fetched_at": timestamps(fetched),
            "error_code": pa.nulls(count, pa.int32()),
            "error": pa.nulls(count, pa.string()),
        }
        return pa.table(columns, schema=SCHEMA)

    def fetched_again(self, rows: pa.Table, now: datetime) -> pa.Table:
        """``rows`` (not final) as a fetch at ``now`` answers: a quarter read since."""
        count = rows.num_rows
        became_read = self.rng.random(count) < 0.25
        status = np.where(became_read, READ, np.asarray(rows.column("status").to_pylist(), dtype=object))
        sent = rows.column("sent_at").cast(pa.int64()).to_numpy()
        delivered = pc.fill_null(rows.column("delivered_at").cast(pa.int64()), pa.scalar(0)).to_numpy()
        delivered = np.where(delivered > 0, delivered, sent + self.rng.exponential(5e6, count))
        read_at = sent + self.rng.uniform(DAY_US / 2, (now.timestamp() * 1e6 - sent) * 0.99)
        updated = {
            "status": pa.array(status, type=pa.string()),
            "delivered_at": timestamps(delivered, (status == DELIVERED) | (status == READ)),
            "read_at": timestamps(read_at, became_read),
            "request_id": request_ids(self.rng, count),
            "fetched_at": timestamps(np.full(count, now.timestamp() * 1e6)),
        }
        for name, values in updated.items():
            rows = rows.set_column(SCHEMA.get_field_index(name), SCHEMA.field(name), values)
        return rows


class Simulation:
    """Every message's truth (when it is delivered, read, or that it failed) and what the table
    holds of it: for a table built by a run a day that fetches the day's messages and the rows
    the default ``FixedRefresh`` makes due, as the operator does. Reads come within hours but
    for a tail of days; a fifth are never read, a few never delivered."""

    def __init__(self, seed: int, per_day: int, days: int) -> None:
        rng = self.rng = np.random.default_rng(seed)
        self.per_day, count = per_day, per_day * days
        day_starts = np.repeat(np.arange(days) * DAY_US, per_day) + START.timestamp() * 1e6
        self.sent = day_starts + np.sort(rng.uniform(0, DAY_US, (days, per_day)), axis=1).ravel()
        kind = rng.choice(4, count, p=[0.70, FAILED_SHARE, 0.20, 0.04])  # read, failed, delivered, sent
        never = np.inf
        self.delivered = np.where((kind == 0) | (kind == 2), self.sent + rng.exponential(5e6, count), never)
        wait = np.where(
            rng.random(count) < 0.15, rng.exponential(2 * DAY_US, count), rng.exponential(2 * 3600e6, count)
        )
        self.read = np.where(kind == 0, self.delivered + wait, never)
        self.failed = kind == 1
        digits = ascii(b"0123456789")[rng.integers(0, 10, (RECIPIENTS, 11))][
            rng.integers(0, RECIPIENTS, count)
        ]
        self.phone = strings(np.concatenate([np.broadcast_to(ascii(b"+"), (count, 1)), digits], axis=1))
        self.wamid = channel_message_ids(rng, digits)
        self.reason = np.array(FAILURE_REASONS, dtype=object)[rng.integers(0, len(FAILURE_REASONS), count)]
        self.fetched = np.full(count, np.nan)
        self.status = np.full(count, None, dtype=object)

    def rows(self, ids: np.ndarray[Any, Any], at: np.ndarray[Any, Any]) -> pa.Table:
        """The rows of ``ids`` as fetches at ``at`` (microseconds) answer."""
        delivered, read = self.delivered[ids] <= at, self.read[ids] <= at
        failed = self.failed[ids]
        status = np.where(failed, FAILED, np.where(read, READ, np.where(delivered, DELIVERED, SENT)))
        columns = {
            "message_id": pa.array(ids.astype(np.int64)),
            "status": pa.array(status),
            "phone_number": self.phone.take(pa.array(ids)),
            "channel_message_id": self.wamid.take(pa.array(ids)),
            "sent_at": timestamps(self.sent[ids]),
            "delivered_at": timestamps(self.delivered[ids], delivered),
            "read_at": timestamps(self.read[ids], read),
            "failure_reason": pa.array(np.where(failed, self.reason[ids], None), type=pa.string()),
            "request_id": request_ids(self.rng, len(ids)),
            "fetched_at": timestamps(at),
            "error_code": pa.nulls(len(ids), pa.int32()),
            "error": pa.nulls(len(ids), pa.string()),
        }
        return pa.table(columns, schema=SCHEMA)

    def run(self, day: int) -> tuple[pa.Table, int]:
        """Day ``day``'s run, at its end: its rows, and how many were fetched again."""
        now = START + timedelta(days=day + 1)
        known = slice(0, day * self.per_day)
        us = "datetime64[us]"
        sent = self.sent[known].astype(np.int64).astype(us)
        fetched = self.fetched[known].astype(np.int64).astype(us)  # every earlier day's row was fetched
        nat = np.full(len(sent), np.datetime64("NaT", "us"))
        status, error = self.status[known], np.zeros(len(sent), bool)
        held = Rows(np.arange(len(sent)), status, error, sent, nat, nat, fetched)
        due = FixedRefresh().due(held, now)
        ids = np.concatenate([np.flatnonzero(due), np.arange(day * self.per_day, (day + 1) * self.per_day)])
        rows = self.rows(ids, np.full(len(ids), now.timestamp() * 1e6))
        self.fetched[ids], self.status[ids] = now.timestamp() * 1e6, rows.column("status").to_numpy(False)
        return rows, int(due.sum())

    def window(self, day: int, window: int) -> pa.Table:
        """The messages of the ``window`` days to ``day`` as the table holds them."""
        ids = np.arange((day + 1 - window) * self.per_day, (day + 1) * self.per_day)
        return self.rows(ids, self.fetched[ids])


def due_days(days: int) -> list[int]:
    """How many days back the default refresh policy makes a day's not-final rows due: each
    waits twice its age at the last fetch, at most ``ceiling``, until ``horizon``."""
    policy, back, found = FixedRefresh(), 1, []
    ceiling = policy.ceiling // timedelta(days=1)
    while back <= min(days, policy.horizon // timedelta(days=1)):
        found.append(back)
        back += min(2 * back, ceiling)
    return found


def verdict(met: bool) -> str:
    return "met" if met else "missed"


def folder_bytes(root: Path) -> dict[str, int]:
    return {str(path): path.stat().st_size for path in root.rglob("*") if path.is_file()}


def by_column(paths: list[str]) -> tuple[int, str]:
    """The files' rows, and their bytes per row by column, the largest first."""
    rows, sizes = 0, dict.fromkeys(SCHEMA.names, 0)
    for path in paths:
        metadata = pq.ParquetFile(path).metadata
        rows += metadata.num_rows
        for group in range(metadata.num_row_groups):
            for column in range(metadata.num_columns):
                chunk = metadata.row_group(group).column(column)
                sizes[chunk.path_in_schema] += chunk.total_compressed_size
    ranked = sorted(sizes.items(), key=lambda item: -item[1])
    return rows, ", ".join(f"{name} {size / max(rows, 1):.1f}" for name, size in ranked if size > rows / 2)


def create_table(folder: Path, properties: dict[str, str]) -> Any:
    catalog = SqlCatalog(
        "bench", uri=f"sqlite:///{folder}/catalog.db", warehouse=f"file://{folder}/warehouse"
    )
    catalog.create_namespace("octopods")
    return catalog.create_table(
        "octopods.message_statuses",
        schema=schema.table_schema(),
        partition_spec=schema.partition_spec(),
        sort_order=schema.sort_order(),
        properties={**TABLE_PROPERTIES, **properties},
    )


def merged(table: Any, rows: pa.Table, tag: str, args: Any) -> Any:
    fixed = Decision(np.zeros(0, bool), FixedRefresh().next_fetch, ())
    together = None if args.ungrouped else due_together(fixed, 1)
    return merge(table, rows, {COMMITTED_BY: tag, TRY_NUMBER: "1"}, fetched_together=together)


def build(table: Any, traffic: Traffic, args: Any) -> list[pa.Table]:
    """The table's history, one merge a day; the days' rows, kept for the run and the window."""
    history = []
    for day in range(args.days):
        rows = traffic.day(day, today=False)
        merged(table, rows, f"build-{day}", args)
        history.append(rows)
    return history


def run_rows(
    traffic: Traffic, history: list[pa.Table], now: datetime, changed: int
) -> tuple[pa.Table, list[int]]:
    """The day's fetched rows: today's new ones and the not-final rows of the due days (at
    most ``changed`` of them, taken at random)."""
    days = len(history)
    due = [days - back for back in due_days(days)]
    final = pa.array([READ, FAILED])
    candidates = pa.concat_tables(
        history[day].filter(pc.invert(pc.is_in(history[day].column("status"), final))) for day in due
    )
    if candidates.num_rows > changed:
        taken = traffic.rng.choice(candidates.num_rows, changed, replace=False)
        candidates = candidates.take(pa.array(np.sort(taken)))
    return pa.concat_tables([traffic.day(days, today=True), traffic.fetched_again(candidates, now)]), due


def window_rows(history: list[pa.Table], fetched: pa.Table, window: int) -> pa.Table:
    """The rolling snapshot's rows: every message of the window as it stands after the run."""
    older = pa.concat_tables(history[len(history) - (window - 1) :])
    fresh_ids = fetched.column("message_id")
    low = older.column("message_id")[0]
    fresh = fetched.filter(pc.greater_equal(fresh_ids, low))
    kept = older.filter(pc.invert(pc.is_in(older.column("message_id"), fresh.column("message_id"))))
    return pa.concat_tables([kept, fresh]).sort_by("message_id")


def rolling(folder: Path, rows: pa.Table) -> tuple[float, int]:
    """The window written as the operator does: one part, zstd, its row groups. Seconds, bytes."""
    path = folder / SNAPSHOT_FILE
    path.parent.mkdir(parents=True)

    def write() -> None:
        with SnapshotWriter(Target(str(path)), SCHEMA) as writer:
            for batch in rows.to_batches(max_chunksize=10_000):  # as checkpoints hand them over
                writer.write(batch)

    _, seconds = timed(write)
    return seconds, path.stat().st_size


def reads(table: Any, since: datetime, snapshot_folder: Path) -> list[tuple[str, int, float]]:
    """(reader, rows, seconds) for the window's current statuses."""
    readers: dict[str, Callable[[], Any]] = {
        "pyiceberg scan(sent_at >= ...).to_arrow()": lambda: table.scan(
            row_filter=GreaterThanOrEqual("sent_at", since.isoformat())
        ).to_arrow(),
        "polars scan_iceberg(...).filter(...)": lambda: (
            pl.scan_iceberg(table).filter(pl.col("sent_at") >= since).collect()
        ),
        "rolling: pyarrow.dataset(folder).to_table()": lambda: ds.dataset(snapshot_folder).to_table(),
        "rolling: polars scan_parquet(folder)": lambda: pl.scan_parquet(
            f"{snapshot_folder}/*.parquet"
        ).collect(),
    }
    found = []
    for name, read in readers.items():
        result, seconds = timed(read)
        found.append((name, len(result), seconds))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--per-day", type=int, default=100_000)
    parser.add_argument("--changed", type=int, default=100_000)
    parser.add_argument("--window", type=int, default=7)
    parser.add_argument("--seed", type=int, default=24)
    parser.add_argument(
        "--not-final-share",
        type=float,
        help="of a past day's rows (default: the due days hold --changed rows, all fetched); "
        "more than that: --changed of the due days' not-final rows are fetched, the others rewritten",
    )
    parser.add_argument(
        "--simulate",
        action="store_true",
        help="build the table by a run a day under the default FixedRefresh (Simulation); "
        "--changed and --not-final-share do not apply",
    )
    parser.add_argument(
        "--ungrouped",
        action="store_true",
        help="rows not final in one file per partition, not grouped by the day they come due "
        "(the operator groups them)",
    )
    parser.add_argument("--table-property", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    properties = dict(pair.split("=", 1) for pair in args.table_property)
    with tempfile.TemporaryDirectory(prefix="octopods-iceberg-bench-") as temp:
        folder = Path(temp)
        table = create_table(folder, properties)
        the_day = simulated(table, args) if args.simulate else as_stated(table, args)
        if properties:
            print(f"  table properties {properties}")
        run_day(table, folder, *the_day, args)


def as_stated(table: Any, args: Any) -> tuple[pa.Table, str, pa.Table]:
    """The day's fetched rows, where they come from, and the window's rows, with the table
    built one merge per day as the docstring says."""
    due = due_days(args.days)
    not_final_share = args.not_final_share or min(args.changed / (args.per_day * len(due)), 0.9)
    traffic = Traffic(args.seed, args.per_day, not_final_share)
    history, seconds = timed(lambda: build(table, traffic, args))
    print(
        f"Iceberg table: {args.days} days x {args.per_day:,} messages, one merge a day, built in "
        f"{seconds:.1f} s; not-final share of a past day {not_final_share:.1%}"
    )
    fetched, due = run_rows(traffic, history, START + timedelta(days=args.days + 1), args.changed)
    origin = f"from days {', '.join(str(args.days - day) for day in due)} back"
    return fetched, origin, window_rows(history, fetched, args.window)


def simulated(table: Any, args: Any) -> tuple[pa.Table, str, pa.Table]:
    """The same, with the table built by a run a day under the refresh policy."""
    simulation = Simulation(args.seed, args.per_day, args.days + 1)

    def build_all() -> int:
        again = 0
        for day in range(args.days):
            rows, fetched_again = simulation.run(day)
            merged(table, rows, f"build-{day}", args)
            again += fetched_again
        return again

    again, seconds = timed(build_all)
    print(
        f"Iceberg table: {args.days} days x {args.per_day:,} messages, a run a day fetching the new "
        f"ones and {again / args.days:,.0f} due ones a day on average, built in {seconds:.1f} s"
    )
    fetched, _ = simulation.run(args.days)
    return fetched, "under the default FixedRefresh", simulation.window(args.days, args.window)


def run_day(table: Any, folder: Path, fetched: pa.Table, origin: str, snapshot: pa.Table, args: Any) -> None:
    window = args.window
    warehouse = folder / "warehouse"
    before = folder_bytes(warehouse)
    done, seconds = timed(lambda: merged(table, fetched, "the-day", args))
    new = {path: size for path, size in folder_bytes(warehouse).items() if path not in before}
    data = sum(size for path, size in new.items() if path.endswith(".parquet"))
    metadata = sum(new.values()) - data
    print(
        f"Day's merge: {fetched.num_rows:,} rows ({done.inserted:,} new, {done.replaced:,} fetched again "
        f"{origin}) in {seconds:.1f} s; files +{done.files_added} -{done.files_removed}"
    )
    print(
        f"  written: data {data / 1e6:.1f} MB (merge says {done.bytes_added / 1e6:.1f} MB), "
        f"metadata {metadata / 1e6:.2f} MB, total {(data + metadata) / 1e6:.1f} MB; "
        f"{(data + metadata) / fetched.num_rows:.1f} bytes per fetched row"
    )
    rows, columns = by_column([path for path in new if path.endswith(".parquet")])
    print(
        f"  rows written {rows:,}: the fetched ones and {rows - fetched.num_rows:,} kept from the "
        f"rewritten files; bytes per row by column: {columns}"
    )
    write_seconds, written = rolling(folder / "rolling", snapshot)
    print(
        f"Rolling snapshot: {snapshot.num_rows:,} rows ({window} days) in {write_seconds:.1f} s, "
        f"{written / 1e6:.1f} MB ({written / snapshot.num_rows:.1f} bytes per row)"
    )
    print(f"  bytes per row by column: {by_column([str(folder / 'rolling' / SNAPSHOT_FILE)])[1]}")
    ratio = (data + metadata) / written
    print(
        f"Iceberg bytes / rolling bytes: {ratio:.3f} (target <= 0.25: {verdict(ratio <= 0.25)}); "
        f"commit {seconds:.1f} s (target <= 30 s: {verdict(seconds <= 30)})"
    )
    state, state_seconds = timed(lambda: table_state(table))
    print(f"The next run's plan reads the table's state ({state.num_rows:,} rows) in {state_seconds:.1f} s")
    since = START + timedelta(days=args.days + 1 - window)
    print(f"Reading the current status of the last {window} days (sent_at >= {since.date()}):")
    for name, rows, read_seconds in reads(table, since, folder / "rolling" / "snapshot_date=today"):
        print(f"  {name:<46} {rows:>10,} rows  {read_seconds:6.2f} s")


if __name__ == "__main__":
    # Polars plans the scan with pyiceberg when its own planner is not installed: say so once, here.
    os.environ.setdefault("POLARS_ICEBERG_PLANNER", "pyiceberg")
    main()
