"""Streaming Parquet writes with bounded memory, published atomically.

Rows arrive in small batches and are written in row groups of ``row_group_rows`` (sized for
scanning), so memory holds at most one row group whatever the number of messages. The file is
written under a temporary name that ``*.parquet`` globs do not match, then published in one
step: a rename on a local filesystem, a single object put elsewhere. Readers never see half a
file, and a retried try replaces what an earlier try of the same run published.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.parquet as pq

DEFAULT_ROW_GROUP_ROWS = 65_536


class Target(Protocol):
    """Where the file goes: the parts of ``ObjectStoragePath`` this module uses."""

    @property
    def protocol(self) -> str: ...

    @property
    def path(self) -> str: ...

    @property
    def fs(self) -> Any: ...


def is_local(target: Target) -> bool:
    return target.protocol in ("", "file", "local")


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
        if is_local(target):
            folder = Path(target.path).parent
            folder.mkdir(parents=True, exist_ok=True)
            self._temp = folder / f".{Path(target.path).name}.tmp-{uuid.uuid4().hex}"
        else:
            self._temp = Path(tempfile.mkdtemp(prefix="octopods-snapshot-")) / "snapshot.parquet"
        self._writer = pq.ParquetWriter(self._temp, schema, compression=compression)

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
                self._publish()
        finally:
            self._temp.unlink(missing_ok=True)
            if not is_local(self.target):
                self._temp.parent.rmdir()

    def _publish(self) -> None:
        if is_local(self.target):
            os.replace(self._temp, self.target.path)
        else:
            self.target.fs.put_file(str(self._temp), self.target.path)
