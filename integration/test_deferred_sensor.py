"""The sensor deferred for real: a DAG run triggered through the REST API, the task seen
``deferred`` in the triggerer while it holds no worker slot, then done once the emulator
delivers the message; a failed message fails with its reason in the task log."""

from __future__ import annotations

import pytest

from integration.conftest import Deployment
from integration.deployment import wait_until

pytestmark = pytest.mark.usefixtures("octopods_connection")


def test_deferred_until_delivered(deployment: Deployment) -> None:
    airflow, emulator = deployment.airflow, deployment.emulator
    [message] = emulator.add_messages()  # sent, and stays so until the test delivers it
    run_id = airflow.trigger("it_wait", {"message": message})
    ti = airflow.wait_for_state("it_wait", run_id, "wait", {"deferred"}, timeout=180)
    assert ti["state"] == "deferred"
    # The triggerer polls it; no worker slot is held meanwhile.
    wait_until(lambda: len(emulator.requests(message)) >= 2, 60, "the trigger polling")
    pool = airflow.api("GET", "/api/v2/pools/default_pool").json()
    assert pool["running_slots"] == 0 and pool["deferred_slots"] >= 1, pool
    emulator.set_status(message, "delivered")
    ti = airflow.wait_for_state("it_wait", run_id, "wait", {"success", "failed"}, timeout=120)
    assert ti["state"] == "success"


def test_failed_message_fails_with_its_reason_in_the_log(deployment: Deployment) -> None:
    airflow, emulator = deployment.airflow, deployment.emulator
    reason = "The recipient blocked your WhatsApp number."
    [message] = emulator.add_messages(after_polls=(1, "failed"), failure_reason=reason)
    run_id = airflow.trigger("it_wait", {"message": message})
    ti = airflow.wait_for_state("it_wait", run_id, "wait", {"success", "failed"}, timeout=180)
    assert ti["state"] == "failed"
    log = airflow.task_log("it_wait", run_id, "wait", ti.get("try_number") or 1)
    assert reason in log and str(message) in log
