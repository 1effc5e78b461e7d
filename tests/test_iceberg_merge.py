"""merge's ``fetched_together``: rows not final that come due together share files, so a run
fetching them rewrites no row it did not fetch. On a pyiceberg SQL catalog in a temp folder."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from pyiceberg.catalog.sql import SqlCatalog

from airflow_provider_octopods.iceberg import schema
from airflow_provider_octopods.iceberg.catalog import TABLE_PROPERTIES
from airflow_provider_octopods.iceberg.merge import COMMITTED_BY, merge

SENT = datetime(2026, 11, 2, 9, tzinfo=UTC)


def _table(folder: Path) -> Any:
    catalog = SqlCatalog("test", uri=f"sqlite:///{folder}/catalog.db", warehouse=f"file://{folder}")
    catalog.create_namespace("octopods")
    return catalog.create_table(
        "octopods.statuses",
        schema=schema.table_schema(),
        partition_spec=schema.partition_spec(),
        properties=TABLE_PROPERTIES,
    )


def _rows(ids: list[int], status: str) -> pa.Table:
    columns = {name: [None] * len(ids) for name in schema.ARROW_SCHEMA.names}
    columns.update(message_id=ids, status=[status] * len(ids), sent_at=[SENT] * len(ids))
    columns["fetched_at"] = [datetime(2026, 11, 3, tzinfo=UTC)] * len(ids)
    return pa.table(columns, schema=schema.ARROW_SCHEMA)


def _odd(rows: pa.Table) -> np.ndarray[Any, Any]:
    return rows.column("message_id").to_numpy() % 2  # type: ignore[no-any-return]


def _files_of(table: Any) -> dict[int, str]:
    """Each id's data file."""
    found = {}
    for task in table.scan().plan_files():
        with table.io.new_input(task.file.file_path).open() as stream:
            for message_id in pq.read_table(stream, columns=["message_id"]).column(0).to_pylist():
                found[message_id] = task.file.file_path
    return found


def test_rows_fetched_together_share_files_and_the_others_stay(tmp_path: Path) -> None:
    table = _table(tmp_path)
    merge(table, _rows([1, 2, 3, 4, 5, 6], "delivered"), {COMMITTED_BY: "one"}, fetched_together=_odd)
    before = _files_of(table)
    assert len(set(before.values())) == 2

    done = merge(table, _rows([1, 3, 5], "read"), {COMMITTED_BY: "two"}, fetched_together=_odd)

    after = _files_of(table)
    assert (done.replaced, done.files_removed, done.files_added) == (3, 1, 1)
    assert {after[m] for m in (2, 4, 6)} == {before[2]}  # not rewritten
    statuses = table.scan().to_arrow().sort_by("message_id").column("status").to_pylist()
    assert statuses == ["read", "delivered"] * 3


def test_without_it_the_others_of_the_file_are_written_again(tmp_path: Path) -> None:
    table = _table(tmp_path)
    merge(table, _rows([1, 2, 3, 4, 5, 6], "delivered"), {COMMITTED_BY: "one"})
    before = _files_of(table)
    assert len(set(before.values())) == 1

    done = merge(table, _rows([1, 3, 5], "read"), {COMMITTED_BY: "two"})

    assert (done.replaced, done.files_removed) == (3, 1)
    assert _files_of(table)[2] != before[2]
