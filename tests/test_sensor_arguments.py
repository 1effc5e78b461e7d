"""Airflow's own sensor arguments on MessageStatusSensor: honoured where they have a meaning
for a schedule per message, refused when they contradict each other, when the DAG is parsed."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from airflow.sdk import BaseSensorOperator

from airflow_provider_octopods.sensors.message_status import MessageStatusSensor
from airflow_provider_octopods.status import MessageStatus
from airflow_provider_octopods.wait.watch import BatchWatch


def _sensor(**kwargs: object) -> MessageStatusSensor:
    return MessageStatusSensor(task_id="wait", message_id=1, **kwargs)  # type: ignore[arg-type]


def test_max_wait_is_the_longest_interval_between_polls() -> None:
    assert _sensor(max_wait=20).policy.max_interval == 20
    assert _sensor(max_wait=timedelta(minutes=2)).policy.max_interval == 120
    assert _sensor(max_poke_interval=30).policy.max_interval == 30
    assert _sensor().policy.max_interval == 60


def test_max_wait_and_max_poke_interval_together_are_refused() -> None:
    with pytest.raises(ValueError, match="max_poke_interval or max_wait"):
        _sensor(max_wait=20, max_poke_interval=30)


def test_exponential_backoff_false_keeps_one_interval() -> None:
    sensor = _sensor(exponential_backoff=False, poke_interval=7)
    watch = BatchWatch([1], "delivered", sensor.policy, started_at=0.0, now=0.0)
    polls = []
    now = watch.next_due()
    for _ in range(4):
        watch.record(MessageStatus(message_id=1, status="sent"), now)
        polls.append(watch.next_due() - now)
        now = watch.next_due()
    assert polls == [7.0, 7.0, 7.0, 7.0]


def test_the_schedule_grows_by_default_and_with_exponential_backoff() -> None:
    for sensor in (_sensor(poke_interval=4), _sensor(poke_interval=4, exponential_backoff=True)):
        watch = BatchWatch([1], "delivered", sensor.policy, started_at=0.0, now=0.0)
        first = watch.next_due()
        watch.record(MessageStatus(message_id=1, status="sent"), first)
        second = watch.next_due()
        watch.record(MessageStatus(message_id=1, status="sent"), second)
        assert watch.next_due() - second == 1.5 * (second - first)


def test_airflows_interval_hook_has_the_signature_the_sensor_overrides() -> None:
    """The sensor's schedule replaces Airflow's through a private method: a change of it in a
    new Airflow version fails here, not silently in a DAG."""
    ours = inspect.signature(MessageStatusSensor._get_next_poke_interval)
    airflows = inspect.signature(BaseSensorOperator._get_next_poke_interval)
    assert list(ours.parameters) == list(airflows.parameters)


@pytest.mark.parametrize(
    ("kwargs", "refused"),
    [
        ({"target_status": "sent"}, "target_status must be one of"),
        ({"max_failed": -1}, "max_failed must be 0 or more"),
        ({"statuses_path": "/tmp/x.parquet"}, "statuses_path is for a batch"),
        ({"soft_fail": True, "never_fail": True}, "mutually exclusive"),
    ],
)
def test_contradictions_are_refused_at_parse_time(kwargs: dict[str, object], refused: str) -> None:
    with pytest.raises(ValueError, match=refused):
        _sensor(**kwargs)


@pytest.mark.parametrize(("configured", "expected"), [(None, False), ("True", True), ("False", False)])
def test_deferrable_follows_default_deferrable_from_airflow_cfg(
    tmp_path: Path, configured: str | None, expected: bool
) -> None:
    """From airflow.cfg, not only the environment: Airflow's conf, as the official providers."""
    if configured is not None:
        (tmp_path / "airflow.cfg").write_text(f"[operators]\ndefault_deferrable = {configured}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__OPERATORS__")}
    env.update(AIRFLOW_HOME=str(tmp_path), AIRFLOW_CONFIG=str(tmp_path / "airflow.cfg"))
    code = (
        "from airflow_provider_octopods.sensors.message_status import MessageStatusSensor as S;"
        "print(S(task_id='w', message_id=1).deferrable)"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == str(expected)
