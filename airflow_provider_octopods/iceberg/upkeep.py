"""Keeping the table healthy under daily runs: old snapshots expired and the files only they
held deleted; the many small files of final rows a partition gathers compacted.

Each run adds a snapshot and, by copy on write, a few files per partition it touched; without
upkeep, history and files grow without bound and readers open ever more small files.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from airflow_provider_octopods.iceberg.merge import commit_files, write_files
from airflow_provider_octopods.iceberg.schema import ARROW_SCHEMA
from airflow_provider_octopods.status import TERMINAL_STATUSES


def _files_of(table: Any, snapshot: Any) -> set[str]:
    """Every file a snapshot needs: its manifest list, manifests and live data files."""
    paths = {snapshot.manifest_list}
    for manifest in snapshot.manifests(table.io):
        paths.add(manifest.manifest_path)
        entries = manifest.fetch_manifest_entry(table.io, discard_deleted=True)
        paths.update(entry.data_file.file_path for entry in entries)
    return paths


def expire(table: Any, older_than: datetime) -> tuple[int, int]:
    """Expire the snapshots taken before ``older_than`` (never the current one), then delete
    the files no remaining snapshot needs. Returns (snapshots expired, files deleted)."""
    table.refresh()
    current = table.current_snapshot()
    cutoff = older_than.timestamp() * 1000
    current_id = None if current is None else current.snapshot_id
    old = [s for s in table.snapshots() if s.timestamp_ms < cutoff and s.snapshot_id != current_id]
    if not old:
        return 0, 0
    expired_ids = {s.snapshot_id for s in old}
    needed: set[str] = set()
    for snapshot in table.snapshots():
        if snapshot.snapshot_id not in expired_ids:
            needed |= _files_of(table, snapshot)
    doomed = set().union(*(_files_of(table, s) for s in old)) - needed
    table.maintenance.expire_snapshots().by_ids(sorted(expired_ids)).commit()
    deleted = 0
    for path in sorted(doomed):
        with contextlib.suppress(FileNotFoundError):
            table.io.delete(path)
            deleted += 1
    return len(old), deleted


def compact(table: Any, min_files: int, properties: dict[str, str]) -> tuple[int, int, int]:
    """Rewrite, in each partition holding at least ``min_files`` files of final rows only,
    those files into one, in one snapshot. Files holding rows not final stay as they are: the
    merge groups those by the run that fetches them next (``merge.fetched_together``), and
    replaces them then. Returns (partitions, files read, files written)."""
    table.refresh()
    snapshot = table.current_snapshot()
    if snapshot is None:
        return 0, 0, 0
    by_partition: dict[Any, list[Any]] = defaultdict(list)
    for task in table.scan(snapshot_id=snapshot.snapshot_id).plan_files():
        if _all_final(table, task.file.file_path):
            by_partition[tuple(task.file.partition)].append(task.file)
    crowded = [files for files in by_partition.values() if len(files) >= min_files]
    if not crowded:
        return 0, 0, 0
    removed = [f for files in crowded for f in files]
    added: list[Any] = []
    for files in crowded:  # one partition's rows in memory at a time
        rows = pa.concat_tables(_read(table, f.file_path) for f in files).sort_by("message_id")
        added += write_files(table, rows)
    commit_files(table, properties, removed, added)
    return len(crowded), len(removed), len(added)


def _all_final(table: Any, path: str) -> bool:
    with table.io.new_input(path).open() as stream:
        status = pq.read_table(stream, columns=["status"]).column("status")
    return bool(pc.all(pc.is_in(status, pa.array(sorted(TERMINAL_STATUSES)))).as_py())


def _read(table: Any, path: str) -> pa.Table:
    with table.io.new_input(path).open() as stream:
        return pq.read_table(stream).cast(ARROW_SCHEMA)
