"""Fetch many statuses into snapshot rows: one row per id, whatever happened to its request."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from airflow_provider_octopods.clients.async_client import AsyncOctopodsClient
from airflow_provider_octopods.snapshot.schema import RowBuffer
from airflow_provider_octopods.snapshot.writer import SnapshotWriter

BATCH_ROWS = 8_192


@dataclass
class FetchCounts:
    rows_by_status: Counter[str] = field(default_factory=Counter)
    error_rows: int = 0


async def fetch_into(
    client: AsyncOctopodsClient, ids: Iterable[int], writer: SnapshotWriter, buffer: RowBuffer
) -> FetchCounts:
    """Stream the statuses of ``ids`` into ``writer``. A refused key raises at once; any other
    failure becomes that message's error row, so no id goes missing from the file."""
    counts = FetchCounts()
    async for result in client.iter_message_statuses(ids):
        fetched_at = datetime.now(UTC)
        if result.status is not None:
            buffer.add_status(result.status, fetched_at)
            counts.rows_by_status[result.status.status] += 1
        else:
            assert result.error is not None
            buffer.add_error(int(result.message), result.error, fetched_at)  # type: ignore[call-overload]
            counts.error_rows += 1
        if len(buffer) >= BATCH_ROWS:
            writer.write(buffer.take())
    if len(buffer):
        writer.write(buffer.take())
    return counts
