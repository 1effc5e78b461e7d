"""The learned refresh in the operators, run with dag.test() on two days against an emulator
started with a sender model file; requests counted by the emulator. The clock moves a day
between the runs for the whole process (the emulator's lifecycles and the operator's ``now``)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import time_machine

from airflow_provider_octopods.emulator import Emulator
from airflow_provider_octopods.refresh import FixedRefresh
from airflow_provider_octopods.refresh.rows import Rows
from airflow_provider_octopods.snapshot.previous import latest
from tests.dag_runs import task_xcom
from tests.iceberg_cases import TABLE, load_catalog, use_catalog
from tests.iceberg_cases import run_case as run_table_case
from tests.refresh_cases import SLOW_READERS
from tests.snapshots import DAY, partition, read_back, run_case

SENDS = 1500
# The slow readers without the shift: a third of the reads come a day later.
MODEL = {key: value for key, value in SLOW_READERS.items() if key != "shift"}
FIELDS = ("status", "sent_at", "delivered_at", "read_at")


@pytest.fixture
def modelled(root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    """An emulator started with the model file, ``octopods_default`` pointing at it."""
    model_file = tmp_path / "slow_readers.json"
    model_file.write_text(json.dumps(MODEL))
    with Emulator(model=model_file) as emulator:
        monkeypatch.setenv("AIRFLOW_CONN_OCTOPODS_DEFAULT", emulator.connection_json(max_retries=1))
        yield emulator


def _truth(emulator: Emulator, rows: pa.Table) -> np.ndarray:  # type: ignore[type-arg]
    """Whether each row equals what the emulator answers now."""
    now = emulator.state.now()
    same = []
    for row in rows.to_pylist():
        body = emulator.state.messages[row["message_id"]].body(now, "")
        shown = {
            f: row[f].isoformat(timespec="milliseconds").replace("+00:00", "Z") if row[f] else None
            for f in FIELDS[1:]
        }
        same.append(body["status"] == row["status"] and all(body[f] == shown[f] for f in FIELDS[1:]))
    return np.array(same)


def test_the_second_day_fetches_the_new_sends_and_the_rows_that_may_have_changed(
    root: Path, modelled: Emulator
) -> None:
    day_one = modelled.state.add_campaign(SENDS, spread_hours=24, evenly=True)
    assert run_case("snapshot_incremental", messages=day_one, previous="").state == "success"
    first = partition(root, "snapshot_incremental")
    assert modelled.state.stats()["requests"] == SENDS

    with time_machine.travel(time.time() + 86_400, tick=True):
        day_two = modelled.state.add_campaign(SENDS, spread_hours=24, evenly=True)
        modelled.state.reset_log()
        second, started = DAY + timedelta(days=1), datetime.now(UTC)
        dag_run = run_case(
            "snapshot_incremental", day=second, messages=[*day_one, *day_two], previous=f"file://{first}"
        )
        assert dag_run.state == "success"
        requests = modelled.state.stats()["requests"]
        rows = read_back(partition(root, "snapshot_incremental", second))
        exact = _truth(modelled, rows)
        held = latest(read_back(first))
        changed = ~_truth(modelled, held)  # yesterday's rows that are no longer true
        fixed_due = FixedRefresh().due(Rows.from_arrow(held), datetime.now(UTC))

    again = requests - SENDS
    summary = task_xcom(dag_run, "snapshot")
    assert summary["rows"] == 2 * SENDS and summary["carried_forward"] == SENDS - again
    assert 0 < again < SENDS  # not every row of yesterday
    fetched_today = [row["message_id"] for row in rows.to_pylist() if row["fetched_at"] >= started]
    carried = ~np.isin(held.column("message_id").to_numpy(), fetched_today)
    assert exact.mean() >= 0.99
    # What the fixed rule would have carried forward wrong, the learned one fetched.
    assert (changed & carried).sum() < (changed & ~fixed_due).sum()


def test_the_table_learns_from_its_own_rows(
    root: Path, modelled: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Day two gives only the new ids: the table's own rows are refreshed as its history says."""
    warehouse = use_catalog(monkeypatch, root / "iceberg")
    day_one = modelled.state.add_campaign(SENDS, spread_hours=24, evenly=True)
    assert run_table_case("iceberg_ids", messages=day_one).state == "success"
    table = load_catalog(warehouse).load_table(TABLE)
    held = table.scan().to_arrow()

    with time_machine.travel(time.time() + 86_400, tick=True):
        day_two = modelled.state.add_campaign(SENDS, spread_hours=24, evenly=True)
        modelled.state.reset_log()
        started = datetime.now(UTC)
        dag_run = run_table_case("iceberg_ids", day=DAY + timedelta(days=1), messages=day_two)
        assert dag_run.state == "success"
        requests = modelled.state.stats()["requests"]
        table.refresh()
        rows = table.scan().to_arrow()
        exact = _truth(modelled, rows)
        changed = ~_truth(modelled, held)

    summary = task_xcom(dag_run, "table")
    assert summary["new_ids"] == SENDS and requests == SENDS + summary["due_rows"]
    assert 0 < summary["due_rows"] < SENDS
    assert rows.num_rows == 2 * SENDS and exact.mean() >= 0.99
    fetched_today = rows.filter(pa.compute.greater_equal(rows["fetched_at"], started))["message_id"]
    carried = ~np.isin(held.column("message_id").to_numpy(), fetched_today.to_numpy())
    assert changed.sum() > 0.05 * SENDS and (changed & carried).sum() <= 0.01 * rows.num_rows
