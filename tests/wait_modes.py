"""Run MessageStatusSensor in each mode in this process, as Airflow would, for tests that
compare the modes: deferrable (execute defers, the trigger runs, execute_complete resumes),
poke (execute's own loop) and reschedule (each poke a new sensor object, as a new process is,
with a task state store that keeps JSON values as Airflow's does, or none as on 3.2)."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime
from typing import Any

from airflow.sdk.exceptions import AirflowRescheduleException, TaskDeferred

from airflow_provider_octopods.sensors.message_status import MessageStatusSensor

MODES = ("deferrable", "poke", "reschedule")
# Fast polling, so that a wait takes tenths of seconds.
FAST = {"poke_interval": 0.1, "max_poke_interval": 0.3, "first_poke_delay": 0.05, "read_poke_interval": 0.5}


class JsonStore:
    """The task state store's contract: JSON values, get with a default, set, delete."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def get(self, key: str, default: Any = None) -> Any:
        return json.loads(self.values[key]) if key in self.values else default

    def set(self, key: str, value: Any, *, retention: Any = None) -> None:
        self.values[key] = json.dumps(value)

    def delete(self, key: str) -> None:
        self.values.pop(key, None)


class RescheduleTI:
    """The one call a reschedule-mode sensor makes on its task instance."""

    def __init__(self) -> None:
        self.first_reschedule: datetime | None = None

    def get_first_reschedule_date(self, context: Any) -> datetime | None:
        return self.first_reschedule


def run_sensor(mode: str, *, store: JsonStore | None = None, limit: float = 60.0, **kwargs: Any) -> Any:
    """The sensor's return value in ``mode``; raises what the task would raise."""
    kwargs = {**FAST, "timeout": 30, **kwargs}
    if mode == "deferrable":
        sensor = MessageStatusSensor(task_id="wait", deferrable=True, **kwargs)
        try:
            sensor.execute({})
        except TaskDeferred as deferred:
            trigger, method = deferred.trigger, deferred.method_name
        else:
            raise AssertionError("the sensor did not defer")

        async def first_event() -> Any:
            async for event in trigger.run():
                return event.payload

        payload = asyncio.run(asyncio.wait_for(first_event(), timeout=limit))
        return getattr(sensor, method)({}, event=payload)
    ti = RescheduleTI()
    context: dict[str, Any] = {"ti": ti}
    if store is not None:
        context["task_state_store"] = store
    if mode == "poke":
        return MessageStatusSensor(task_id="wait", deferrable=False, mode="poke", **kwargs).execute(context)
    give_up = time.monotonic() + limit
    while time.monotonic() < give_up:
        started = datetime.now(UTC)
        sensor = MessageStatusSensor(task_id="wait", deferrable=False, mode="reschedule", **kwargs)
        try:
            return sensor.execute(context)
        except AirflowRescheduleException as exc:
            ti.first_reschedule = ti.first_reschedule or started
            time.sleep(max((exc.reschedule_date - datetime.now(UTC)).total_seconds(), 0.0))
    raise AssertionError("the reschedule-mode sensor never finished")
