"""One of two triggerers killed mid-wait, the other taking its sensors over; the bulk operator
run by the scheduler, and the DAG scheduled on its Asset running after it."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pyarrow.parquet as pq
import pytest

from integration.conftest import Deployment
from integration.deployment import Airflow, wait_until

pytestmark = pytest.mark.usefixtures("octopods_connection")


def _kill_its_triggerer(airflow: Airflow, dag_id: str, run_id: str) -> tuple[str, float]:
    """SIGKILL the triggerer holding the task's trigger (its trigger runner with it) and wait
    until the other one holds it; returns the name of the one killed and when it was taken over."""

    def holder() -> str | None:
        return airflow.triggerer_of(airflow.task_instance(dag_id, run_id, "wait"))

    victim = str(wait_until(holder, 60, f"{dag_id}'s trigger held by a triggerer"))
    airflow.kill(victim)
    # Taken over once the dead one's heartbeat is stale ([triggerer] triggerer_health_check_threshold).
    wait_until(lambda: holder() not in (None, victim), 90, f"{dag_id}'s trigger taken over")
    return victim, time.time()


def test_sensors_survive_a_triggerer_killed_mid_wait(deployment: Deployment) -> None:
    airflow, emulator = deployment.airflow, deployment.emulator
    delivered = emulator.add_messages(2)
    [never] = emulator.add_messages()
    runs = {m: airflow.trigger("it_wait", {"message": m}) for m in delivered}
    short_run = airflow.trigger("it_wait_short", {"message": never})  # timeout 40 s
    for run_id in runs.values():
        airflow.wait_for_state("it_wait", run_id, "wait", {"deferred"}, timeout=180)
    first = airflow.wait_for_state("it_wait_short", short_run, "wait", {"deferred"}, timeout=180)
    # Let the short sensor spend part of its 40 s before the triggerer dies.
    wait_until(lambda: len(emulator.requests(never)) >= 6, 60, "the short sensor polled a while")

    polled = len(emulator.requests(never))
    victim, taken_over = _kill_its_triggerer(airflow, "it_wait_short", short_run)
    wait_until(lambda: len(emulator.requests(never)) > polled, 90, "the other triggerer polling")
    airflow.start(victim)  # back to two for the tests that follow

    for message in delivered:
        emulator.set_status(message, "delivered")
    for run_id in runs.values():
        ti = airflow.wait_for_state("it_wait", run_id, "wait", {"success", "failed"}, timeout=120)
        assert ti["state"] == "success"
    ti = airflow.wait_for_state("it_wait_short", short_run, "wait", {"success", "failed"}, timeout=120)
    assert ti["state"] == "failed"
    first_start, end = (
        datetime.fromisoformat(str(t)).timestamp() for t in (first["start_date"], ti["end_date"])
    )
    print(
        f"ended {end - first_start:.1f} s after the first start, {end - taken_over:.1f} s after the takeover"
    )
    # The 40 s count from the original start; a fresh clock at the takeover would have ended
    # 40 s after it, and the task's resume on a Celery worker after that.
    assert first_start + 40 <= end < taken_over + 40
    assert "AirflowSensorTimeout" in airflow.task_log("it_wait_short", short_run, "wait", ti["try_number"])


def test_scheduled_snapshot_and_the_dag_on_its_asset(deployment: Deployment) -> None:
    airflow, emulator = deployment.airflow, deployment.emulator
    ids = emulator.add_campaign(500, spread_hours=2)
    wait_until(lambda: airflow.api("GET", "/api/v2/dags/it_snapshot_consumer").ok, 120, "consumer parsed")
    airflow.api("PATCH", "/api/v2/dags/it_snapshot_consumer", json={"is_paused": False}).raise_for_status()
    # A logical date, as a scheduled run has: the partition is named after it ({{ ds }}).
    logical_date = datetime.now(UTC).replace(microsecond=0).isoformat()
    _, path = airflow.snapshot(ids, logical_date)
    table = pq.read_table(path.removeprefix("file://"))
    assert sorted(table.column("message_id").to_pylist()) == ids

    def consumer_run() -> dict[str, object] | None:
        runs = airflow.api("GET", "/api/v2/dags/it_snapshot_consumer/dagRuns").json()["dag_runs"]
        done = [r for r in runs if r["state"] in ("success", "failed")]
        return done[0] if done else None

    run = wait_until(consumer_run, 180, "the Asset-scheduled DAG run")
    assert run["state"] == "success" and run["run_type"] == "asset_triggered"
    events = airflow.api(
        "GET",
        f"/api/v2/dags/it_snapshot_consumer/dagRuns/{run['dag_run_id']}/taskInstances/consume/xcomEntries/return_value",
    ).json()["value"]
    [event] = [e for e in events if e["path"] == path]
    assert event["rows"] == 500 and event["report"].startswith("/octopods/delivery/?asset=")


def test_requests_after_a_triggerer_restart(deployment: Deployment) -> None:
    """A batch trigger rebuilt in the other triggerer after its own was killed: triggers have
    no task state store, so it keeps the schedule and the deadline but polls each settled
    message once more, at its slot."""
    airflow, emulator = deployment.airflow, deployment.emulator
    settled = emulator.add_messages(20, deliver_after=0)
    [pending] = emulator.add_messages()
    run_id = airflow.trigger("it_batch", {"messages": [*settled, pending]})
    airflow.wait_for_state("it_batch", run_id, "wait", {"deferred"}, timeout=180)
    wait_until(lambda: len(emulator.requests(pending)) >= 2, 120, "the batch polled a while")
    assert {len(emulator.requests(m)) for m in settled} == {1}

    polled = len(emulator.requests(pending))
    restarted_at = emulator.requests(pending)[-1].at
    victim, _ = _kill_its_triggerer(airflow, "it_batch", run_id)
    wait_until(lambda: len(emulator.requests(pending)) > polled, 120, "the rebuilt trigger polling")
    airflow.start(victim)
    emulator.set_status(pending, "delivered")
    ti = airflow.wait_for_state("it_batch", run_id, "wait", {"success", "failed"}, timeout=180)
    assert ti["state"] == "success"
    again = [len([r for r in emulator.requests(m) if r.at > restarted_at]) for m in settled]
    print(f"requests per settled message after the restart: {sorted(set(again))}")
    assert set(again) == {1}
