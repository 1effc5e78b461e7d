"""MessageStatusTrigger: waits in the triggerer until messages are delivered (or read) or failed.

One trigger watches one message or a whole batch with the polling engine, through one
keep-alive aiohttp client paced at the connection's rate budget. Settled messages are never
polled again within the trigger's life. It always ends with exactly one event, a plain dict
of bounded size (its status a ``WaitEnd``), never a silent stop.

A trigger rebuilt after a triggerer restart gets only its kwargs back: triggers have no task
state store, so it resumes the schedule and the deadline, but polls the messages that had
settled once more (each at its own slot, not all at once).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_octopods.errors import OctopodsError
from airflow_provider_octopods.hooks.octopods import OctopodsHook
from airflow_provider_octopods.wait.clock import SYSTEM_CLOCK, Clock
from airflow_provider_octopods.wait.engine import PollingEngine, WaitEnd
from airflow_provider_octopods.wait.policy import PollPolicy
from airflow_provider_octopods.wait.result import final_result
from airflow_provider_octopods.wait.watch import BatchWatch

# Requests in flight at most for one wait: a sensor's polls are a trickle beside the sends.
WAIT_MAX_CONCURRENCY = 10


class MessageStatusTrigger(BaseTrigger):
    """Poll ``message_ids`` until each reached ``target_status`` or failed, or ``deadline``.

    :param message_ids: message ids (ints), already checked by the sensor.
    :param target_status: ``delivered`` (also met by ``read``) or ``read``.
    :param deadline: absolute Unix time at which to give up; kept across triggerer restarts.
    :param started_at: Unix time of the first deferral; the polling schedule counts from it.
    :param policy: ``PollPolicy`` numbers.
    :param max_failed: failed messages tolerated (None: any number).
    :param single: the result is the one message's status dict, not a batch summary.
    :param statuses_path: where to write every status as Parquet on success (a batch).
    :param clock: not serialized; a bench or a test passes a virtual one.
    """

    def __init__(
        self,
        *,
        message_ids: list[int],
        target_status: str,
        deadline: float,
        started_at: float,
        octopods_conn_id: str = OctopodsHook.default_conn_name,
        policy: dict[str, float] | None = None,
        max_failed: int | None = 0,
        max_concurrency: int = WAIT_MAX_CONCURRENCY,
        single: bool = False,
        statuses_path: str | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.message_ids = [int(m) for m in message_ids]
        self.target_status = target_status
        self.deadline = float(deadline)
        self.started_at = float(started_at)
        self.octopods_conn_id = octopods_conn_id
        self.policy = PollPolicy(**(policy or {}))
        self.max_failed = max_failed
        self.max_concurrency = max_concurrency
        self.single = single
        self.statuses_path = statuses_path
        self.clock = clock

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "message_ids": self.message_ids,
                "target_status": self.target_status,
                "deadline": self.deadline,
                "started_at": self.started_at,
                "octopods_conn_id": self.octopods_conn_id,
                "policy": self.policy.to_dict(),
                "max_failed": self.max_failed,
                "max_concurrency": self.max_concurrency,
                "single": self.single,
                "statuses_path": self.statuses_path,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        watch = BatchWatch(
            self.message_ids,
            self.target_status,
            self.policy,
            self.started_at,
            self.clock.time(),
            deadline=self.deadline,
        )
        try:
            event = await self._wait(watch)
        except OctopodsError as exc:
            event = self._event(watch, WaitEnd.ERROR, str(exc), error=exc.to_dict())
        except Exception as exc:  # never a silent stop: the sensor fails with this text
            self.log.exception("MessageStatusTrigger stopped on an unexpected error")
            event = self._event(
                watch, WaitEnd.ERROR, f"MessageStatusTrigger stopped: {type(exc).__name__}: {exc}"
            )
        yield TriggerEvent(event)  # type: ignore[no-untyped-call]

    async def _wait(self, watch: BatchWatch) -> dict[str, Any]:
        hook = OctopodsHook(octopods_conn_id=self.octopods_conn_id)
        async with hook.async_client(max_concurrency=self.max_concurrency) as client:
            watch.rate = client.rate
            engine = PollingEngine(watch, max_failed=self.max_failed, clock=self.clock, log=self.log)
            outcome = await self._until_deadline(engine.run_async(client))
        if outcome is WaitEnd.TIMEOUT:
            text = engine.timeout_text(self.deadline - self.started_at, client.rate, self.octopods_conn_id)
        elif outcome is WaitEnd.TOO_MANY_FAILED:
            text = watch.failure_text(self.max_failed)
        else:
            text = f"{len(watch.met)} met {self.target_status!r}, {len(watch.failed)} failed"
        if outcome is WaitEnd.SUCCESS and self.statuses_path is not None:
            # Parquet writes are blocking I/O: off the triggerer's event loop.
            return await asyncio.to_thread(self._event, watch, outcome, text)
        return self._event(watch, outcome, text)

    async def _until_deadline(self, polling: Coroutine[Any, Any, WaitEnd]) -> WaitEnd:
        """The deadline cuts whatever is in progress (a request, a retry's backoff, a wait at
        the rate-limit gate): the event comes at the deadline, not when a retry loop ends."""
        loop_deadline = asyncio.get_running_loop().time() + (self.deadline - self.clock.time())
        try:
            async with asyncio.timeout_at(loop_deadline) as limit:
                return await polling
        except TimeoutError:
            if limit.expired():
                return WaitEnd.TIMEOUT
            raise

    def _event(
        self, watch: BatchWatch, status: WaitEnd, message: str, error: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """The event: plain JSON, its ``result`` as ``wait.result.final_result`` makes it."""
        statuses_path = self.statuses_path if status is WaitEnd.SUCCESS else None
        return {
            "status": status.value,
            "message": message,
            "result": final_result(watch, single=self.single, statuses_path=statuses_path),
            "error": error,
        }
