"""What the tests of a snapshot run's steps share: a task instance's slot and parameters, a
log that keeps its lines, a job and its options under a test's root, status rows, the
checkpoint of the test's task instance, and a plan fetched and published against the emulator."""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
from airflow.sdk import ObjectStoragePath

from airflow_provider_octopods.clients.async_client import AsyncOctopodsClient
from airflow_provider_octopods.emulator import Emulator
from airflow_provider_octopods.parquet.schema import RowBuffer, snapshot_schema
from airflow_provider_octopods.snapshot.checkpoint import Progress
from airflow_provider_octopods.snapshot.fetch import Connect, Stop, fetch_snapshot
from airflow_provider_octopods.snapshot.plan import Job, Plan, Slot, SnapshotOptions
from airflow_provider_octopods.snapshot.publish import ParquetPartPublisher, RunResult
from airflow_provider_octopods.status import MessageStatus
from tests.conftest import settings_for

SEQUENCE = "a" * 16
FOLDER = "snapshot+run+task+-1"
PARAMETERS: dict[str, Any] = {
    "max_requests_per_second": 5000,
    "max_concurrency": 32,
    "strict": False,
    "max_error_ratio": 0.01,
    "incremental": False,
    "refresh_policy": None,
    "full_refresh": False,
    "write_empty_file": True,
    "timestamp_unit": "us",
    "compression": "zstd",
    "row_group_rows": 1000,
    "progress_path": None,
    "checkpoint_rows": 2000,
    "checkpoint_seconds": 60.0,
}


class Lines:
    """A log that keeps its lines, formatted."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def info(self, event: Any, *args: Any, **kw: Any) -> None:
        self.lines.append(event % args if args else event)

    warning = info


def options(root: Path, **changes: Any) -> SnapshotOptions:
    return SnapshotOptions.from_parameters(f"file://{root}/statuses/{{{{ ds }}}}/", {**PARAMETERS, **changes})


def job(
    root: Path,
    ids: list[Any],
    *,
    previous: str | None = None,
    index: int = 0,
    shards: int = 1,
    try_number: int = 1,
) -> Job:
    return Job(
        output_path=f"file://{root}/statuses/day=1/",
        message_ids=ids,
        message_ids_path=None,
        base_url="https://app.octopods.io",
        requests_per_second=10.0,
        previous_path=lambda: previous,
        slot=Slot(index, shards, FOLDER, SEQUENCE, try_number),
    )


def connect_to(emulator: Emulator) -> Connect:
    return functools.partial(AsyncOctopodsClient, settings_for(emulator))


def statuses(ids: list[int], status: str, **fields: Any) -> pa.RecordBatch:
    buffer = RowBuffer()
    for message_id in ids:
        buffer.add_status(MessageStatus(message_id=message_id, status=status, **fields), datetime.now(UTC))
    return buffer.take()


def checkpoint_of(root: Path, sequence: str = SEQUENCE) -> Progress:
    """The checkpoint of the test's task instance, as a try of ``sequence`` opens it."""
    return Progress(ObjectStoragePath(options(root).progress_path) / FOLDER, sequence, 1, snapshot_schema())


def published(plan: Plan, emulator: Emulator, log: Lines) -> RunResult:
    return ParquetPartPublisher().publish(plan, fetch_snapshot(plan, connect_to(emulator), Stop(), log), log)
