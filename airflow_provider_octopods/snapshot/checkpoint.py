"""A snapshot's progress, committed in whole pieces as it fetches, so that a retried try
resumes where a killed one stopped instead of starting again.

Pieces are never under the root: readers list everything there (see ``staging``). They go to
a progress area beside it, by default ``<root's parent>/.<root name>.octopods-progress/``,
one folder per task instance (dag, run, task, map index). Each piece is a small Parquet file
with the snapshot's schema, published whole by ``SnapshotWriter`` (a link or a rename, one put
on an object store), so a killed try leaves whole pieces or none.

A piece belongs to one *try sequence*: the tries Airflow makes of a task instance before it
succeeds or runs out of retries. A retry continues the sequence and resumes; a clear (by a
user, or a re-run of the same logical date) starts a new one, whose first try removes what an
earlier sequence left rather than trusting rows fetched for another run. Airflow marks the
sequence in what it gives every try: a clear raises the task instance's ``max_tries`` (Airflow
itself takes ``max_tries - retries + 1`` as the sequence's first try) and the run's
``clear_number``; a run deleted and created again with the same run id (``airflow dags test``
does so) has another ``run_after`` or ``start_date``. Airflow 3.3's task state store is no
help here: it is kept through a clear.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import posixpath
import re
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from airflow_provider_octopods.parquet.ids import members
from airflow_provider_octopods.parquet.staging import Target, is_local, staged_pattern
from airflow_provider_octopods.parquet.writer import SnapshotWriter

DEFAULT_CHECKPOINT_ROWS = 2_000
DEFAULT_CHECKPOINT_SECONDS = 60.0
PROGRESS_SUFFIX = ".octopods-progress"
# Pieces are read back once and removed: a fast codec, not a small one (zstd took about twice
# lz4's time to write and read a piece; the pieces are twice as large).
PIECE_COMPRESSION = "lz4"
# The piece's sequence, the try that wrote it, its number in that try; a killed try on a
# filesystem without unnamed files may also leave ``.piece-....parquet.tmp-<hex>`` (``staging``).
_PIECE = re.compile(staged_pattern(r"piece-(?P<sequence>[0-9a-f]{16})-(?P<attempt>\d{3,})-\d{6}\.parquet"))
_MAX_NAME = 200  # below the 255 bytes most filesystems and object stores allow per name


def default_progress_path(root: str) -> str:
    """``<root's parent>/.<root name>.octopods-progress/``; for a root at the top of a bucket,
    which has no parent to hold it, a folder of the worker's temporary directory (a retry on
    the same machine resumes; pass ``progress_path`` to resume on any worker)."""
    scheme, sep, rest = root.rpartition("://")
    head, slash, name = rest.rstrip("/").rpartition("/")
    if name and (slash or not sep):
        return f"{scheme}{sep}{head}{slash}.{name}{PROGRESS_SUFFIX}/"
    digest = hashlib.sha256(root.encode()).hexdigest()[:16]
    return f"{Path(tempfile.gettempdir()) / ('octopods' + PROGRESS_SUFFIX) / digest}/"


def folder_name(dag_id: str, run_id: str, task_id: str, map_index: int) -> str:
    """One folder name per task instance: its parts quoted (``/`` and ``+`` included), joined
    by ``+``; cut with a digest of the whole when too long for a file name."""
    name = "+".join(quote(part, safe="") for part in (dag_id, run_id, task_id, str(map_index)))
    if len(name) <= _MAX_NAME:
        return name
    return name[: _MAX_NAME - 17] + "+" + hashlib.sha256(name.encode()).hexdigest()[:16]


def sequence_of(ti: Any, dag_run: Any) -> str:
    """The try sequence of a task instance (see the module's docstring), as 16 hex digits."""
    marks = [str(dag_run.run_after), str(dag_run.start_date), dag_run.clear_number or 0, ti.max_tries]
    return hashlib.sha256(repr(marks).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class _Piece:
    """Where ``SnapshotWriter`` publishes a piece: a file of the progress folder's filesystem."""

    protocol: str
    path: str
    fs: Any


class Progress:
    """The pieces of one task instance's try sequence: listed, read back, added to, removed.

    Also the sink ``fetch_into`` writes to: ``due`` says when the rows buffered so far make a
    piece (``rows`` of them, or ``seconds`` since the last piece), ``write`` publishes one.
    """

    def __init__(
        self,
        folder: Target,
        sequence: str,
        try_number: int,
        schema: pa.Schema,
        *,
        rows: int = DEFAULT_CHECKPOINT_ROWS,
        seconds: float = DEFAULT_CHECKPOINT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rows < 1 or seconds <= 0:
            raise ValueError(f"need checkpoint_rows >= 1 and checkpoint_seconds > 0, not {rows}, {seconds}")
        self.folder = folder
        self.sequence = sequence
        self.try_number = try_number
        self.schema = schema
        self.rows = rows
        self.seconds = seconds
        self._clock = clock
        self._last = clock()
        self._written = 0

    def _listing(self) -> list[tuple[str, bool]]:
        """(path, is ours and whole) for each piece or leftover in the folder; others are ignored."""
        try:
            paths = self.folder.fs.ls(self.folder.path, detail=False)
        except FileNotFoundError:
            return []
        found = []
        for path in sorted(str(p).rstrip("/") for p in paths):
            match = _PIECE.fullmatch(posixpath.basename(path))
            if match:
                found.append((path, match["temp"] is None and match["sequence"] == self.sequence))
        return found

    def pieces(self) -> list[str]:
        return [path for path, ours in self._listing() if ours]

    def discard_others(self) -> list[str]:
        """Remove the pieces of other try sequences and what killed tries left half written."""
        others = [path for path, ours in self._listing() if not ours]
        for path in others:
            self.folder.fs.rm_file(path)
        return others

    def discard_through(self, try_number: int) -> list[str]:
        """Remove the pieces tries up to ``try_number`` wrote: their rows are in the output
        already (a table commit that try made)."""
        applied = []
        for path, ours in self._listing():
            match = _PIECE.fullmatch(posixpath.basename(path))
            if ours and match is not None and int(match["attempt"]) <= try_number:
                self.folder.fs.rm_file(path)
                applied.append(path)
        return applied

    def done_ids(self) -> np.ndarray[Any, Any]:
        """The ids the pieces hold (their id column alone is read)."""
        ids = [np.empty(0, np.int64)]
        for path in self.pieces():
            with self.folder.fs.open(path, "rb") as stream:
                ids.append(pq.read_table(stream, columns=["message_id"]).column("message_id").to_numpy())
        return np.concatenate(ids)

    def batches(self, wanted: np.ndarray[Any, Any], batch_rows: int) -> Iterator[pa.RecordBatch]:
        """The pieces' rows whose id is in ``wanted``, a batch at a time."""
        # Sorted once and searched per batch: a hash set of all wanted ids built per batch
        # (pc.is_in) costs pieces x ids, quadratic in the snapshot's size.
        wanted = np.sort(wanted)
        for path in self.pieces():
            with self.folder.fs.open(path, "rb") as stream:
                for batch in pq.ParquetFile(stream).iter_batches(batch_size=batch_rows):
                    rows = pa.Table.from_batches([batch]).cast(self.schema)
                    kept = members(rows.column("message_id").to_numpy(), wanted)
                    yield from rows.filter(kept).to_batches()

    def due(self, buffered: int) -> bool:
        return buffered >= self.rows or (buffered > 0 and self._clock() - self._last >= self.seconds)

    def write(self, batch: pa.RecordBatch) -> None:
        """Publish ``batch`` as one whole piece."""
        self._written += 1
        name = f"piece-{self.sequence}-{self.try_number:03d}-{self._written:06d}.parquet"
        whole = max(batch.num_rows, 1)  # one row group
        piece = _Piece(self.folder.protocol, f"{self.folder.path.rstrip('/')}/{name}", self.folder.fs)
        with SnapshotWriter(
            piece, self.schema, compression=PIECE_COMPRESSION, row_group_rows=whole
        ) as writer:
            writer.write(batch)
        self._last = self._clock()

    def remove(self) -> None:
        """Remove the task instance's folder, once its part is published, and the progress
        area above it if nothing else is left there (a local folder: an object store has none)."""
        if self.folder.fs.exists(self.folder.path):
            self.folder.fs.rm(self.folder.path, recursive=True)
        if is_local(self.folder):
            with contextlib.suppress(OSError):  # a sibling's folder is still there: it stays
                os.rmdir(posixpath.dirname(self.folder.path.rstrip("/")))
