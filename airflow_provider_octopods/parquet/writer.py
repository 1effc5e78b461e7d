"""Streaming Parquet writes with bounded memory, published atomically.

Rows arrive in small batches and are written in row groups of ``row_group_rows`` (sized for
scanning), so memory holds at most one row group whatever the number of messages. The file is
written where no reader lists it (``staging``), then published in one step: a link or a rename
on a local filesystem, a single object put elsewhere. Readers never see half a file, and a
retried try replaces what an earlier try of the same run published.
"""

from __future__ import annotations

from types import TracebackType

import pyarrow as pa
import pyarrow.parquet as pq

from airflow_provider_octopods.parquet.staging import Target, stage

DEFAULT_ROW_GROUP_ROWS = 65_536


class SnapshotWriter:
    """``with SnapshotWriter(target, schema) as w: w.write(batch)``; published on a clean exit,
    discarded on an exception."""

    def __init__(
        self,
        target: Target,
        schema: pa.Schema,
        *,
        compression: str = "zstd",
        row_group_rows: int = DEFAULT_ROW_GROUP_ROWS,
    ) -> None:
        self.target = target
        self.schema = schema
        self.row_group_rows = row_group_rows
        self.rows = 0
        self._pending: list[pa.RecordBatch] = []
        self._pending_rows = 0
        self._staged = stage(target)
        self._writer = pq.ParquetWriter(self._staged.path, schema, compression=compression)

    def write(self, batch: pa.RecordBatch) -> None:
        self._pending.append(batch)
        self._pending_rows += batch.num_rows
        if self._pending_rows >= self.row_group_rows:
            # Whole row groups now; the rest waits for the next batches.
            table = pa.Table.from_batches(self._pending, schema=self.schema)
            whole = table.num_rows - table.num_rows % self.row_group_rows
            self._write(table.slice(0, whole))
            rest = table.slice(whole)
            self._pending, self._pending_rows = rest.to_batches(), rest.num_rows

    def _write(self, table: pa.Table) -> None:
        self._writer.write_table(table, row_group_size=self.row_group_rows)
        self.rows += table.num_rows

    def _flush(self) -> None:
        if self._pending_rows:
            self._write(pa.Table.from_batches(self._pending, schema=self.schema))
            self._pending, self._pending_rows = [], 0

    def __enter__(self) -> SnapshotWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if exc is None:
                self._flush()
            self._writer.close()
            if exc is None:
                self._staged.publish(self.target)
        finally:
            self._staged.close()
