"""iceberg.merge against a real SQL catalog on SQLite: any sequence of runs leaves one row per
id, the last status fetched (an error never replacing a status); a commit that loses to another
writer is made again on the table as it then is; one that always loses leaves the table and its
files as they were; a try's commit is made once; rows not final that come due together
(``fetched_together``) share files, so a run fetching them rewrites no row it did not fetch."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyiceberg.exceptions import CommitFailedException

from airflow_provider_octopods.errors import OctopodsTableError
from airflow_provider_octopods.iceberg import merge as merge_module
from airflow_provider_octopods.iceberg import schema
from airflow_provider_octopods.iceberg.catalog import TableRef, _load_or_create, _own_retries
from airflow_provider_octopods.iceberg.merge import COMMITTED_BY, TRY_NUMBER, last_committed_try, merge
from airflow_provider_octopods.iceberg.schema import ARROW_SCHEMA
from tests.iceberg_cases import load_catalog

NOW = datetime(2026, 12, 6, 12, tzinfo=UTC)
STATUSES = ("sent", "delivered", "read", "failed", None)  # None: an error row


def new_table(folder: Path, name: str = "t") -> Any:
    table = _load_or_create(load_catalog(folder), TableRef.parse(f"octopods.{name}"))
    _own_retries(table)
    return table


def rows(specs: list[tuple[int, str | None, int | None]], fetched: datetime = NOW) -> pa.Table:
    """Rows of (id, status or None for an error row, days before ``fetched`` it was sent or None)."""
    return pa.Table.from_pylist(
        [
            {
                "message_id": message_id,
                "status": status,
                "sent_at": None if status is None or days is None else fetched - timedelta(days=days),
                "fetched_at": fetched,
                "error_code": -1 if status is None else None,
                "error": "refused" if status is None else None,
            }
            for message_id, status, days in specs
        ],
        schema=ARROW_SCHEMA,
    )


def props(run: str, attempt: int = 1) -> dict[str, str]:
    return {COMMITTED_BY: run, TRY_NUMBER: str(attempt)}


def current(table: Any) -> dict[int, tuple[Any, Any]]:
    table.refresh()
    got = table.scan().to_arrow()
    ids = got.column("message_id").to_pylist()
    assert len(ids) == len(set(ids)), "an id twice"
    return dict(
        zip(
            ids,
            zip(got.column("status").to_pylist(), got.column("fetched_at").to_pylist(), strict=True),
            strict=True,
        )
    )


def files_sorted(table: Any) -> bool:
    for task in table.scan().plan_files():
        with table.io.new_input(task.file.file_path).open() as stream:
            ids = pq.read_table(stream, columns=["message_id"]).column("message_id").to_pylist()
        if ids != sorted(ids):
            return False
    return True


run_rows = st.lists(
    st.tuples(st.integers(1, 40), st.sampled_from(STATUSES), st.one_of(st.none(), st.integers(0, 3))),
    max_size=25,
).map(lambda specs: list({spec[0]: spec for spec in specs}.values()))  # one row per id, as fetched


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(run_rows, min_size=1, max_size=4))
def test_any_runs_leave_one_row_per_id_the_last_status_fetched(runs: list[list[Any]]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        table = new_table(Path(folder))
        model: dict[int, tuple[Any, Any]] = {}
        for at, specs in enumerate(runs):
            fetched = NOW + timedelta(hours=at)
            merge(table, rows(specs, fetched), props(f"run-{at}"))
            for message_id, status, _ in specs:
                if status is None and model.get(message_id, (None,))[0] is not None:
                    continue  # an error does not replace a status
                model[message_id] = (status, fetched)
        assert current(table) == model
        assert files_sorted(table)


def test_rows_unchanged_by_a_run_are_not_rewritten(tmp_path: Path) -> None:
    table = new_table(tmp_path)
    merge(
        table,
        rows([(i, "read", 5) for i in range(1, 101)] + [(i, "sent", 1) for i in range(101, 201)]),
        props("a"),
    )
    before = {t.file.file_path for t in table.scan().plan_files()}
    result = merge(table, rows([(150, "delivered", 1), (300, "sent", 0)]), props("b"))
    after = {t.file.file_path for t in table.scan().plan_files()}
    # The final rows' file of day 5 stays; day 1's other rows' file is rewritten; day 0's is new.
    assert result.files_removed == 1 and result.files_added == 2
    assert len(before - after) == 1 and len(after - before) == 2
    assert result.inserted == 1 and result.replaced == 1 and result.days == ("2026-12-05", "2026-12-06")


class Racing:
    """A table another writer commits to just before each of this one's first ``races``
    commits, through its own copy of the table, as another worker would."""

    def __init__(self, table: Any, other: Any, races: int) -> None:
        self.table, self.other, self.races, self.raced = table, other, races, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.table, name)

    def transaction(self) -> Any:
        if self.raced < self.races:
            self.raced += 1
            merge(
                self.other,
                rows([(2, "read", 1), (100 + self.raced, "sent", 0)]),
                props(f"other-{self.raced}"),
            )
        return self.table.transaction()


def test_a_commit_that_loses_to_another_writer_is_made_again(tmp_path: Path) -> None:
    table = new_table(tmp_path)
    merge(table, rows([(1, "sent", 1), (2, "sent", 1)]), props("first"))
    racing = Racing(table, load_catalog(tmp_path).load_table("octopods.t"), races=1)
    result = merge(racing, rows([(1, "delivered", 1), (4, "sent", 0)]), props("mine"), sleep=lambda _: None)
    assert result.attempts == 2
    assert {k: v[0] for k, v in current(table).items()} == {1: "delivered", 2: "read", 101: "sent", 4: "sent"}


def test_a_commit_that_always_loses_leaves_the_table_and_its_files_as_they_were(tmp_path: Path) -> None:
    table = new_table(tmp_path)
    merge(table, rows([(1, "sent", 1)]), props("first"))
    racing = Racing(table, load_catalog(tmp_path).load_table("octopods.t"), races=3)
    with pytest.raises(OctopodsTableError, match=r"octopods\.t: other writers committed first 3 times"):
        merge(racing, rows([(1, "read", 1)]), props("mine"), attempts=3, sleep=lambda _: None)
    assert {k: v[0] for k, v in current(table).items()} == {
        1: "sent",
        2: "read",
        101: "sent",
        102: "sent",
        103: "sent",
    }
    assert last_committed_try(table, "mine") is None
    snapshots = [s.snapshot_id for s in table.snapshots()]
    held = {
        t.file.file_path.removeprefix("file://")
        for s in snapshots
        for t in table.scan(snapshot_id=s).plan_files()
    }
    on_disk = {str(p) for p in tmp_path.rglob("data/**/*.parquet")}
    assert on_disk == held  # no file of the lost commits left behind


def test_a_commit_that_landed_unanswered_is_not_made_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = new_table(tmp_path)
    real_commit = merge_module.commit_files

    def commit_then_lose_the_answer(*args: Any) -> None:
        real_commit(*args)
        monkeypatch.setattr(merge_module, "commit_files", real_commit)
        raise CommitFailedException("timed out")

    monkeypatch.setattr(merge_module, "commit_files", commit_then_lose_the_answer)
    result = merge(table, rows([(1, "sent", 1)]), props("mine", 2), sleep=lambda _: None)
    table.refresh()
    assert result.already and result.snapshot_id == table.current_snapshot().snapshot_id
    assert len(table.snapshots()) == 1
    assert last_committed_try(table, "mine") == 2 and last_committed_try(table, "other") is None


SENT = datetime(2026, 11, 2, 9, tzinfo=UTC)


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
    table = new_table(tmp_path)
    merge(table, _rows([1, 2, 3, 4, 5, 6], "delivered"), props("one"), fetched_together=_odd)
    before = _files_of(table)
    assert len(set(before.values())) == 2

    done = merge(table, _rows([1, 3, 5], "read"), props("two"), fetched_together=_odd)

    after = _files_of(table)
    assert (done.replaced, done.files_removed, done.files_added) == (3, 1, 1)
    assert {after[m] for m in (2, 4, 6)} == {before[2]}  # not rewritten
    statuses = table.scan().to_arrow().sort_by("message_id").column("status").to_pylist()
    assert statuses == ["read", "delivered"] * 3


def test_without_it_the_others_of_the_file_are_written_again(tmp_path: Path) -> None:
    table = new_table(tmp_path)
    merge(table, _rows([1, 2, 3, 4, 5, 6], "delivered"), props("one"))
    before = _files_of(table)
    assert len(set(before.values())) == 1

    done = merge(table, _rows([1, 3, 5], "read"), props("two"))

    assert (done.replaced, done.files_removed) == (3, 1)
    assert _files_of(table)[2] != before[2]
