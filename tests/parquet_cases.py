"""What the Parquet tests share: a batch of status rows and an error row (the fixture of both
ways a part is staged, ``staging_mode``, is in conftest)."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa

from airflow_provider_octopods.errors import OctopodsServerError
from airflow_provider_octopods.parquet.schema import RowBuffer
from airflow_provider_octopods.status import MessageStatus


def _rows(count: int, unit: str = "us") -> pa.RecordBatch:
    buffer = RowBuffer(unit)
    at = datetime(2026, 11, 26, 10, 0, 0, 123456, tzinfo=UTC)
    for i in range(count):
        buffer.add_status(MessageStatus(message_id=i + 1, status="delivered", sent_at=at), at)
    buffer.add_error(count + 1, OctopodsServerError("down", http_status=503), at)
    return buffer.take()
