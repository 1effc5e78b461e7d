"""The first step of a table run, decided before its first request: the new ids from the
inputs, the table's rows the refresh policy makes due, what earlier tries fetched.

The table is the run's state: every message in it is refreshed, run after run, until its
status is final or it is past the policy's horizon; the inputs only add ids it does not hold.
A mapped instance takes the due rows whose id falls to it (``id % shards == index``) and its
own inputs' new ids. The fetch (``fetch.fetch_snapshot``) is the Parquet snapshot's; the rows
go into the table through ``table_publish``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa
from airflow.sdk import ObjectStoragePath

from airflow_provider_octopods.iceberg.catalog import TableRef
from airflow_provider_octopods.iceberg.merge import ATTEMPTS, last_committed_try
from airflow_provider_octopods.iceberg.schema import ARROW_SCHEMA
from airflow_provider_octopods.refresh import Decision, LearnedRefresh, RefreshPolicy
from airflow_provider_octopods.refresh.rows import COLUMNS
from airflow_provider_octopods.reporting.durations import duration, least_time
from airflow_provider_octopods.reporting.log import Log
from airflow_provider_octopods.snapshot import inputs
from airflow_provider_octopods.snapshot.checkpoint import Progress
from airflow_provider_octopods.snapshot.plan import Ids, Slot, open_checkpoint, read_inputs
from airflow_provider_octopods.snapshot.previous import decide

# What the plan reads of the table: what the refresh policy reads.
STATE_COLUMNS = COLUMNS


@dataclass(frozen=True)
class TableOptions:
    """How a table run fetches and commits: the operator's parameters other than the
    templated ones, checked once (when the DAG is parsed). See the operator for each."""

    table: str
    progress_path: str | None
    max_requests_per_second: float | None
    max_concurrency: int
    strict: bool
    max_error_ratio: float
    refresh_policy: RefreshPolicy
    full_refresh: bool
    checkpoint_rows: int
    checkpoint_seconds: float
    commit_attempts: int = ATTEMPTS
    timestamp_unit: str = "us"  # Iceberg's: the fetch's rows are written in it

    def __post_init__(self) -> None:
        TableRef.parse(self.table)
        if self.commit_attempts < 1:
            raise ValueError(f"commit_attempts must be at least 1, not {self.commit_attempts}")

    @classmethod
    def from_parameters(cls, parameters: Mapping[str, Any]) -> TableOptions:
        """The options among ``parameters`` (by name); no ``refresh_policy``: the default one."""
        names = {f.name for f in fields(cls)} - {"timestamp_unit"}
        values = {name: parameters[name] for name in names}
        values["refresh_policy"] = values["refresh_policy"] or LearnedRefresh()
        return cls(**values)


@dataclass(frozen=True)
class TableJob:
    """What one task instance refreshes, as Airflow rendered and placed it."""

    message_ids: Sequence[object] | None
    message_ids_path: str | None
    base_url: str
    requests_per_second: float  # the connection's budget, when the options set none
    slot: Slot
    progress_root: ObjectStoragePath  # the options' progress_path, or beside the table
    started: float = field(default_factory=time.monotonic)


def _no_ids() -> Ids:
    return np.empty(0, dtype=np.int64)


@dataclass(frozen=True)
class TablePlan:
    """What a table run fetches, decided before its first request."""

    job: TableJob
    options: TableOptions
    given: inputs.MessageInputs
    rate: float
    progress: Progress
    known: int  # rows of the table
    decision: Decision  # the refresh policy's, on the table's rows
    new: Ids = field(default_factory=_no_ids)  # given ids the table does not hold
    due: Ids = field(default_factory=_no_ids)  # ids of the table's rows due now, of this instance
    resumed: Ids = field(default_factory=_no_ids)  # of new and due, the ids earlier tries fetched

    @property
    def to_fetch(self) -> Ids:
        return np.union1d(self.new, self.due)

    @property
    def requests(self) -> Ids:
        """The ids to fetch now."""
        return np.setdiff1d(self.to_fetch, self.resumed)

    def seconds(self) -> float:
        return round(time.monotonic() - self.job.started, 3)


def committed_by(slot: Slot) -> str:
    """The try sequence of a task instance, as its snapshots' summaries name it."""
    return f"{slot.progress_folder}#{slot.sequence}"


def plan_table(job: TableJob, options: TableOptions, table: Any, log: Log) -> TablePlan:
    """Decide the run from the inputs and the table (a pyiceberg ``Table``), and tell the log."""
    given = read_inputs(job, options.strict, log)
    slot = job.slot
    unit, rows, seconds = options.timestamp_unit, options.checkpoint_rows, options.checkpoint_seconds
    progress = open_checkpoint(slot, job.progress_root, unit, rows, seconds, log)
    _drop_committed(progress, table, slot, log)
    state = table_state(table)
    held = np.sort(state.column("message_id").to_numpy())
    new = np.setdiff1d(given.ids, held)
    decision = decide(state, options.refresh_policy, datetime.now(UTC), len(held) + len(new), log)
    due = held if options.full_refresh else state.column("message_id").to_numpy()[decision.due]
    due = np.sort(due[due % slot.shards == slot.index])
    rate = (options.max_requests_per_second or job.requests_per_second) / slot.shards
    plan = TablePlan(job, options, given, rate, progress, len(held), decision, new=new, due=due)
    plan = replace(plan, resumed=np.intersect1d(progress.done_ids(), plan.to_fetch))
    _announce(plan, table, log)
    return plan


def _drop_committed(progress: Progress, table: Any, slot: Slot, log: Log) -> None:
    """A try killed after its commit, before removing its pieces, left rows the table holds:
    they are not applied again."""
    committed = last_committed_try(table, committed_by(slot))
    if committed is not None and (applied := progress.discard_through(committed)):
        log.info("Removed %s piece(s): try %s committed their rows already", len(applied), committed)


def table_state(table: Any) -> pa.Table:
    """The table's ``STATE_COLUMNS``, one row per message."""
    if table.current_snapshot() is None:
        return ARROW_SCHEMA.empty_table().select(list(STATE_COLUMNS))
    return table.scan(selected_fields=STATE_COLUMNS).to_arrow()


def _announce(plan: TablePlan, table: Any, log: Log) -> None:
    resumed, requests, shards = len(plan.resumed), len(plan.requests), plan.job.slot.shards
    share = f" (the budget split over {shards} mapped instances)" if shards > 1 else ""
    log.info(
        "Refresh of Iceberg table %s (%s rows) at %s: %s new id(s) of %s given, %s row(s) due by the "
        "refresh policy%s, %s fetched by earlier tries, %s to fetch at %.4g requests/s%s: at least %s",
        plan.options.table,
        f"{plan.known:,}",
        table.location(),
        f"{len(plan.new):,}",
        f"{len(plan.given.ids):,}",
        f"{len(plan.due):,}",
        " (full_refresh)" if plan.options.full_refresh else "",
        f"{resumed:,}",
        f"{requests:,}",
        plan.rate,
        share,
        duration(least_time(requests, plan.rate)),
    )
