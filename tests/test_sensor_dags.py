"""MessageStatusSensor end to end: real DAG runs with dag.test() against the emulator. In
deferrable mode dag.test() runs the trigger inline, so these runs really defer."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_octopods.emulator import Emulator
from tests.dag_runs import load_dag, task_state, task_xcom


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch, emulator: Emulator, airflow_db: str) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_OCTOPODS_DEFAULT", emulator.connection_json(requests_per_second=500))
    monkeypatch.setenv(
        "AIRFLOW_CONN_OCTOPODS_REVOKED", emulator.connection_json(api_key=emulator.revoked_key)
    )


def run_case(dag_id: str, **conf: Any) -> Any:
    return load_dag(dag_id, file="tests/dags/octopods_sensor_cases.py").test(run_conf=conf)


pytestmark = pytest.mark.usefixtures("connections")


def test_delivered_after_a_delay(emulator: Emulator, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO")
    [message] = emulator.add_messages(after_polls=(2, "delivered"))
    dag_run = run_case("sensor_single", message=emulator.message_status_url(message))
    assert dag_run.state == "success"
    assert "[DAG TEST] running trigger in line" in caplog.text  # it really deferred
    result = task_xcom(dag_run, "use")
    assert result["message_id"] == message and result["status"] == "delivered"
    assert len(emulator.requests(message)) == 3  # twice while sent, once delivered, then no more


def test_read_without_a_reported_delivery(emulator: Emulator) -> None:
    [message] = emulator.add_messages(read_after=0.3)
    dag_run = run_case("sensor_single", message=message)
    assert dag_run.state == "success"
    assert task_xcom(dag_run, "use")["status"] == "read"


def test_waiting_for_read(emulator: Emulator) -> None:
    [message] = emulator.add_messages(deliver_after=0, after_polls=(2, "read"))
    dag_run = run_case("sensor_read", message=message)
    assert dag_run.state == "success"
    assert task_xcom(dag_run, "use")["read_at"] is not None


def test_failed_fails_the_task_with_the_reason(emulator: Emulator, capfd: pytest.CaptureFixture[str]) -> None:
    reason = "The template is not approved for the recipient's country."
    [message] = emulator.add_messages(fail_after=0.2, failure_reason=reason)
    dag_run = run_case("sensor_single", message=message)
    out = capfd.readouterr().out
    assert dag_run.state == "failed"
    assert task_state(dag_run, "wait") == "failed"
    assert task_state(dag_run, "use") == "upstream_failed"
    assert "MessageFailedError" in out and reason.replace("'", "") in out.replace("'", "")


def test_failed_as_an_outcome(emulator: Emulator) -> None:
    [message] = emulator.add_messages(fail_after=0)
    dag_run = run_case("sensor_failed_outcome", message=message)
    assert dag_run.state == "success"
    assert task_xcom(dag_run, "use")["status"] == "failed"


def test_timeout(emulator: Emulator, capfd: pytest.CaptureFixture[str]) -> None:
    [message] = emulator.add_messages(deliver_after=3600)
    dag_run = run_case("sensor_timeout", message=message)
    assert dag_run.state == "failed"
    assert task_state(dag_run, "wait") == "failed"
    assert "AirflowSensorTimeout" in capfd.readouterr().out


def test_soft_fail_skips_on_timeout(emulator: Emulator) -> None:
    [message] = emulator.add_messages(deliver_after=3600)
    dag_run = run_case("sensor_soft_fail", message=message)
    assert task_state(dag_run, "wait") == "skipped"
    assert task_state(dag_run, "use") == "skipped"


def test_revoked_key_fails_at_once_naming_the_connection(
    emulator: Emulator, capfd: pytest.CaptureFixture[str]
) -> None:
    [message] = emulator.add_messages(deliver_after=0)
    dag_run = run_case("sensor_revoked", message=message)
    out = capfd.readouterr().out
    assert dag_run.state == "failed"
    assert "octopods_revoked" in out and "rotated or revoked" in out
    assert emulator.revoked_key not in out
    assert len(emulator.requests(message)) == 1


def test_batch_of_hundreds_with_mixed_outcomes(emulator: Emulator) -> None:
    delivered = emulator.add_messages(200, deliver_after=0)
    late = emulator.add_messages(50, after_polls=(2, "delivered"))
    read = emulator.add_messages(30, read_after=0)
    failed = emulator.add_messages(20, fail_after=0.5)
    messages = [*delivered, *late, *read, *failed]
    dag_run = run_case("sensor_batch", messages=messages)
    assert dag_run.state == "success"
    summary = task_xcom(dag_run, "use")
    assert summary["messages"] == 300 and summary["pending"] == 0
    assert summary["counts"] == {"delivered": 250, "read": 30, "failed": 20}
    assert [f["message_id"] for f in summary["failed"]] == failed
    assert all(f["failure_reason"] and f["request_id"] for f in summary["failed"])
    # One request for each message settled at the first poll; never one after settling.
    assert {len(emulator.requests(m)) for m in [*delivered, *read]} == {1}
    assert {len(emulator.requests(m)) for m in late} == {3}


@pytest.mark.parametrize("dag_id", ["sensor_poke", "sensor_reschedule"])
def test_poke_and_reschedule_modes(emulator: Emulator, dag_id: str) -> None:
    [message] = emulator.add_messages(after_polls=(2, "delivered"))
    dag_run = run_case(dag_id, message=message)
    assert dag_run.state == "success"
    assert task_xcom(dag_run, "use")["status"] == "delivered"
    assert len(emulator.requests(message)) == 3


def test_poke_mode_batch_does_not_repoll_settled_messages(emulator: Emulator) -> None:
    now = emulator.add_messages(10, deliver_after=0)
    late = emulator.add_messages(3, after_polls=(2, "delivered"))
    dag_run = run_case("sensor_poke_batch", messages=[*now, *late])
    assert dag_run.state == "success"
    assert {len(emulator.requests(m)) for m in now} == {1}


def test_example_wait_for_delivery_dag(emulator: Emulator) -> None:
    emulator.script_sends(after_polls=(2, "delivered"))  # delivered while the sensor waits
    dag_run = load_dag("octopods_wait_for_delivery").test()
    assert dag_run.state == "success"
    sent = task_xcom(dag_run, "send")
    assert sent["message_status_url"] == emulator.message_status_url(sent["message_id"])
    assert task_xcom(dag_run, "follow_up").startswith(f"message {sent['message_id']} delivered at ")
    assert len(emulator.requests(sent["message_id"])) == 3


def test_example_campaign_dag_branches_on_failures(emulator: Emulator) -> None:
    emulator.script_sends(time_scale=0.02)  # the realistic mix, fifty times faster
    dag_run = load_dag("octopods_campaign").test(run_conf={"count": 150})
    assert dag_run.state == "success"
    summary = task_xcom(dag_run, "wait_for_campaign")
    assert summary["messages"] == 150 and sum(summary["counts"].values()) == 150
    assert set(summary["counts"]) <= {"delivered", "read", "failed"}
    failed = summary["failed_count"]
    chosen = "follow_up_failures" if failed > 0.05 * 150 else "campaign_ok"
    other = "campaign_ok" if chosen == "follow_up_failures" else "follow_up_failures"
    assert (task_state(dag_run, chosen), task_state(dag_run, other)) == ("success", "skipped")
    # Each message was polled until it settled and never after: at most one request (the one
    # that saw it settled) arrived after the emulator settled it.
    for message in emulator.state.messages.values():
        settled_at = message.created_at + next(t for t, st in message.steps if st != "sent")
        assert len([r for r in emulator.requests(message.message_id) if r.at >= settled_at]) == 1


def _has_task_state_store() -> bool:
    try:
        from airflow.sdk.execution_time.context import TaskStateStoreAccessor  # noqa: F401
    except ImportError:
        return False
    return True


def test_reschedule_mode_batch_keeps_its_progress(emulator: Emulator) -> None:
    """A real reschedule-mode sensor: each poke is a new task run. On Airflow 3.3+ the task
    state store keeps the batch's progress, so settled messages are never polled again; on
    3.2 each poke polls the whole batch."""
    settled = emulator.add_messages(20, deliver_after=0)
    late = emulator.add_messages(5, after_polls=(3, "delivered"))
    dag_run = run_case("sensor_reschedule_batch", messages=[*settled, *late])
    assert dag_run.state == "success"
    assert task_xcom(dag_run, "use")["counts"] == {"delivered": 25}
    assert {len(emulator.requests(m)) for m in late} == {4}
    per_message = {len(emulator.requests(m)) for m in settled}
    assert per_message == ({1} if _has_task_state_store() else {4})
