"""The table run's plan, against a real table in a SQL catalog: new ids are the given ones the
table does not hold; due rows come from the table and the refresh policy, split between mapped
instances; pieces a committed try fetched are not applied again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from airflow.sdk import ObjectStoragePath

from airflow_provider_octopods.iceberg.merge import COMMITTED_BY, TRY_NUMBER, merge
from airflow_provider_octopods.parquet.schema import snapshot_schema
from airflow_provider_octopods.snapshot.checkpoint import Progress
from airflow_provider_octopods.snapshot.plan import Slot
from airflow_provider_octopods.snapshot.table_plan import TableJob, TableOptions, committed_by, plan_table
from tests.snapshot_cases import FOLDER, SEQUENCE, Lines, statuses
from tests.test_iceberg_merge import new_table, rows

OPTIONS: dict[str, Any] = {
    "table": "octopods.t",
    "progress_path": None,
    "max_requests_per_second": None,
    "max_concurrency": 8,
    "strict": False,
    "max_error_ratio": 0.01,
    "refresh_policy": None,
    "full_refresh": False,
    "checkpoint_rows": 2000,
    "checkpoint_seconds": 60.0,
    "commit_attempts": 8,
}


def job(root: Path, ids: list[int], *, index: int = 0, shards: int = 1, try_number: int = 1) -> TableJob:
    return TableJob(
        message_ids=ids,
        message_ids_path=None,
        base_url="https://app.octopods.io",
        requests_per_second=10.0,
        slot=Slot(index, shards, FOLDER, SEQUENCE, try_number),
        progress_root=ObjectStoragePath(f"file://{root}/progress"),
    )


def test_new_ids_and_due_rows_come_from_the_inputs_and_the_table(tmp_path: Path) -> None:
    table = new_table(tmp_path)
    long_ago = datetime.now(UTC) - timedelta(days=3)
    # 1-10 fetched 3 days ago, sent a day before: due. 11-20 just fetched: not. 21-30 read: never.
    old = rows([(i, "delivered", None) for i in range(1, 11)], fetched=long_ago)
    at = old.schema.get_field_index("sent_at")
    old = old.set_column(at, old.schema.field(at), [[long_ago - timedelta(days=1)] * 10])
    merge(table, old, {COMMITTED_BY: "a", TRY_NUMBER: "1"})
    fresh = [(i, "sent", 0) for i in range(11, 21)] + [(i, "read", 0) for i in range(21, 31)]
    merge(table, rows(fresh, fetched=datetime.now(UTC)), {COMMITTED_BY: "b", TRY_NUMBER: "1"})
    log = Lines()
    plan = plan_table(job(tmp_path, [5, 15, 25, 40, 41]), TableOptions.from_parameters(OPTIONS), table, log)
    assert plan.new.tolist() == [40, 41] and plan.due.tolist() == list(range(1, 11))
    assert plan.known == 30 and plan.requests.tolist() == [*range(1, 11), 40, 41]
    assert "2 new id(s) of 5 given, 10 row(s) due by the refresh policy" in log.lines[-1]
    shards = [
        plan_table(job(tmp_path, [], index=i, shards=3), TableOptions.from_parameters(OPTIONS), table, log)
        for i in range(3)
    ]
    assert sorted(np.concatenate([p.due for p in shards]).tolist()) == list(range(1, 11))
    assert all(p.rate == 10.0 / 3 for p in shards)


def test_pieces_a_committed_try_fetched_are_not_applied_again(tmp_path: Path) -> None:
    table = new_table(tmp_path)
    first = job(tmp_path, [1, 2, 3], try_number=1)
    progress = Progress(
        ObjectStoragePath(f"file://{tmp_path}/progress") / FOLDER, SEQUENCE, 1, snapshot_schema()
    )
    progress.write(statuses([1, 2, 3], "sent"))
    # Try 1 committed, then was killed before removing its pieces.
    merge(
        table,
        rows([(1, "sent", 0), (2, "sent", 0), (3, "sent", 0)], fetched=datetime.now(UTC)),
        {COMMITTED_BY: committed_by(first.slot), TRY_NUMBER: "1"},
    )
    log = Lines()
    plan = plan_table(
        job(tmp_path, [1, 2, 3, 4], try_number=2), TableOptions.from_parameters(OPTIONS), table, log
    )
    assert plan.resumed.tolist() == [] and plan.requests.tolist() == [4]
    assert progress.pieces() == []
    assert any("try 1 committed their rows already" in line for line in log.lines)
