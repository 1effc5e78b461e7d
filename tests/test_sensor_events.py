"""The sensor resumes from the trigger's event only after checking it: every ending the
trigger sends becomes its result or its typed error, and anything else a typed error too."""

from __future__ import annotations

from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowSensorTimeout

from airflow_provider_octopods.errors import (
    MessageFailedError,
    OctopodsAuthError,
    OctopodsTriggerError,
)
from airflow_provider_octopods.sensors.message_status import MessageStatusSensor


def _resume(event: Any) -> Any:
    sensor = MessageStatusSensor(task_id="wait", message_id=1, deferrable=True)
    return sensor.execute_complete({}, event=event)


@pytest.mark.parametrize(
    "event",
    [None, "success", {}, {"status": "done"}, {"status": ["success"]}, {"status": "success", "result": 7}],
)
def test_an_event_the_trigger_cannot_send_is_a_typed_error(event: Any) -> None:
    with pytest.raises(OctopodsTriggerError, match="MessageStatusTrigger sent"):
        _resume(event)


def test_each_ending_becomes_the_result_or_its_error() -> None:
    assert _resume({"status": "success", "message": "1 met", "result": {"status": "delivered"}}) == {
        "status": "delivered"
    }
    with pytest.raises(MessageFailedError, match="1 message"):
        _resume({"status": "failed", "message": "1 message(s) failed"})
    with pytest.raises(AirflowSensorTimeout, match="deadline"):
        _resume({"status": "timeout", "message": "not delivered by the deadline"})
    refused = OctopodsAuthError("key refused", http_status=401, request_id="r-9").to_dict()
    with pytest.raises(OctopodsAuthError, match="r-9"):
        _resume({"status": "error", "message": "key refused", "error": refused})
    with pytest.raises(OctopodsTriggerError, match="stopped"):
        _resume({"status": "error", "message": "MessageStatusTrigger stopped: bug"})
