"""The snapshot's Parquet schema, fixed up front: BI reports are built on these names and types."""

from __future__ import annotations

import operator
from datetime import datetime
from typing import Any

import pyarrow as pa

from airflow_provider_octopods.errors import OctopodsError
from airflow_provider_octopods.status import MessageStatus

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
# A row holds the columns in the schema's order: a status's own fields up to request_id (an
# error row has None between message_id and request_id), then fetched_at, error_code, error.
_FROM_STATUS = COLUMNS[: COLUMNS.index("fetched_at")]
_STATUS_ROW = operator.attrgetter(*_FROM_STATUS)
_NO_STATUS = (None,) * (len(_FROM_STATUS) - 2)


class RowBuffer:
    """Rows gathered as tuples in the schema's column order, turned into a ``RecordBatch``:
    one append per row while fetching, the columns built once per batch."""

    def __init__(self, unit: str = "us") -> None:
        self.schema = snapshot_schema(unit)
        self._rows: list[tuple[Any, ...]] = []

    def __len__(self) -> int:
        return len(self._rows)

    def add_status(self, status: MessageStatus, fetched_at: datetime) -> None:
        self._rows.append((*_STATUS_ROW(status), fetched_at, None, None))

    def add_error(self, message_id: int, error: OctopodsError, fetched_at: datetime) -> None:
        # Transport failures have no server code; -1 keeps "this row is an error" queryable.
        code = error.error_code if error.error_code is not None else -1
        self._rows.append((message_id, *_NO_STATUS, error.request_id, fetched_at, code, str(error)))

    def take(self) -> pa.RecordBatch:
        columns = zip(*self._rows, strict=True) if self._rows else ([] for _ in COLUMNS)
        batch = pa.RecordBatch.from_arrays(
            [pa.array(values, type=f.type) for values, f in zip(columns, self.schema, strict=True)],
            schema=self.schema,
        )
        self._rows = []
        return batch
