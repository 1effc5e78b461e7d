"""Fetch many statuses into snapshot rows: one row per id, whatever happened to its request."""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.compute as pc

from airflow_provider_octopods.clients.async_client import AsyncOctopodsClient, StatusResult
from airflow_provider_octopods.parquet.schema import RowBuffer
from airflow_provider_octopods.reporting.durations import Cadence, duration
from airflow_provider_octopods.reporting.tally import Tally, describe_errors


class Sink(Protocol):
    """Where fetched rows go (``checkpoint.Progress``): ``due`` says when to hand them over."""

    def due(self, buffered: int) -> bool: ...

    def write(self, batch: pa.RecordBatch) -> None: ...


@dataclass
class FetchCounts:
    """Rows per status and error rows (rows with no status) of what a snapshot writes."""

    rows_by_status: Counter[str] = field(default_factory=Counter)
    error_rows: int = 0

    def add(self, batch: pa.RecordBatch | pa.Table) -> None:
        status = batch.column("status")
        self.error_rows += status.null_count
        for entry in pc.value_counts(status.drop_null()).to_pylist():
            self.rows_by_status[entry["values"]] += entry["counts"]


@contextmanager
def heap_frozen() -> Iterator[None]:
    """Objects alive before a bulk fetch kept out of the garbage collector's full collections
    while it runs (``gc.freeze``, as Airflow's LocalExecutor does around a fork).

    A fetch keeps enough objects alive (rows, requests in flight) to set off full collections,
    and each one scanned the task process's whole heap: Airflow's, about 700,000 objects,
    0.45 s per collection, one per 100,000 statuses or so (measured). Unfrozen after, unless
    something froze objects before: the process then keeps them frozen, as it chose.
    """
    frozen_before = gc.get_freeze_count()
    gc.freeze()
    try:
        yield
    finally:
        if not frozen_before:
            gc.unfreeze()


def progress_line(done: int, total: int, tally: Tally, elapsed: float) -> str:
    """Where a fetch stands: rows, requests, 429s, errors by kind, rate, and time left."""
    rate = tally.requests / elapsed if elapsed > 0 else 0.0
    left = f"about {duration((total - done) * elapsed / done)} left" if done else "no row yet"
    errors = sum(tally.errors.values())
    return (
        f"Snapshot progress: {done:,} of {total:,} rows fetched ({done / max(total, 1):.0%}), "
        f"{tally.requests:,} requests, {tally.answered_429:,} answered 429, {errors:,} error rows"
        + (f" ({describe_errors(tally.errors, tally.samples)})" if errors else "")
        + f"; {rate:.1f} requests/s, {left}"
    )


async def fetch_into(
    client: AsyncOctopodsClient, ids: Iterable[int], sink: Sink, buffer: RowBuffer, *, total: int, log: Any
) -> None:
    """Stream the statuses of ``ids`` (``total`` of them) into ``sink``, telling ``log`` how it
    goes at a bounded cadence. A refused key raises at once; any other failure becomes that
    message's error row, so no id goes missing from the file. Whatever ends the fetch (done, a
    refused key, a cancel on SIGTERM), the rows fetched so far are handed to ``sink`` first."""
    cadence = Cadence()
    done = 0

    def handle(result: StatusResult) -> None:
        nonlocal done
        # Straight into the row buffer as each request completes: no queue between them.
        fetched_at = datetime.now(UTC)
        if result.status is not None:
            buffer.add_status(result.status, fetched_at)
        else:
            assert result.error is not None
            buffer.add_error(int(result.message), result.error, fetched_at)  # type: ignore[call-overload]
        done += 1
        if sink.due(len(buffer)):
            sink.write(buffer.take())
        if cadence.due():
            log.info(progress_line(done, total, client.tally, cadence.elapsed()))

    try:
        await client.for_each_status(ids, handle)
    finally:
        if len(buffer):
            sink.write(buffer.take())
