"""snapshot.previous: what an incremental snapshot keeps of the previous one, the latest row per
message that the refresh policy does not make due, as it was."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa

from airflow_provider_octopods.parquet.schema import snapshot_schema
from airflow_provider_octopods.refresh import FixedRefresh
from airflow_provider_octopods.snapshot.previous import carried_forward, latest
from tests.snapshot_cases import Lines

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)
H = timedelta(hours=1)


def test_carried_rows_are_the_latest_per_message_as_they_were() -> None:
    rows = [
        {"message_id": 1, "status": "delivered", "sent_at": NOW - 30 * H, "fetched_at": NOW - 25 * H},
        {"message_id": 1, "status": "read", "sent_at": NOW - 30 * H, "fetched_at": NOW - 2 * H},
        {"message_id": 2, "status": "delivered", "sent_at": NOW - 3 * H, "fetched_at": NOW - 2 * H},
        {"message_id": 3, "error_code": 500, "fetched_at": NOW - H},
    ]
    table = pa.Table.from_pylist(rows, schema=snapshot_schema("ms"))
    held = latest(table)
    carried = carried_forward(
        held, held["message_id"].to_numpy(), FixedRefresh(factor=2, floor=H), NOW, Lines()
    )
    assert [(r["message_id"], r["status"], r["fetched_at"]) for r in carried.to_pylist()] == [
        (1, "read", NOW - 2 * H)
    ]


def test_only_wanted_ids_are_carried() -> None:
    rows = [
        {"message_id": i, "status": "read", "sent_at": NOW - 30 * H, "fetched_at": NOW - H} for i in (1, 2)
    ]
    held = latest(pa.Table.from_pylist(rows, schema=snapshot_schema("ms")))
    carried = carried_forward(held, np.array([2]), FixedRefresh(), NOW, Lines())
    assert carried["message_id"].to_pylist() == [2]
