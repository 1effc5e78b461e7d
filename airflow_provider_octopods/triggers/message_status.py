"""MessageStatusTrigger: waits in the triggerer until messages are delivered (or read) or failed.

One trigger watches one message or a whole batch through one keep-alive aiohttp client, paced
at the connection's rate budget. Settled messages are never polled again. It always ends with
exactly one event, a plain dict (see ``EVENT_STATUSES``), never a silent stop.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_octopods.errors import InvalidMessageReference, OctopodsError, OctopodsRequestError
from airflow_provider_octopods.hooks.octopods import OctopodsHook
from airflow_provider_octopods.polling import BatchWatch, PollPolicy
from airflow_provider_octopods.status import Outcome

# success: all settled within max_failed; failed: more than max_failed failed; timeout: the
# deadline passed first; error: a refused key, an unknown message, or anything unexpected.
# Every event also carries "results", the settled statuses as one JSON text.
EVENT_STATUSES = ("success", "failed", "timeout", "error")
DEFAULT_MAX_CONCURRENCY = 10


class MessageStatusTrigger(BaseTrigger):
    """Poll ``message_ids`` until each reached ``target_status`` or failed, or ``deadline``.

    :param message_ids: message ids (ints), already checked by the sensor.
    :param target_status: ``delivered`` (also met by ``read``) or ``read``.
    :param deadline: absolute Unix time at which to give up; kept across triggerer restarts.
    :param started_at: Unix time of the first deferral; the polling schedule counts from it.
    :param policy: ``PollPolicy`` numbers.
    :param max_failed: failed messages tolerated (None: any number).
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
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
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
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        watch = BatchWatch(self.message_ids, self.target_status, self.policy, self.started_at, time.time())
        try:
            event = await self._watch_until_deadline(watch)
        except OctopodsError as exc:
            event = self._event(watch, "error", str(exc), error=exc.to_dict())
        except Exception as exc:  # never a silent stop: the sensor fails with this text
            self.log.exception("MessageStatusTrigger stopped on an unexpected error")
            event = self._event(watch, "error", f"MessageStatusTrigger stopped: {type(exc).__name__}: {exc}")
        yield TriggerEvent(event)  # type: ignore[no-untyped-call]

    async def _watch_until_deadline(self, watch: BatchWatch) -> dict[str, Any]:
        """The deadline cuts whatever is in progress (a request, a retry's backoff, a wait at
        the rate-limit gate): the event comes at the deadline, not when a retry loop ends."""
        loop_deadline = asyncio.get_running_loop().time() + (self.deadline - time.time())
        try:
            async with asyncio.timeout_at(loop_deadline) as limit:
                return await self._watch(watch)
        except TimeoutError:
            if limit.expired():
                return self._timeout(watch)
            raise

    async def _watch(self, watch: BatchWatch) -> dict[str, Any]:
        hook = OctopodsHook(octopods_conn_id=self.octopods_conn_id)
        async with hook.async_client(max_concurrency=self.max_concurrency) as client:
            while watch.verdict(self.max_failed) is Outcome.WAITING:
                now = time.time()
                if now >= self.deadline:
                    return self._timeout(watch)
                wake = min(watch.next_due(), self.deadline)
                if wake > now:
                    await asyncio.sleep(wake - now)
                    continue
                due = watch.due(now)
                async for result in client.iter_message_statuses(due):
                    message_id = int(result.message)  # type: ignore[call-overload]
                    if result.status is not None:
                        watch.record(result.status, time.time())
                        if watch.is_new_unknown(result.status):
                            self.log.warning(
                                "Status %r is not documented; still waiting", result.status.status
                            )
                        if watch.verdict(self.max_failed) is Outcome.FAILED:
                            break  # decided: the rest of the round would spend requests for nothing
                    elif isinstance(result.error, (OctopodsRequestError, InvalidMessageReference)):
                        raise result.error
                    else:
                        self.log.warning(
                            "Polling %s failed for now, trying later: %s", message_id, result.error
                        )
                        watch.postpone(message_id, time.time())
                    if time.time() >= self.deadline:
                        return self._timeout(watch)
                self.log.info(
                    "Polled %d: %d met, %d failed, %d pending (%d requests so far)",
                    len(due),
                    len(watch.met),
                    len(watch.failed),
                    len(watch.pending),
                    client.requests_sent,
                )
        if watch.verdict(self.max_failed) is Outcome.FAILED:
            return self._event(watch, "failed", watch.failure_text(self.max_failed))
        return self._event(watch, "success", f"{len(watch.met)} met {self.target_status!r}")

    def _timeout(self, watch: BatchWatch) -> dict[str, Any]:
        return self._event(
            watch,
            "timeout",
            f"{len(watch.pending)} of {len(self.message_ids)} messages had not reached "
            f"{self.target_status!r} by the deadline",
        )

    def _event(
        self, watch: BatchWatch, status: str, message: str, error: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        return {
            "status": status,
            "message": message,
            # One JSON text, not 10,000 dicts: Airflow serializes an event value by value, on
            # the triggerer's event loop, which a large batch would block for seconds.
            "results": json.dumps(watch.results(self.message_ids)),
            "failed": sorted(watch.failed),
            "pending": sorted(watch.pending),
            "error": error,
        }
