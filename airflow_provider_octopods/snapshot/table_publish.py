"""The last step of a table run: the fetched rows merged into the table in one snapshot that
names the task try (``iceberg.merge``), then the checkpoint removed; what it did
(``TableRunResult``) for the task's XCom, the Asset event and the lineage."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from airflow_provider_octopods.iceberg.merge import COMMITTED_BY, TRY_NUMBER, Merged, merge
from airflow_provider_octopods.reporting.log import Log
from airflow_provider_octopods.reporting.tally import Tally
from airflow_provider_octopods.snapshot.fetch import FetchCounts, Fetched
from airflow_provider_octopods.snapshot.previous import due_together
from airflow_provider_octopods.snapshot.publish import check_error_ratio
from airflow_provider_octopods.snapshot.table_plan import TablePlan, committed_by

_BATCH_ROWS = 65_536


@dataclass(frozen=True)
class TaskTry:
    """The task try that commits, as the snapshot's summary names it."""

    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    try_number: int

    def properties(self, plan: TablePlan) -> dict[str, str]:
        """The snapshot summary's properties; ``COMMITTED_BY`` names the try sequence, so that
        a later try of it finds its commit."""
        return {
            "octopods.dag-id": self.dag_id,
            "octopods.run-id": self.run_id,
            "octopods.task-id": self.task_id,
            "octopods.map-index": str(self.map_index),
            TRY_NUMBER: str(self.try_number),
            COMMITTED_BY: committed_by(plan.job.slot),
        }


@dataclass(frozen=True)
class TableRunResult:
    """What a table run fetched and committed."""

    plan: TablePlan
    merged: Merged
    counts: FetchCounts
    rows: int  # fetched rows, this try's and earlier tries'
    tally: Tally
    seconds: float

    @property
    def summary(self) -> dict[str, Any]:
        """The task's XCom."""
        plan, merged = self.plan, self.merged
        return {
            "table": plan.options.table,
            "snapshot_id": merged.snapshot_id,
            "commit_landed_unanswered": merged.already,
            "table_rows_before": plan.known,
            "inputs": plan.given.received,
            "invalid_inputs": plan.given.invalid,
            "new_ids": len(plan.new),
            "due_rows": len(plan.due),
            "rows": self.rows,
            "rows_by_status": dict(self.counts.rows_by_status),
            "error_rows": self.counts.error_rows,
            "resumed_rows": len(plan.resumed),
            "inserted": merged.inserted,
            "replaced": merged.replaced,
            "errors_not_applied": merged.errors_not_applied,
            "files_added": merged.files_added,
            "files_removed": merged.files_removed,
            "bytes_added": merged.bytes_added,
            "days": list(merged.days),
            "requests": self.tally.requests,
            "rate_limited": self.tally.answered_429,
            "seconds": self.seconds,
        }

    def check_error_ratio(self) -> None:
        snapshot = self.merged.snapshot_id
        written = f"the rows were committed to {self.plan.options.table}" if snapshot else None
        errors = self.counts.error_rows
        check_error_ratio(
            self.plan.given, self.rows, errors, self.tally, self.plan.options.max_error_ratio, written
        )


def publish_to_table(
    plan: TablePlan, fetched: Fetched, table: Any, task_try: TaskTry, log: Log
) -> TableRunResult:
    """Merge the checkpoint's rows into ``table``, then remove the checkpoint."""
    progress = fetched.checkpoint
    rows = pa.Table.from_batches(progress.batches(plan.to_fetch, _BATCH_ROWS), schema=progress.schema)
    counts = FetchCounts()
    counts.add(rows)
    together = due_together(plan.decision, plan.job.slot.shards)
    properties = task_try.properties(plan)
    merged = merge(table, rows, properties, attempts=plan.options.commit_attempts, fetched_together=together)
    if merged.already:
        log.info("The commit had landed though its answer was lost (snapshot %s)", merged.snapshot_id)
    elif merged.snapshot_id is not None:
        log.info(
            "Committed snapshot %s to %s: %s inserted, %s replaced, %s files added, %s removed (%s bytes)",
            merged.snapshot_id,
            plan.options.table,
            f"{merged.inserted:,}",
            f"{merged.replaced:,}",
            merged.files_added,
            merged.files_removed,
            f"{merged.bytes_added:,}",
        )
    progress.remove()
    return TableRunResult(plan, merged, counts, rows.num_rows, fetched.tally, plan.seconds())
