"""What the tests of a snapshot's folders share: a filesystem and a folder on it (local, and
fsspec's memory store as an object store), and files put there."""

from __future__ import annotations

import io
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fsspec.implementations.local import LocalFileSystem


def filesystem_folder(kind: str, tmp_path: Path) -> Iterator[tuple[Any, str]]:
    """A filesystem and a folder on it, removed after on the memory store (process-wide)."""
    if kind == "local":
        yield LocalFileSystem(), str(tmp_path)
        return
    fs = fsspec.filesystem("memory")
    yield fs, "/bucket/statuses"
    fs.rm("/bucket", recursive=True)


def _put(fs: Any, path: str, data: bytes) -> None:
    fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
    fs.pipe_file(path, data)


def _write_part(fs: Any, path: str, schema: pa.Schema) -> None:
    buffer = io.BytesIO()
    pq.write_table(schema.empty_table(), buffer)
    _put(fs, path, buffer.getvalue())


@contextmanager
def read_only(folder: Path) -> Iterator[Path]:
    """``folder`` (made if missing) on a read-only filesystem: a tmpfs mounted ro, since root
    writes anywhere else. Skips the test where nothing can be mounted."""
    folder.mkdir(parents=True, exist_ok=True)
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(folder)], capture_output=True
    )
    if made.returncode != 0:
        pytest.skip(f"cannot mount a read-only tmpfs here: {made.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)
