"""The Parquet part of a snapshot instance: ``part-<index>.parquet`` in its partition, written
from the carried rows and the checkpoint's pieces, and published whole (``SnapshotWriter``);
the partition then holds exactly this run's parts (see ``partition``)."""

from __future__ import annotations

import itertools

from airflow_provider_octopods.parquet.writer import SnapshotWriter
from airflow_provider_octopods.snapshot import partition
from airflow_provider_octopods.snapshot.fetch import FetchCounts
from airflow_provider_octopods.snapshot.run import Fetched, Plan, RunResult
from airflow_provider_octopods.wait.engine import Log


class ParquetPartPublisher:
    """The ``run.Publisher`` of Parquet parts, one per task instance of a partition."""

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
