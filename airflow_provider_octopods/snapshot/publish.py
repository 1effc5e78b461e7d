"""The last step of a snapshot run: what it wrote (``RunResult``), the ``Publisher`` that writes
it, and the one publisher so far, of Parquet parts.

The Parquet part of a snapshot instance: ``part-<index>.parquet`` in its partition, written
from the carried rows and the checkpoint's pieces, and published whole (``SnapshotWriter``);
the partition then holds exactly this run's parts (see ``partition``)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, Protocol

from airflow.sdk.exceptions import AirflowException

from airflow_provider_octopods.errors import InvalidMessageReference
from airflow_provider_octopods.parquet.writer import SnapshotWriter
from airflow_provider_octopods.reporting.log import Log
from airflow_provider_octopods.reporting.tally import Tally, describe_errors
from airflow_provider_octopods.snapshot import partition
from airflow_provider_octopods.snapshot.fetch import FetchCounts, Fetched
from airflow_provider_octopods.snapshot.inputs import MessageInputs
from airflow_provider_octopods.snapshot.plan import Plan


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
        """Fail when error rows and invalid inputs together pass ``max_error_ratio``."""
        written = self.output_paths[0] if self.output_paths else None
        check_error_ratio(
            self.plan.given,
            self.rows,
            self.counts.error_rows,
            self.tally,
            self.plan.options.max_error_ratio,
            f"the file was written: {written}" if written else None,
        )


def check_error_ratio(
    given: MessageInputs, rows: int, errors: int, tally: Tally | None, limit: float, written: str | None
) -> None:
    """Fail when ``errors`` (of ``rows``) and invalid inputs together pass ``limit``, naming the
    kinds of error with a sample each, and what was ``written`` all the same. Invalid inputs
    alone fail without retries."""
    bad, seen = errors + given.invalid, rows + given.invalid
    if not seen or bad / seen <= limit:
        return
    parts = []
    if errors:
        kinds = "from an earlier try"
        if tally is not None and tally.errors:
            kinds = describe_errors(tally.errors, tally.samples)
        parts.append(f"{errors} of {rows} rows are errors: {kinds}")
    if given.invalid:
        parts.append(
            f"{given.invalid} of {given.received} inputs are not message ids (e.g. {given.samples_text})"
        )
    text = f"{'; '.join(parts)}. That is {bad} of {seen}, more than max_error_ratio={limit}"
    raise (AirflowException if errors else InvalidMessageReference)(
        text + (f"; {written}" if written else "")
    )


class Publisher(Protocol):
    """Makes a run's rows (the plan's carried ones, the fetched checkpoint's) into its output."""

    def publish(self, plan: Plan, fetched: Fetched, log: Log) -> RunResult: ...

    def publish_nothing(self, plan: Plan, log: Log) -> RunResult:
        """For a run that writes nothing: what earlier runs left that it would replace goes."""
        ...


class ParquetPartPublisher:
    """The ``Publisher`` of Parquet parts, one per task instance of a partition."""

    def publish(self, plan: Plan, fetched: Fetched, log: Log) -> RunResult:
        """Write the part, counting its rows by status; then remove the checkpoint (its rows
        are in the part) and the parts of an earlier run that this run does not replace."""
        folder, progress, group = plan.folder, fetched.checkpoint, plan.options.row_group_rows
        if left := partition.clear_leftovers(folder.fs, folder.path, plan.job.slot.index):
            log.warning("Removed what earlier, killed tries of this part left: %s", left)
        counts = FetchCounts()
        with SnapshotWriter(
            plan.target, progress.schema, compression=plan.options.compression, row_group_rows=group
        ) as writer:
            carried = [] if plan.carried is None else plan.carried.to_batches(max_chunksize=group)
            # One piece's batch in memory at a time: the pieces are read as they are written.
            for batch in itertools.chain(carried, progress.batches(plan.to_fetch, group)):
                counts.add(batch)
                writer.write(batch)
        progress.remove()
        _remove_stale(plan, log, wrote=True)
        return RunResult(plan, [str(plan.target)], counts, writer.rows, fetched.tally, plan.seconds())

    def publish_nothing(self, plan: Plan, log: Log) -> RunResult:
        _remove_stale(plan, log, wrote=False)
        return RunResult(plan, [], FetchCounts(), 0, None, plan.seconds())


def _remove_stale(plan: Plan, log: Log, *, wrote: bool) -> None:
    folder, slot = plan.folder, plan.job.slot
    if stale := partition.remove_stale(folder.fs, folder.path, slot.index, slot.shards, wrote=wrote):
        log.info("Removed parts of an earlier run this run does not replace: %s", stale)
