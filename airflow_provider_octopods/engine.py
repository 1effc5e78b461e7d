"""The polling engine every mode drives: deferrable (the trigger, async client), poke and
reschedule (the sensor, blocking client).

The engine polls the due messages of a ``BatchWatch`` in rounds, hands each answer or error
to the watch (which applies the one schedule and the one error policy), and stops a round as
soon as the outcome is decided. Pacing is the clients' shared ``RequestGate``; time is the
injected ``Clock``. The modes differ only in where they sleep between rounds.
"""

from __future__ import annotations

from contextlib import aclosing
from typing import Any, Protocol

from airflow_provider_octopods.clients.async_client import AsyncOctopodsClient
from airflow_provider_octopods.clock import Clock
from airflow_provider_octopods.errors import ErrorAction, OctopodsError
from airflow_provider_octopods.polling import BatchWatch
from airflow_provider_octopods.status import MessageStatus, Outcome

# How the engine's wait ended: the names of the trigger's event statuses.
SUCCESS, FAILED, TIMEOUT = "success", "failed", "timeout"
# A wake-up right after the deadline, so that the check that ends the wait finds it passed.
_AFTER_DEADLINE = 0.01


class Log(Protocol):
    def info(self, event: Any, *args: Any, **kw: Any) -> Any: ...

    def warning(self, event: Any, *args: Any, **kw: Any) -> Any: ...


class BlockingClient(Protocol):
    requests_sent: int

    def get_message_status(self, message: object) -> MessageStatus: ...


class PollingEngine:
    """Rounds of polls over ``watch``; ``max_failed`` as the sensor's."""

    def __init__(self, watch: BatchWatch, *, max_failed: int | None, clock: Clock, log: Log) -> None:
        self.watch = watch
        self.max_failed = max_failed
        self.clock = clock
        self.log = log

    @property
    def verdict(self) -> Outcome:
        return self.watch.verdict(self.max_failed)

    @property
    def deadline_passed(self) -> bool:
        return self.watch.deadline is not None and self.clock.time() >= self.watch.deadline

    def wake_in(self) -> float:
        """Seconds until the next message is due (or just past the deadline, if sooner)."""
        wake = self.watch.next_due()
        if self.watch.deadline is not None:
            wake = min(wake, self.watch.deadline + _AFTER_DEADLINE)
        return max(wake - self.clock.time(), 0.0)

    def _take(self, message_id: int, status: MessageStatus | None, error: OctopodsError | None) -> None:
        now = self.clock.time()
        if status is not None:
            self.watch.record(status, now)
            if self.watch.is_new_unknown(status):
                self.log.warning("Status %r is not documented; still waiting", status.status)
            return
        assert error is not None
        if self.watch.record_error(message_id, error, now) is ErrorAction.RETRY_LATER:
            self.log.warning("Polling %s failed for now, trying later: %s", message_id, error)

    def _due(self) -> list[int]:
        # Nothing is polled past the deadline: the answer could no longer change the outcome.
        return [] if self.deadline_passed else self.watch.due(self.clock.time())

    def _round_over(self) -> bool:
        # Decided (too many failed): the rest of the round would spend requests for nothing.
        return self.verdict is Outcome.FAILED or self.deadline_passed

    def _round_done(self, due: list[int], requests: int) -> int:
        w = self.watch
        if due:
            self.log.info(
                "Polled %d: %d met, %d failed, %d pending (%d requests so far)",
                len(due),
                len(w.met),
                len(w.failed),
                len(w.pending),
                requests,
            )
        return len(due)

    def poll_blocking(self, client: BlockingClient) -> int:
        """One round: every due message once, through the blocking client. Returns how many."""
        due = self._due()
        for message_id in due:
            try:
                status = client.get_message_status(message_id)
            except OctopodsError as exc:
                self._take(message_id, None, exc)
            else:
                self._take(message_id, status, None)
            if self._round_over():
                break
        return self._round_done(due, client.requests_sent)

    async def poll_async(self, client: AsyncOctopodsClient) -> int:
        """One round through the async client, ``max_concurrency`` queries at a time."""
        due = self._due()
        # aclosing: leaving early cancels the client's workers now, not when collected.
        async with aclosing(client.iter_message_statuses(due)) as results:
            async for result in results:
                self._take(int(result.message), result.status, result.error)  # type: ignore[call-overload]
                if self._round_over():
                    break
        return self._round_done(due, client.requests_sent)

    async def run_async(self, client: AsyncOctopodsClient) -> str:
        """Poll until the outcome is decided or the deadline passed: SUCCESS, FAILED or TIMEOUT."""
        while self.verdict is Outcome.WAITING:
            if self.deadline_passed:
                return TIMEOUT
            wait = self.wake_in()
            if wait > 0:
                await self.clock.asleep(wait)
                continue
            await self.poll_async(client)
        return FAILED if self.verdict is Outcome.FAILED else SUCCESS
