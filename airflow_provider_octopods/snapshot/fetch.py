"""The second step of a snapshot run: fetch the plan's statuses into its checkpoint, one row
per id whatever happened to its request, stoppable from outside (SIGTERM)."""

from __future__ import annotations

import asyncio
import gc
import itertools
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import AbstractAsyncContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.compute as pc
from airflow.sdk.exceptions import AirflowException

from airflow_provider_octopods.clients.async_client import AsyncOctopodsClient, StatusResult
from airflow_provider_octopods.parquet.schema import RowBuffer
from airflow_provider_octopods.reporting.durations import Cadence, duration
from airflow_provider_octopods.reporting.log import Log
from airflow_provider_octopods.reporting.tally import Tally, describe_errors
from airflow_provider_octopods.snapshot.checkpoint import Progress
from airflow_provider_octopods.snapshot.plan import Ids

# Python ints a slice at a time: tolist() converts in C, and never the whole array.
_ID_SLICE = 4096


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
        f"Fetch progress: {done:,} of {total:,} rows fetched ({done / max(total, 1):.0%}), "
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
            buffer.add_error(int(result.message), result.error, fetched_at)
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


class Connect(Protocol):
    """Opens the async client: ``OctopodsHook.async_client``, or ``AsyncOctopodsClient`` with
    its settings bound."""

    def __call__(
        self, *, max_concurrency: int, requests_per_second: float | None
    ) -> AbstractAsyncContextManager[AsyncOctopodsClient]: ...


class Stop:
    """Stops a fetch from outside it (the operator's ``on_kill``, on SIGTERM): before its first
    request, or by cancelling it, the rows fetched so far committed."""

    def __init__(self) -> None:
        self.requested = False
        self._fetching: tuple[asyncio.AbstractEventLoop, asyncio.Task[Any]] | None = None

    def request(self) -> None:
        self.requested = True
        if self._fetching is not None:
            loop, task = self._fetching
            loop.call_soon_threadsafe(task.cancel)

    @contextmanager
    def cancels_current_task(self) -> Iterator[None]:
        """Within this block a request cancels the task running it."""
        task = asyncio.current_task()
        assert task is not None
        self._fetching = (asyncio.get_running_loop(), task)
        try:
            yield
        finally:
            self._fetching = None


class FetchOptions(Protocol):
    @property
    def max_concurrency(self) -> int: ...

    @property
    def timestamp_unit(self) -> str: ...


class FetchPlan(Protocol):
    """What a fetch needs of a plan (a Parquet snapshot's ``Plan``, a table's ``TablePlan``)."""

    @property
    def options(self) -> FetchOptions: ...

    @property
    def progress(self) -> Progress | None: ...

    @property
    def rate(self) -> float: ...

    @property
    def requests(self) -> Ids: ...


@dataclass(frozen=True)
class Fetched:
    """What a fetch leaves for the publisher: the checkpoint holding the fetched rows, and the
    client's counts (requests, 429s, errors by kind)."""

    checkpoint: Progress
    tally: Tally


def fetch_snapshot(plan: FetchPlan, connect: Connect, stop: Stop, log: Log) -> Fetched:
    """Fetch the plan's requests into its checkpoint, with the heap frozen (``heap_frozen``);
    ``stop`` ends it within seconds, with what was fetched committed for the retry to resume from."""
    progress = plan.progress
    assert progress is not None, "a run that writes nothing fetches nothing"
    if stop.requested:
        raise AirflowException("Stopped (SIGTERM) before the first request")
    try:
        with heap_frozen():
            tally = asyncio.run(_fetch(plan, progress, connect, stop, log))
    except asyncio.CancelledError:
        raise AirflowException(
            f"Stopped (SIGTERM); the rows fetched so far are kept in {progress.folder}, and "
            f"the next try resumes from them"
        ) from None
    return Fetched(progress, tally)


async def _fetch(plan: FetchPlan, progress: Progress, connect: Connect, stop: Stop, log: Log) -> Tally:
    ids, options = plan.requests, plan.options
    with stop.cancels_current_task():
        async with connect(max_concurrency=options.max_concurrency, requests_per_second=plan.rate) as client:
            slices = (ids[at : at + _ID_SLICE].tolist() for at in range(0, len(ids), _ID_SLICE))
            flat = itertools.chain.from_iterable(slices)
            buffer = RowBuffer(options.timestamp_unit)
            await fetch_into(client, flat, progress, buffer, total=len(ids), log=log)
            return client.tally
