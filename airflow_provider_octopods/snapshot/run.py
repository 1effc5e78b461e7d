"""One snapshot run in named steps, with no task instance in them.

``plan_snapshot`` decides the run before its first request (the inputs checked, the part named,
the root's schema compared, the folders shown writable, the rows carried forward and those
earlier tries fetched, the rate); ``fetch_snapshot`` makes the requests into the checkpoint; a
``Publisher`` makes the carried and fetched rows into the output (``publish.ParquetPartPublisher``
writes a Parquet part) and says what the run wrote (``RunResult``).

The operator reads the connection and the task instance, runs the steps, and tells Airflow
(the Asset event, metrics, lineage). Another output format reuses the plan and the fetch and
brings its own ``Publisher``.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, contextmanager
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from typing import Any, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
from airflow.sdk import ObjectStoragePath
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from airflow_provider_octopods.clients.async_client import AsyncOctopodsClient
from airflow_provider_octopods.errors import InvalidMessageReference
from airflow_provider_octopods.parquet.schema import RowBuffer, snapshot_schema
from airflow_provider_octopods.reporting.durations import duration, least_time
from airflow_provider_octopods.reporting.tally import Tally, describe_errors
from airflow_provider_octopods.snapshot import checkpoint, inputs, partition
from airflow_provider_octopods.snapshot.checkpoint import Progress
from airflow_provider_octopods.snapshot.fetch import FetchCounts, fetch_into, heap_frozen
from airflow_provider_octopods.snapshot.preflight import probe_writable
from airflow_provider_octopods.snapshot.previous import carried_forward
from airflow_provider_octopods.snapshot.refresh import RefreshPolicy
from airflow_provider_octopods.snapshot.root import SchemaMismatch, check_schema, root_of
from airflow_provider_octopods.templated import as_list
from airflow_provider_octopods.wait.engine import Log

Ids = np.ndarray[Any, np.dtype[np.int64]]
# Python ints a slice at a time: tolist() converts in C, and never the whole array.
_ID_SLICE = 4096


@dataclass(frozen=True)
class SnapshotOptions:
    """How a snapshot is fetched and written: the operator's parameters other than the
    templated ones, checked once (when the DAG is parsed). See the operator for each."""

    output_root: str
    progress_path: str
    max_requests_per_second: float | None
    max_concurrency: int
    strict: bool
    max_error_ratio: float
    incremental: bool
    refresh_policy: RefreshPolicy
    full_refresh: bool
    write_empty_file: bool
    timestamp_unit: str
    compression: str
    row_group_rows: int
    checkpoint_rows: int
    checkpoint_seconds: float

    def __post_init__(self) -> None:
        snapshot_schema(self.timestamp_unit)  # refuses an unknown unit
        if self.progress_path.rstrip("/").startswith(self.output_root.rstrip("/") + "/"):
            raise ValueError(
                f"progress_path {self.progress_path} is under the output root {self.output_root}, "
                "which readers scan whole: choose a folder outside it"
            )

    @classmethod
    def from_parameters(cls, output_path: str, parameters: Mapping[str, Any]) -> SnapshotOptions:
        """The options among ``parameters`` (by name; others are ignored), the root that of
        ``output_path``; no ``progress_path`` or ``refresh_policy`` means the default one."""
        root = root_of(output_path)
        values = {f.name: parameters[f.name] for f in fields(cls) if f.name != "output_root"}
        values["progress_path"] = values["progress_path"] or checkpoint.default_progress_path(root)
        values["refresh_policy"] = values["refresh_policy"] or RefreshPolicy()
        return cls(output_root=root, **values)


@dataclass(frozen=True)
class Slot:
    """The task instance's place in its run: the part it writes (its map index, 0 when not
    mapped) among ``shards`` instances, and where its fetched rows are committed: the folder
    of ``checkpoint.folder_name``, its try sequence and try (``checkpoint.sequence_of``)."""

    index: int
    shards: int
    progress_folder: str
    sequence: str
    try_number: int


@dataclass(frozen=True)
class Job:
    """What one task instance snapshots, as Airflow rendered and placed it. ``previous_path``
    is asked once the checkpoint is ready, when the plan needs it."""

    output_path: str
    message_ids: Sequence[int | str] | str | None
    message_ids_path: str | None
    base_url: str
    requests_per_second: float  # the connection's budget, when the options set none
    previous_path: Callable[[], str | None]
    slot: Slot
    started: float = field(default_factory=time.monotonic)


def _no_ids() -> Ids:
    return np.empty(0, dtype=np.int64)


@dataclass(frozen=True)
class Plan:
    """What a run writes and fetches, decided before its first request. ``progress`` (the
    checkpoint) is None when the run writes nothing (no ids, ``write_empty_file=False``)."""

    job: Job
    options: SnapshotOptions
    given: inputs.MessageInputs
    folder: ObjectStoragePath  # the partition
    target: ObjectStoragePath  # the part of this instance
    rate: float  # requests per second, this instance's share of the budget
    progress: Progress | None = None
    carried: pa.Table | None = None  # rows of the previous snapshot kept as they are
    to_fetch: Ids = field(default_factory=_no_ids)  # the ids not carried: the checkpoint's
    resumed: Ids = field(default_factory=_no_ids)  # of those, the ids earlier tries fetched

    @property
    def writes(self) -> bool:
        return self.progress is not None

    @property
    def requests(self) -> Ids:
        """The ids to fetch now."""
        return np.setdiff1d(self.to_fetch, self.resumed)

    def seconds(self) -> float:
        """Seconds since the run started."""
        return round(time.monotonic() - self.job.started, 3)


@dataclass(frozen=True)
class Fetched:
    """What a fetch leaves for the publisher: the checkpoint holding the fetched rows, and the
    client's counts (requests, 429s, errors by kind)."""

    checkpoint: Progress
    tally: Tally


@dataclass(frozen=True)
class RunResult:
    """What a run wrote. ``tally`` is None when no fetch ran (the run writes nothing)."""

    plan: Plan
    output_paths: list[str]
    counts: FetchCounts
    rows: int
    tally: Tally | None
    seconds: float

    @property
    def summary(self) -> dict[str, Any]:
        """The task's XCom: inputs, outputs, rows by status, requests, seconds."""
        given = self.plan.given
        head = {
            "output_paths": self.output_paths,
            "inputs": given.received,
            "duplicates": given.duplicates,
            "invalid_inputs": given.invalid,
            "invalid_samples": given.invalid_samples,
        }
        if self.tally is None:
            return {**head, "rows": self.rows, "seconds": self.seconds}
        return {
            **head,
            "rows": self.rows,
            "rows_by_status": dict(self.counts.rows_by_status),
            "error_rows": self.counts.error_rows,
            "carried_forward": 0 if self.plan.carried is None else self.plan.carried.num_rows,
            "resumed_rows": len(self.plan.resumed),
            "requests": self.tally.requests,
            "rate_limited": self.tally.answered_429,
            "seconds": self.seconds,
        }

    def check_error_ratio(self) -> None:
        """Fail when error rows and invalid inputs together pass ``max_error_ratio``, naming the
        kinds of error with a sample each. Invalid inputs alone fail without retries."""
        given, errors, limit = self.plan.given, self.counts.error_rows, self.plan.options.max_error_ratio
        bad, seen = errors + given.invalid, self.rows + given.invalid
        if not seen or bad / seen <= limit:
            return
        parts = []
        if errors:
            kinds = "from an earlier try"
            if self.tally is not None and self.tally.errors:
                kinds = describe_errors(self.tally.errors, self.tally.samples)
            parts.append(f"{errors} of {self.rows} rows are errors: {kinds}")
        if given.invalid:
            samples = _samples(given)
            parts.append(f"{given.invalid} of {given.received} inputs are not message ids (e.g. {samples})")
        written = f"; the file was written: {self.output_paths[0]}" if self.output_paths else ""
        ratio = f"{bad} of {seen}, more than max_error_ratio={limit}"
        text = f"{'; '.join(parts)}. That is {ratio}{written}"
        raise (AirflowException if errors else InvalidMessageReference)(text)


class Publisher(Protocol):
    """Makes a run's rows (the plan's carried ones, the fetched checkpoint's) into its output."""

    def publish(self, plan: Plan, fetched: Fetched, log: Log) -> RunResult: ...

    def publish_nothing(self, plan: Plan, log: Log) -> RunResult:
        """For a run that writes nothing: what earlier runs left that it would replace goes."""
        ...


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


def _samples(given: inputs.MessageInputs) -> str:
    return ", ".join(given.invalid_samples)


def _read_inputs(job: Job, strict: bool, log: Log) -> inputs.MessageInputs:
    """The job's message ids, checked; inputs that are not ids fail the run when ``strict``."""
    if job.message_ids_path is not None:
        source = ObjectStoragePath(job.message_ids_path)
        with source.open("rb") as stream:  # type: ignore[no-untyped-call]
            given = inputs.collect(inputs.read_refs(stream, str(source)), job.base_url)
    else:
        given = inputs.collect(as_list(job.message_ids, "message_ids"), job.base_url)
    if given.invalid:
        text = f"{given.invalid} of {given.received} input(s) are not message ids, e.g. {_samples(given)}"
        if strict:
            raise InvalidMessageReference(f"{text}; nothing was fetched (strict=True)")
        log.warning("%s; they get no row and count as errors towards max_error_ratio", text)
    return given


def plan_snapshot(job: Job, options: SnapshotOptions, log: Log) -> Plan:
    """Decide the run, and tell the log: nothing is requested yet. Fails when the root holds
    another schema or a folder cannot be written."""
    given = _read_inputs(job, options.strict, log)
    folder = ObjectStoragePath(job.output_path)
    _check_root(folder, options)
    target = folder / partition.part_name(job.slot.index)
    rate = (options.max_requests_per_second or job.requests_per_second) / job.slot.shards
    nothing = Plan(job, options, given, folder, target, rate)
    if len(given.ids) == 0 and not options.write_empty_file:
        log.info("No message ids: nothing written (write_empty_file=False)")
        return nothing
    probe_writable(folder, "output_path")
    progress = _checkpoint(job.slot, options, log)
    carried = _carried_forward(given.ids, job.previous_path(), options, log)
    to_fetch = given.ids if carried is None else np.setdiff1d(given.ids, carried.column("message_id"))
    resumed = np.intersect1d(progress.done_ids(), to_fetch)
    plan = replace(nothing, progress=progress, carried=carried, to_fetch=to_fetch, resumed=resumed)
    _announce(plan, log)
    return plan


def _check_root(folder: ObjectStoragePath, options: SnapshotOptions) -> None:
    try:
        check_schema(
            folder.fs,
            ObjectStoragePath(options.output_root).path,
            folder.path,
            snapshot_schema(options.timestamp_unit),
        )
    except SchemaMismatch as refused:
        raise AirflowFailException(f"Nothing was fetched: {refused}") from None


def _checkpoint(slot: Slot, options: SnapshotOptions, log: Log) -> Progress:
    """The task instance's pieces, with those of other try sequences removed, in a folder
    shown to be writable."""
    progress = Progress(
        ObjectStoragePath(options.progress_path) / slot.progress_folder,
        slot.sequence,
        slot.try_number,
        snapshot_schema(options.timestamp_unit),
        rows=options.checkpoint_rows,
        seconds=options.checkpoint_seconds,
    )
    probe_writable(progress.folder, "progress_path (fetched rows wait there for the part)")
    if removed := progress.discard_others():
        log.info("Removed progress of an earlier run or try sequence: %s", removed)
    return progress


def _carried_forward(ids: Ids, path: str | None, options: SnapshotOptions, log: Log) -> pa.Table | None:
    """Rows of the previous snapshot at ``path`` that are not due for a request."""
    if not path:
        return None
    previous = ObjectStoragePath(path)
    if not previous.exists():
        log.warning("No previous snapshot at %s: fetching everything", previous)
        return None
    dataset = ds.dataset(previous.path, filesystem=previous.fs, format="parquet")
    wanted = pc.field("message_id").isin(pa.array(ids, pa.int64()))
    table = dataset.to_table(filter=wanted).cast(snapshot_schema(options.timestamp_unit))
    return carried_forward(table, options.refresh_policy, datetime.now(UTC))


def _announce(plan: Plan, log: Log) -> None:
    """The start line: how many rows, fetched how, at what budget, taking how long at least."""
    ids, carried, resumed = len(plan.given.ids), len(plan.given.ids) - len(plan.to_fetch), len(plan.resumed)
    requests, shards = ids - carried - resumed, plan.job.slot.shards
    share = f" (the budget split over {shards} mapped instances)" if shards > 1 else ""
    log.info(
        "Snapshot of %s message(s) to %s: %s carried forward, %s fetched by earlier tries, %s to "
        "fetch at %.4g requests/s%s: at least %s",
        f"{ids:,}",
        plan.target,
        f"{carried:,}",
        f"{resumed:,}",
        f"{requests:,}",
        plan.rate,
        share,
        duration(least_time(requests, plan.rate)),
    )


def fetch_snapshot(plan: Plan, connect: Connect, stop: Stop, log: Log) -> Fetched:
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


async def _fetch(plan: Plan, progress: Progress, connect: Connect, stop: Stop, log: Log) -> Tally:
    ids, options = plan.requests, plan.options
    with stop.cancels_current_task():
        async with connect(max_concurrency=options.max_concurrency, requests_per_second=plan.rate) as client:
            slices = (ids[at : at + _ID_SLICE].tolist() for at in range(0, len(ids), _ID_SLICE))
            flat = itertools.chain.from_iterable(slices)
            buffer = RowBuffer(options.timestamp_unit)
            await fetch_into(client, flat, progress, buffer, total=len(ids), log=log)
            return client.tally
