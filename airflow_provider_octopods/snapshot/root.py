"""A snapshot root is one table: every partition under it has the same schema.

Readers scan a root as one dataset. When partitions disagree (days written with
``timestamp_unit="us"`` and others with ``"ms"``), Polars, pyarrow and pandas refuse the root
and fastparquet reads the other unit's timestamps as 1970 dates. So before writing a
partition, the schema of a part already in the root (outside that partition, which the run
replaces anyway) is compared with the one about to be written; a difference is refused.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from airflow_provider_octopods.snapshot.partition import is_part


class SchemaMismatch(ValueError):
    """The root already holds parts of another schema."""


def root_of(output_path: str) -> str:
    """The root of a templated output path: the path up to its first templated part, so
    that every partition of a dataset has the same root (also the snapshot's Asset)."""
    static = output_path.split("{{", 1)[0]
    return static if static.endswith("/") else static.rsplit("/", 1)[0] + "/"


def a_part_outside(fs: Any, root: str, partition: str) -> str | None:
    """A part of another partition of ``root``, found with a few listings: only folders as
    deep as ``partition`` are visited, and the walk stops at the first part."""
    root, partition = root.rstrip("/"), partition.rstrip("/")
    if not partition.startswith(root + "/"):
        return None
    depth = partition[len(root) + 1 :].count("/") + 1
    for folder, dirs, files in fs.walk(root, maxdepth=depth + 1):
        dirs[:] = sorted(d for d in dirs if f"{folder}/{d}" != partition and not d.startswith((".", "_")))
        if folder.count("/") - root.count("/") == depth:
            for name in sorted(files):
                if is_part(name):
                    return f"{folder}/{name}"
    return None


def _unit(schema: pa.Schema) -> str | None:
    kind = schema.field("fetched_at").type if "fetched_at" in schema.names else None
    return kind.unit if isinstance(kind, pa.TimestampType) else None


def check_schema(fs: Any, root: str, partition: str, schema: pa.Schema) -> None:
    """Raise ``SchemaMismatch`` when ``root`` holds a part whose schema is not ``schema``."""
    found_at = a_part_outside(fs, root, partition)
    if found_at is None:
        return
    with fs.open(found_at, "rb") as stream:
        found = pq.read_schema(stream)
    if found.equals(schema, check_metadata=False):
        return
    there, here = _unit(found), _unit(schema)
    if there != here:
        raise SchemaMismatch(
            f"{root} already holds parts with timestamps in {there!r} (e.g. {found_at}); this task "
            f"writes {here!r}. One root is one table that readers scan whole: set "
            f"timestamp_unit={there!r}, or write to another root."
        )
    differ = sorted(set(found.names).symmetric_difference(schema.names)) or [
        n for n in schema.names if not found.field(n).equals(schema.field(n))
    ]
    raise SchemaMismatch(
        f"{root} already holds parts of another schema (e.g. {found_at}; columns differing: "
        f"{', '.join(differ)}). One root is one table that readers scan whole: write to another root."
    )
