"""What a finished wait returns, bounded whatever the batch size, and the optional file of
every status.

One message: its status dict (``MessageStatus.to_dict()``). A batch: a summary of a few KB
(counts by status, the failed messages with their reasons, capped), so that XCom, the trigger
event and the task's resume arguments stay small for 10,000 messages; every status goes to a
Parquet file with the snapshot's schema when the user names one (``statuses_path``).
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from airflow.sdk import ObjectStoragePath

from airflow_provider_octopods.errors import error_from_dict
from airflow_provider_octopods.parquet.schema import RowBuffer
from airflow_provider_octopods.parquet.writer import SnapshotWriter
from airflow_provider_octopods.status import MessageStatus
from airflow_provider_octopods.wait.watch import MAX_REASON_CHARS, BatchWatch

# Failed messages listed in a summary: 100 x ~400 bytes.
MAX_FAILED_LISTED = 100
_ROWS_PER_BATCH = 8_192


def batch_summary(watch: BatchWatch, statuses_path: str | None = None) -> dict[str, Any]:
    """``messages``, ``counts`` (settled messages by status), ``pending`` (not settled: only
    on a timeout), ``failed_count`` and ``failed`` (the first ``MAX_FAILED_LISTED``, in the
    order given, each with ``message_id``, ``failure_reason``, ``request_id``), and
    ``statuses_path`` (the Parquet file of every status, or None)."""
    counts = Counter(s["status"] for s in watch.met.values())
    counts["failed"] += len(watch.failed)
    failed = [m for m in watch.order if m in watch.failed][:MAX_FAILED_LISTED]
    return {
        "messages": len(watch.order),
        "counts": dict(sorted((k, v) for k, v in counts.items() if v)),
        "pending": len(watch.pending),
        "failed_count": len(watch.failed),
        "failed": [
            {
                "message_id": m,
                "failure_reason": (watch.failed[m].get("failure_reason") or "")[:MAX_REASON_CHARS] or None,
                "request_id": watch.failed[m].get("request_id"),
            }
            for m in failed
        ],
        "statuses_path": statuses_path,
    }


def write_statuses(watch: BatchWatch, path: str) -> str:
    """Every settled status to a Parquet file at ``path`` (any ObjectStoragePath URI), one row
    per message in the order given, with the snapshot's schema; a message failed by a refused
    query is an error row, as in a snapshot. Published atomically. Returns the path."""
    target = ObjectStoragePath(path)
    buffer = RowBuffer()
    with SnapshotWriter(target, buffer.schema) as writer:
        for message_id in watch.order:
            entry = watch.met.get(message_id) or watch.failed.get(message_id)
            if entry is None:
                continue
            fetched_at = datetime.fromtimestamp(watch.fetched_at[message_id], UTC)
            if entry.get("error"):
                buffer.add_error(message_id, error_from_dict(entry["error"]), fetched_at)
            else:
                buffer.add_status(MessageStatus.from_dict(entry), fetched_at)
            if len(buffer) >= _ROWS_PER_BATCH:
                writer.write(buffer.take())
        if len(buffer):
            writer.write(buffer.take())
    return str(target)


def final_result(watch: BatchWatch, *, single: bool, statuses_path: str | None) -> dict[str, Any] | None:
    """What the task returns: one message's status dict, or a batch's summary, after writing
    every status to ``statuses_path`` when given (a wait that ended with all settled)."""
    if single:
        return watch.results()[0] if watch.results() else None
    if statuses_path is not None and watch.done:
        statuses_path = write_statuses(watch, statuses_path)
    return batch_summary(watch, statuses_path if watch.done else None)
