"""The table's upkeep against a real SQL catalog: crowded partitions compacted with every row
kept; old snapshots expired and the files only they held deleted, the history kept readable."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from airflow_provider_octopods.iceberg import upkeep
from airflow_provider_octopods.iceberg.merge import COMMITTED_BY, TRY_NUMBER, merge
from tests.test_iceberg_merge import current, files_sorted, new_table, rows


def test_compaction_keeps_every_row_and_leaves_rows_not_final_where_they_are(tmp_path: Path) -> None:
    table = new_table(tmp_path)
    for run in range(6):  # each run reads a few of day 1's messages, and sends one on day 0
        specs = [(10 * run + i, "read", 1) for i in range(1, 4)] + [(1000 + run, "sent", 0)]
        merge(table, rows(specs), {COMMITTED_BY: f"run-{run}", TRY_NUMBER: "1"})
    before = current(table)
    files = {t.file.file_path for t in table.scan().plan_files()}
    assert upkeep.compact(table, 4, {"octopods.operation": "compact"}) == (1, 6, 1)
    after = {t.file.file_path for t in table.scan().plan_files()}
    assert current(table) == before and files_sorted(table)
    assert len(after) == len(files) - 6 + 1
    # day 0's files, of sent messages, are not touched
    assert {f for f in files if "2026-12-06" in f} <= after
    assert upkeep.compact(table, 4, {}) == (0, 0, 0)  # nothing crowded any more


def test_expiry_deletes_only_what_no_kept_snapshot_needs(tmp_path: Path) -> None:
    table = new_table(tmp_path)
    for run in range(3):
        merge(
            table,
            rows([(1, "sent", 1), (2 + run, "delivered", 1)]),
            {COMMITTED_BY: f"r{run}", TRY_NUMBER: "1"},
        )
    snapshots = [s.snapshot_id for s in table.snapshots()]
    expired, deleted = upkeep.expire(table, datetime.now(UTC) + timedelta(seconds=1))
    table.refresh()
    assert expired == 2 and deleted > 0
    assert [s.snapshot_id for s in table.snapshots()] == snapshots[-1:]
    assert sorted(current(table)) == [1, 2, 3, 4]  # every file the current snapshot needs is there
    assert upkeep.expire(table, datetime.now(UTC) - timedelta(days=1)) == (0, 0)
