"""Where a part is written until it is whole, so that readers of the root never list it.

Readers list everything under a root: Polars fails on any file there that is not whole
Parquet, whatever its name (a dot or underscore prefix is no help), and DuckDB's ``*/*`` glob
matches dot files. So, on Linux, a part is written into an unnamed file (``O_TMPFILE``) of the
partition folder and linked under its name only once whole: nothing is visible while it is
written, and a killed try leaves nothing, since the kernel frees an unnamed file with the last
descriptor of its process. Where unnamed files are not available (macOS, NFS), the part is
written under ``.part-N.parquet.tmp-<hex>`` in the folder and renamed into place; the part's
next try removes what a killed one left (``partition.clear_leftovers``). For an object store
the file is staged on local disk the same way and uploaded in one put.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol


def temp_name(name: str) -> str:
    """The name ``name`` has while it is written, where it must have one."""
    return f".{name}.tmp-{uuid.uuid4().hex}"


def staged_pattern(published: str) -> str:
    """A regex of a file name: ``published`` (a regex of the published name), or the name
    ``temp_name`` gives it while it is written (then the group ``temp`` matched)."""
    return rf"(?P<temp>\.)?{published}(?(temp)\.tmp-[0-9a-f]+|)"


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


def _open_unnamed(folder: Path) -> int | None:
    """An unnamed file in ``folder``, or None where the platform or filesystem has none."""
    flag = getattr(os, "O_TMPFILE", None)
    if flag is None or not os.path.isdir("/proc/self/fd"):  # its name is needed to link it
        return None
    try:
        return os.open(folder, flag | os.O_WRONLY, 0o666)
    except OSError:  # EOPNOTSUPP, EISDIR: a filesystem without unnamed files
        return None


@dataclass
class StagedFile:
    """``path`` is what the Parquet writer opens; ``publish`` then ``close``, or ``close`` alone."""

    path: str
    fd: int | None = None  # the unnamed file, alive while this descriptor is open
    scratch: Path | None = None  # a local folder of our own, removed with the file

    def publish(self, target: Target) -> None:
        if not is_local(target):
            target.fs.put_file(self.path, target.path)
        elif self.fd is None:
            os.replace(self.path, target.path)
        else:
            self._link(self.fd, Path(target.path))

    def _link(self, fd: int, final: Path) -> None:
        os.fsync(fd)
        folder = os.open(final.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            try:  # a dir_fd makes os.link call linkat(AT_SYMLINK_FOLLOW): the inode, not the link
                os.link(self.path, final.name, dst_dir_fd=folder)
            except FileExistsError:
                # linkat cannot replace: a name for the two calls it takes, then a rename over
                # the earlier file, so readers see the old part or the new one.
                temp = temp_name(final.name)
                os.link(self.path, temp, dst_dir_fd=folder)
                os.replace(temp, final.name, src_dir_fd=folder, dst_dir_fd=folder)
            with contextlib.suppress(OSError):  # the name is in place; some filesystems cannot sync a folder
                os.fsync(folder)
        finally:
            os.close(folder)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
        elif self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)
        else:
            Path(self.path).unlink(missing_ok=True)


def stage(target: Target) -> StagedFile:
    """A file to write ``target`` into: unnamed where possible, on the target's filesystem
    for a local target (publishing is then a link or a rename), on local disk otherwise."""
    local = is_local(target)
    folder = Path(target.path).parent if local else Path(tempfile.gettempdir())
    folder.mkdir(parents=True, exist_ok=True)
    fd = _open_unnamed(folder)
    if fd is not None:
        return StagedFile(f"/proc/self/fd/{fd}", fd=fd)
    if local:
        return StagedFile(str(folder / temp_name(Path(target.path).name)))
    scratch = Path(tempfile.mkdtemp(prefix="octopods-snapshot-"))
    return StagedFile(str(scratch / "snapshot.parquet"), scratch=scratch)
