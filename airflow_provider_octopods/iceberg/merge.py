"""A run's rows merged into the table in one Iceberg snapshot, exactly once per try sequence.

Copy on write at file granularity: the files holding a fetched id (found by their
``message_id`` bounds, then their ids) are rewritten without it, beside the fetched rows; no
other file is touched. Each partition's rows are written apart, sorted by ``message_id``:
rows in a final status, which no later run rewrites, in one file; the others, which the
refresh policy fetches again, in one file, or, given ``fetched_together`` (the day each row
comes due), in one file per day: rows that come due on different days would otherwise make
each run rewrite the rows of the file it does not fetch (the policy waits twice a row's age
at its last fetch, so a day's rows come due on different days).

A fetched error row never replaces a status the table holds: the status stays, the error is
counted in the run's summary. The snapshot's summary names the task try (``COMMITTED_BY``, the
try sequence, and ``TRY_NUMBER``): a later try of the sequence discards what the committing
try had fetched (``last_committed_try``), and a try whose commit landed unanswered does not
commit again. A commit that loses to another writer is
made again on the table as it then is, up to ``attempts`` times.
"""

from __future__ import annotations

import contextlib
import random
import struct
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pyiceberg.exceptions import CommitFailedException, ValidationException
from pyiceberg.io.pyarrow import _dataframe_to_data_files

from airflow_provider_octopods.errors import OctopodsTableError
from airflow_provider_octopods.iceberg.schema import ARROW_SCHEMA, field_id
from airflow_provider_octopods.parquet.ids import members
from airflow_provider_octopods.status import TERMINAL_STATUSES

ATTEMPTS = 8
_ID_FIELD = field_id("message_id")
# The snapshot summary's keys naming the task try sequence, and the try, that committed it.
COMMITTED_BY = "octopods.committed-by"
TRY_NUMBER = "octopods.try-number"
NO_SENT_AT = "no-sent-at"  # the partition key of rows with no sent_at
# The Parquet writer's settings where the table sets none. Ids, timestamps and uuids are
# unique per row: a dictionary of them only costs, so a small dictionary page ends it early
# (status and failure reason keep theirs). zstd at 15 rather than its default: a day's
# 200,000 rows come out in 0.246 of the bytes of the rolling snapshot's 700,000 instead of
# 0.276, for ~5 s more per day (at 9: 0.254; bench/iceberg_table.py).
WRITE_DEFAULTS = {
    "write.parquet.dict-size-bytes": "4096",
    "write.parquet.compression-level": "15",
}


# Of rows not final, a key per row: rows of a key come due together.
Together = Callable[[pa.Table], np.ndarray[Any, Any]]


@dataclass(frozen=True)
class Merged:
    """What a merge did. ``snapshot_id`` is the snapshot holding the rows, None when there
    were none; ``already``: this try's commit had landed though its answer was lost; ``days``
    the partitions it changed, as ``YYYY-MM-DD`` or ``NO_SENT_AT``."""

    snapshot_id: int | None = None
    already: bool = False
    inserted: int = 0
    replaced: int = 0
    errors_not_applied: int = 0
    files_added: int = 0
    files_removed: int = 0
    bytes_added: int = 0
    days: tuple[str, ...] = ()
    attempts: int = 0


@dataclass
class _Rewrite:
    """The files holding fetched ids, and their rows that stay."""

    files: list[Any] = field(default_factory=list)
    kept: list[pa.Table] = field(default_factory=list)
    old_ids: list[np.ndarray[Any, Any]] = field(default_factory=list)
    old_with_status: list[np.ndarray[Any, Any]] = field(default_factory=list)


def committed_snapshot(table: Any, properties: Mapping[str, str]) -> Any:
    """The table's snapshot committed by the try ``properties`` name, or None."""
    for snapshot in table.snapshots():
        summary = {} if snapshot.summary is None else snapshot.summary.additional_properties
        if all(summary.get(key) == properties[key] for key in (COMMITTED_BY, TRY_NUMBER)):
            return snapshot
    return None


def last_committed_try(table: Any, committed_by: str) -> int | None:
    """The last try of the try sequence ``committed_by`` that committed to the table, or None."""
    tries = [
        int(summary.additional_properties.get(TRY_NUMBER, 0))
        for summary in (snapshot.summary for snapshot in table.snapshots())
        if summary is not None and summary.additional_properties.get(COMMITTED_BY) == committed_by
    ]
    return max(tries, default=None)


def merge(
    table: Any,
    rows: pa.Table,
    properties: Mapping[str, str],
    *,
    attempts: int = ATTEMPTS,
    sleep: Callable[[float], None] = time.sleep,
    fetched_together: Together | None = None,
) -> Merged:
    """Merge ``rows`` (the Parquet schema, one per id) into ``table`` in one snapshot whose
    summary holds ``properties`` (with ``COMMITTED_BY``). ``fetched_together``: of rows not
    final, a key per row, rows of a key coming due together (they share files)."""
    rows = rows.cast(ARROW_SCHEMA).sort_by("message_id")
    for attempt in range(1, attempts + 1):
        table.refresh()
        # A commit whose answer was lost (a catalog that timed out after committing) landed.
        if (prior := committed_snapshot(table, properties)) is not None:
            return Merged(snapshot_id=prior.snapshot_id, already=True, attempts=attempt)
        if not rows.num_rows:
            return Merged(attempts=attempt)
        try:
            return _merge_once(table, rows, properties, attempt, fetched_together)
        except (CommitFailedException, ValidationException):
            if attempt == attempts:
                break
            sleep(min(0.1 * 2**attempt, 5.0) * random.uniform(0.5, 1.5))  # noqa: S311 (jitter)
    raise OctopodsTableError(
        f"Iceberg table {'.'.join(table.name())}: other writers committed first {attempts} times; "
        "nothing of this try was applied, and the next try commits its rows"
    )


def _merge_once(
    table: Any, rows: pa.Table, properties: Mapping[str, str], attempt: int, together: Together | None
) -> Merged:
    ids = rows.column("message_id").to_numpy()
    rewrite = _files_holding(table, ids)
    old_ids = np.concatenate(rewrite.old_ids) if rewrite.old_ids else np.empty(0, np.int64)
    with_status = np.concatenate(rewrite.old_with_status) if rewrite.old_with_status else old_ids[:0]
    # An error fetched for a message whose status the table holds: the status stays.
    held = pc.is_in(rows.column("message_id"), pa.array(with_status))
    not_applied = pc.and_(pc.is_null(rows.column("status")), held)
    applied = rows.filter(pc.invert(not_applied))
    applied_ids = applied.column("message_id").to_numpy()
    keep = [
        t.filter(pa.array(~members(t.column("message_id").to_numpy(), applied_ids))) for t in rewrite.kept
    ]
    touched = [
        (file, kept)
        for file, kept, before in zip(rewrite.files, keep, rewrite.kept, strict=True)
        if kept.num_rows < before.num_rows
    ]
    out = pa.concat_tables([applied, *(kept for _, kept in touched)]).sort_by("message_id")
    added = list(write_files(table, out, together))
    removed = [file for file, _ in touched]
    commit_files(table, properties, removed, added)
    replaced = int(members(old_ids, applied_ids).sum())
    return Merged(
        snapshot_id=table.current_snapshot().snapshot_id,
        inserted=applied.num_rows - replaced,
        replaced=replaced,
        errors_not_applied=rows.num_rows - applied.num_rows,
        files_added=len(added),
        files_removed=len(removed),
        bytes_added=sum(f.file_size_in_bytes for f in added),
        days=partition_days(applied),
        attempts=attempt,
    )


def _files_holding(table: Any, ids: np.ndarray[Any, Any]) -> _Rewrite:
    """The current files holding any of ``ids`` (sorted): found by their bounds, then read."""
    found = _Rewrite()
    snapshot = table.current_snapshot()
    if snapshot is None:
        return found
    for task in table.scan(snapshot_id=snapshot.snapshot_id).plan_files():
        if not _may_hold(task.file, ids):
            continue
        # The ids alone first: most files within the bounds (a day's final rows) hold none.
        file_ids = _read(table, task.file.file_path, ["message_id"]).column(0).to_numpy()
        hit = members(file_ids, ids)
        if not hit.any():
            continue
        content = _read(table, task.file.file_path).cast(ARROW_SCHEMA)
        found.files.append(task.file)
        found.kept.append(content)
        found.old_ids.append(file_ids[hit])
        has_status = ~np.asarray(pc.is_null(content.column("status")))
        found.old_with_status.append(file_ids[hit & has_status])
    return found


def _read(table: Any, path: str, columns: list[str] | None = None) -> pa.Table:
    with table.io.new_input(path).open() as stream:
        return pq.read_table(stream, columns=columns)


def _may_hold(data_file: Any, ids: np.ndarray[Any, Any]) -> bool:
    low, high = data_file.lower_bounds.get(_ID_FIELD), data_file.upper_bounds.get(_ID_FIELD)
    if low is None or high is None:
        return True
    (lo,), (hi,) = struct.unpack("<q", low), struct.unpack("<q", high)
    at = np.searchsorted(ids, lo)
    return bool(at < len(ids) and ids[at] <= hi)


def write_files(table: Any, rows: pa.Table, together: Together | None = None) -> Iterable[Any]:
    """Data files of ``rows`` (sorted), final rows apart from the others in each partition,
    and those apart by ``together``."""
    final = pc.is_in(rows.column("status"), pa.array(sorted(TERMINAL_STATUSES)))
    final = pc.fill_null(final, False)
    write_uuid = uuid.uuid4()
    counter = iter(range(1 << 30))
    settings = {**WRITE_DEFAULTS, **table.metadata.properties}
    metadata = table.metadata.model_copy(update={"properties": settings})
    for part in (rows.filter(final), *_apart(rows.filter(pc.invert(final)), together)):
        if part.num_rows:
            yield from _dataframe_to_data_files(metadata, part, table.io, write_uuid, counter)  # type: ignore[arg-type]


def _apart(rows: pa.Table, together: Together | None) -> list[pa.Table]:
    if together is None or not rows.num_rows:
        return [rows]
    keys = together(rows)
    return [rows.filter(pa.array(keys == key)) for key in np.unique(keys)]


def commit_files(table: Any, properties: Mapping[str, str], removed: list[Any], added: list[Any]) -> None:
    """One snapshot that removes ``removed`` and adds ``added``; on failure, the added files
    are deleted again."""
    try:
        with table.transaction() as tx:
            update = tx.update_snapshot(snapshot_properties=dict(properties))
            with update.overwrite() if removed else update.fast_append() as producer:
                for data_file in removed:
                    producer.delete_data_file(data_file)
                for data_file in added:
                    producer.append_data_file(data_file)
    except Exception:
        for data_file in added:  # files no snapshot holds: nobody reads them, nobody will
            with contextlib.suppress(OSError):
                table.io.delete(data_file.file_path)
        raise


def partition_days(rows: pa.Table) -> tuple[str, ...]:
    """The partitions of ``rows``: each day of ``sent_at``, ``NO_SENT_AT`` for rows without."""
    sent = rows.column("sent_at")
    days = {str(day) for day in pc.unique(pc.cast(sent.drop_null(), pa.date32())).to_pylist()}
    if sent.null_count:
        days.add(NO_SENT_AT)
    return tuple(sorted(days))
