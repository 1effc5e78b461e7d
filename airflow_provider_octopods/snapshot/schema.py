"""The snapshot's Parquet schema, fixed up front: BI reports are built on these names and types."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pyarrow as pa

from airflow_provider_octopods.errors import OctopodsError
from airflow_provider_octopods.status import TIMESTAMP_FIELDS, MessageStatus

TIME_UNITS = ("us", "ms")  # Athena / Glue read milliseconds


def snapshot_schema(unit: str = "us") -> pa.Schema:
    if unit not in TIME_UNITS:
        raise ValueError(f"timestamp unit must be one of {TIME_UNITS}, not {unit!r}")
    ts = pa.timestamp(unit, tz="UTC")
    return pa.schema(
        [
            pa.field("message_id", pa.int64(), nullable=False),
            pa.field("status", pa.string()),
            pa.field("phone_number", pa.string()),
            pa.field("channel_message_id", pa.string()),
            pa.field("sent_at", ts),
            pa.field("delivered_at", ts),
            pa.field("read_at", ts),
            pa.field("failure_reason", pa.string()),
            pa.field("request_id", pa.string()),
            pa.field("fetched_at", ts, nullable=False),
            pa.field("error_code", pa.int32()),
            pa.field("error", pa.string()),
        ]
    )


COLUMNS: tuple[str, ...] = tuple(snapshot_schema().names)
_STATUS_COLUMNS = ("status", "phone_number", "channel_message_id", *TIMESTAMP_FIELDS, "failure_reason")


class RowBuffer:
    """Rows gathered column by column, turned into a ``RecordBatch`` of the fixed schema."""

    def __init__(self, unit: str = "us") -> None:
        self.schema = snapshot_schema(unit)
        self.columns: dict[str, list[Any]] = {name: [] for name in COLUMNS}

    def __len__(self) -> int:
        return len(self.columns["message_id"])

    def add_status(self, status: MessageStatus, fetched_at: datetime) -> None:
        cols = self.columns
        cols["message_id"].append(status.message_id)
        for name in _STATUS_COLUMNS:
            cols[name].append(getattr(status, name))
        cols["request_id"].append(status.request_id)
        cols["fetched_at"].append(fetched_at)
        cols["error_code"].append(None)
        cols["error"].append(None)

    def add_error(self, message_id: int, error: OctopodsError, fetched_at: datetime) -> None:
        cols = self.columns
        cols["message_id"].append(message_id)
        for name in _STATUS_COLUMNS:
            cols[name].append(None)
        cols["request_id"].append(error.request_id)
        cols["fetched_at"].append(fetched_at)
        # Transport failures have no server code; -1 keeps "this row is an error" queryable.
        cols["error_code"].append(error.error_code if error.error_code is not None else -1)
        cols["error"].append(str(error))

    def take(self) -> pa.RecordBatch:
        batch = pa.RecordBatch.from_pydict(self.columns, schema=self.schema)
        for values in self.columns.values():
            values.clear()
        return batch
