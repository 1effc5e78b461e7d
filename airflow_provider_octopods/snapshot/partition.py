"""The partition a run owns: the names of its parts, and what a run removes so that the
partition ends up holding exactly its own parts.

A task writing a partition has ``count`` instances (1 when not mapped); instance ``i`` writes
``part-<i>.parquet``. Each instance removes, and removes only:

- before it writes, the temporary files that earlier tries of *its own* part left (a try
  killed with SIGKILL or by the OOM killer cannot clean up after itself);
- once it has published (or decided to write nothing), parts and temporary files numbered
  ``count`` or more: those of an earlier run with more shards, which no instance of this run
  writes. With no part of its own to write, it also removes an earlier run's ``part-<i>``.

No instance ever touches a part a sibling of its run may be writing (any ``j < count``,
``j != i``), so instances running at the same time cannot delete each other's fresh parts, and
nothing depends on which of them ends last. Two instances removing the same stale part is
harmless. One listing of the folder and one delete per removed file, the same on a local
filesystem and an object store.
"""

from __future__ import annotations

import contextlib
import posixpath
import re
from typing import Any

from airflow_provider_octopods.parquet.staging import staged_pattern

_OWNED = re.compile(staged_pattern(r"part-(?P<index>\d{5})\.parquet"))


def part_name(map_index: int) -> str:
    """``part-00003.parquet`` for map index 3; an unmapped task (-1) writes ``part-00000``."""
    return f"part-{max(map_index, 0):05d}.parquet"


def is_part(name: str) -> bool:
    """A published part's file name (not a temporary one)."""
    match = _OWNED.fullmatch(name)
    return match is not None and match["temp"] is None


def _owned(fs: Any, folder: str) -> list[tuple[str, int, bool]]:
    """(path, index, is_temporary) of the snapshot's files in ``folder``; others are left alone."""
    try:
        paths = fs.ls(folder, detail=False)
    except FileNotFoundError:
        return []
    found = []
    for path in paths:
        match = _OWNED.fullmatch(posixpath.basename(str(path).rstrip("/")))
        if match:
            found.append((str(path), int(match["index"]), match["temp"] is not None))
    return found


def _remove(fs: Any, paths: list[str]) -> list[str]:
    for path in paths:
        with contextlib.suppress(FileNotFoundError):  # a sibling removed the same stale part first
            fs.rm_file(path)
    return paths


def clear_leftovers(fs: Any, folder: str, index: int) -> list[str]:
    """Remove the temporary files earlier tries of part ``index`` left; return their paths."""
    return _remove(fs, [p for p, i, temp in _owned(fs, folder) if temp and i == index])


def remove_stale(fs: Any, folder: str, index: int, count: int, *, wrote: bool) -> list[str]:
    """Remove what earlier runs left that this run does not replace; return the paths."""
    return _remove(
        fs, [p for p, i, temp in _owned(fs, folder) if i >= count or (i == index and not wrote and not temp)]
    )
