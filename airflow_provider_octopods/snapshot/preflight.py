"""Before the first request: the folders a snapshot writes to are shown to be writable, so that
hours of the key's rate budget are never spent on rows that cannot be kept.

A local folder is probed with an unnamed temporary file (``O_TMPFILE`` where Linux has it,
otherwise a file unlinked at once), which readers listing the root never see; folders made
for the probe are removed again. An object store
has no such file: a small probe object is put beside the parts and removed at once.
"""

from __future__ import annotations

import contextlib
import errno
import tempfile
import uuid
from pathlib import Path
from typing import Any

from airflow.sdk.exceptions import AirflowException

from airflow_provider_octopods.errors import OctopodsConfigError
from airflow_provider_octopods.parquet.staging import is_local

# What no retry can change: the task fails at once, without retries.
_FINAL = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR, errno.EEXIST, errno.EISDIR}


def _probe_local(path: Path) -> None:
    """A file created in ``path``; the folders made for it are removed again, so that readers of
    the root see no partition before the part is whole."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    path.mkdir(parents=True, exist_ok=True)
    try:
        with tempfile.TemporaryFile(dir=path):
            pass
    finally:
        for made in missing:  # deepest first
            with contextlib.suppress(OSError):
                made.rmdir()


def probe_writable(folder: Any, what: str) -> None:
    """Create ``folder`` (an ``ObjectStoragePath``) if needed and a file in it, then remove the
    file; ``what`` names the setting in the error (``output_path``, ``progress_path``)."""
    try:
        if is_local(folder):
            _probe_local(Path(folder.path))
        else:
            probe = f"{folder.path.rstrip('/')}/.octopods-probe-{uuid.uuid4().hex}"
            folder.fs.makedirs(folder.path, exist_ok=True)
            folder.fs.pipe_file(probe, b"")
            folder.fs.rm_file(probe)
    except OSError as exc:
        text = f"{what} {folder} cannot be written ({exc.strerror or exc}); nothing was fetched"
        if exc.errno in _FINAL or isinstance(exc, PermissionError):
            raise OctopodsConfigError(text) from None
        raise AirflowException(text) from exc
