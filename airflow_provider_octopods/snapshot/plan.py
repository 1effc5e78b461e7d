"""The first step of a snapshot run: decide it before its first request, with no task
instance in it. The inputs checked, the part named, the root's schema compared, the folders
shown writable, the rows carried forward and those earlier tries fetched, the rate: a ``Plan``.

Then ``fetch.fetch_snapshot`` makes the requests into the checkpoint, and a ``publish.Publisher``
makes the carried and fetched rows into the output. The operator reads the connection and the
task instance, runs the steps, and tells Airflow (the Asset event, metrics, lineage); another
output format reuses the plan and the fetch and brings its own publisher.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
from airflow.sdk import ObjectStoragePath
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_octopods.errors import InvalidMessageReference, OctopodsInputError
from airflow_provider_octopods.parquet.schema import snapshot_schema
from airflow_provider_octopods.refresh import LearnedRefresh, RefreshPolicy
from airflow_provider_octopods.reporting.durations import duration, least_time
from airflow_provider_octopods.reporting.log import Log
from airflow_provider_octopods.snapshot import checkpoint, inputs, partition
from airflow_provider_octopods.snapshot.checkpoint import Progress
from airflow_provider_octopods.snapshot.preflight import probe_writable
from airflow_provider_octopods.snapshot.previous import carried_forward, latest
from airflow_provider_octopods.snapshot.root import SchemaMismatch, check_schema, root_of

Ids = np.ndarray[Any, np.dtype[np.int64]]


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
        values["refresh_policy"] = values["refresh_policy"] or LearnedRefresh()
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
    message_ids: Sequence[object] | None  # the given references, or None with a path
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


def read_inputs(job: Job | Any, strict: bool, log: Log) -> inputs.MessageInputs:
    """The job's message ids (``message_ids`` or ``message_ids_path``; a ``TableJob`` has them
    too), checked; inputs that are not ids fail the run when ``strict``."""
    if job.message_ids_path is not None:
        source = ObjectStoragePath(job.message_ids_path)
        try:
            with source.open("rb") as stream:  # type: ignore[no-untyped-call]
                given = inputs.collect(inputs.read_refs(stream, str(source)), job.base_url)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as missing:
            why = missing.strerror or missing
            text = f"message_ids_path {source} is not a file ({why}); nothing was fetched"
            raise OctopodsInputError(text) from None
    else:
        given = inputs.collect(job.message_ids or (), job.base_url)
    if given.invalid:
        text = f"{given.invalid} of {given.received} input(s) are not message ids, e.g. {given.samples_text}"
        if strict:
            raise InvalidMessageReference(f"{text}; nothing was fetched (strict=True)")
        log.warning("%s; they get no row and count as errors towards max_error_ratio", text)
    return given


def plan_snapshot(job: Job, options: SnapshotOptions, log: Log) -> Plan:
    """Decide the run, and tell the log: nothing is requested yet. Fails when the root holds
    another schema or a folder cannot be written."""
    given = read_inputs(job, options.strict, log)
    folder = ObjectStoragePath(job.output_path)
    _check_root(folder, options)
    target = folder / partition.part_name(job.slot.index)
    rate = (options.max_requests_per_second or job.requests_per_second) / job.slot.shards
    nothing = Plan(job, options, given, folder, target, rate)
    if len(given.ids) == 0 and not options.write_empty_file:
        log.info("No message ids: nothing written (write_empty_file=False)")
        return nothing
    probe_writable(folder, "output_path")
    progress = open_checkpoint(
        job.slot,
        ObjectStoragePath(options.progress_path),
        options.timestamp_unit,
        options.checkpoint_rows,
        options.checkpoint_seconds,
        log,
    )
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


def open_checkpoint(
    slot: Slot, progress_path: ObjectStoragePath, unit: str, rows: int, seconds: float, log: Log
) -> Progress:
    """The task instance's pieces, with those of other try sequences removed, in a folder
    shown to be writable."""
    progress = Progress(
        progress_path / slot.progress_folder,
        slot.sequence,
        slot.try_number,
        snapshot_schema(unit),
        rows=rows,
        seconds=seconds,
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
    held = latest(dataset.to_table().cast(snapshot_schema(options.timestamp_unit)))
    return carried_forward(held, ids, options.refresh_policy, datetime.now(UTC), log)


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
