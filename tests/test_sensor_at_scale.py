"""MessageStatusSensor as a new user meets it at scale and with a broken set-up, through
dag.test() against the emulator: the first lines say how long one round of polls takes and warn
when the timeout is shorter; a timeout says what is known of every pending message; an invalid
reference fails in one try whatever the retries."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_octopods.emulator import Emulator
from tests.dag_runs import task_state
from tests.test_sensor_dags import run_case
from tests.test_snapshot_failures import try_numbers

pytestmark = pytest.mark.usefixtures("connections")


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch, emulator: Emulator, airflow_db: str) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_OCTOPODS_DEFAULT", emulator.connection_json(requests_per_second=500))
    # The connection as a new user leaves it: the default budget of 5 requests/s.
    monkeypatch.setenv("AIRFLOW_CONN_OCTOPODS_PLAIN", emulator.connection_json())


def lines_with(out: str, text: str) -> list[str]:
    return [line for line in out.splitlines() if text in line]


def test_a_hundred_thousand_ids_on_the_default_budget_say_so_at_once(
    emulator: Emulator, capfd: pytest.CaptureFixture[str]
) -> None:
    ids = emulator.add_messages(100_000, deliver_after=0)
    dag_run = run_case("sensor_at_scale", messages=ids)
    out = capfd.readouterr().out
    [start] = lines_with(out, "Waiting for 100,000 message(s) to be 'delivered' (timeout 20 s)")
    assert "at 5 requests/s of connection 'octopods_plain'" in start
    assert "one round of polls takes at least 5 h 33 min" in start
    [warning] = [line for line in lines_with(out, "[warning") if "timeout=20 s is shorter than one" in line]
    assert "most messages will not be polled once" in warning
    assert out.index(start) < out.index(warning)  # both logged before the task defers
    assert dag_run.state == "failed" and task_state(dag_run, "wait") == "failed"
    polled = len(emulator.requests())
    assert 0 < polled <= 20 * 5 + 1  # the budget holds: 5 requests/s for under 20 s
    [timeout] = lines_with(out, "messages had not reached 'delivered' by the deadline (20 s)")
    assert f"{100_000 - polled:,} of 100,000 messages" in timeout
    assert f"{100_000 - polled:,} never polled" in timeout
    assert "requests_per_second" in timeout  # what to change


def test_an_outage_is_named_in_the_timeout(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch, capfd: Any, caplog: pytest.LogCaptureFixture
) -> None:
    ids = emulator.add_messages(5, deliver_after=0)
    monkeypatch.setenv(
        "AIRFLOW_CONN_OCTOPODS_DEFAULT", emulator.connection_json(requests_per_second=500, max_retries=0)
    )
    emulator.stop()
    dag_run = run_case("sensor_batch_short", messages=ids)
    out = capfd.readouterr().out
    assert dag_run.state == "failed"
    [timeout] = lines_with(out, "5 of 5 messages had not reached 'delivered'")
    assert "5 whose last poll failed: OctopodsConnectionError x5" in timeout
    assert "could not be reached (http://127.0.0.1:" in timeout
    assert "failed since the last warning" in caplog.text  # said while it waited


def test_an_invalid_reference_runs_one_try_whatever_the_retries(
    emulator: Emulator, capfd: pytest.CaptureFixture[str]
) -> None:
    dag_run = run_case("sensor_retried", message="abc")
    out = capfd.readouterr().out
    assert dag_run.state == "failed"
    assert try_numbers(dag_run, "wait") == 1
    assert "InvalidMessageReference" in out and "not 'abc'" in out
    assert emulator.requests() == []
