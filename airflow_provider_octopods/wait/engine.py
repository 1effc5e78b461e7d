"""The polling engine every mode drives: deferrable (the trigger, async client), poke and
reschedule (the sensor, blocking client).

The engine polls the due messages of a ``BatchWatch`` in rounds, hands each answer or error
to the watch (which applies the one schedule and the one error policy), and stops a round as
soon as the outcome is decided. Pacing is the clients' shared ``RequestGate``; time is the
injected ``Clock``. The modes differ only in where they sleep between rounds.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import aclosing
from enum import StrEnum
from typing import Protocol

from airflow.sdk.exceptions import AirflowException

from airflow_provider_octopods.clients.async_client import AsyncOctopodsClient
from airflow_provider_octopods.errors import OctopodsError
from airflow_provider_octopods.reporting.durations import Cadence, duration, least_time
from airflow_provider_octopods.reporting.log import Log
from airflow_provider_octopods.reporting.tally import Tally, emit_gauge
from airflow_provider_octopods.status import MessageStatus, Outcome
from airflow_provider_octopods.wait.clock import Clock
from airflow_provider_octopods.wait.watch import BatchWatch


class WaitEnd(StrEnum):
    """How a wait ended; the value is the ``status`` of the trigger's event."""

    SUCCESS = "success"  # every message settled, no more failed than max_failed
    TOO_MANY_FAILED = "failed"  # more than max_failed messages failed
    TIMEOUT = "timeout"  # the deadline passed first
    ERROR = "error"  # an error that ends the wait (errors.error_action), or anything unexpected


# A wake-up right after the deadline, so that the check that ends the wait finds it passed.
_AFTER_DEADLINE = 0.01


class BlockingClient(Protocol):
    tally: Tally

    def get_message_status(self, message: object, deadline: float | None = None) -> MessageStatus: ...


class Stopped(AirflowException):
    """A poke stopped between two requests: the task was told to stop (SIGTERM)."""


def plan_lines(
    count: int, target: str, timeout: float, rate: float | None, conn_id: str, first_delay: float
) -> tuple[str, str | None]:
    """What a wait says at its start: how long one round of polls takes at least, and a warning
    when that round cannot end before the timeout (most messages would never be polled)."""
    round_time = least_time(count, rate)
    budget = f"{rate:g} requests/s of connection {conn_id!r}" if rate else f"connection {conn_id!r}"
    start = (
        f"Waiting for {count:,} message(s) to be {target!r} (timeout {duration(timeout)}), at "
        f"{budget}: one round of polls takes at least {duration(round_time)}; the first poll in "
        f"{duration(first_delay)}"
    )
    if first_delay + round_time <= timeout:
        return start, None
    return start, (
        f"timeout={timeout:g} s is shorter than one round of polls ({duration(round_time)} for "
        f"{count:,} messages at {budget}): most messages will not be polled once before it ends. "
        f"Raise the timeout, or the connection's requests_per_second if the key's rate limit "
        f"leaves room beside the sends, or split the batch"
    )


class PollingEngine:
    """Rounds of polls over ``watch``; ``max_failed`` as the sensor's."""

    def __init__(self, watch: BatchWatch, *, max_failed: int | None, clock: Clock, log: Log) -> None:
        self.watch = watch
        self.max_failed = max_failed
        self.clock = clock
        self.log = log
        self.cadence = Cadence(clock.time)
        self._rounds = 0

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
        self.watch.record_error(message_id, error, now)

    def _due(self) -> list[int]:
        # Nothing is polled past the deadline: the answer could no longer change the outcome.
        return [] if self.deadline_passed else self.watch.due(self.clock.time())

    def _round_over(self, tally: Tally) -> bool:
        if self.cadence.due():
            self.report(tally)
        # Decided (too many failed): the rest of the round would spend requests for nothing.
        return self.verdict is Outcome.FAILED or self.deadline_passed

    def report(self, tally: Tally) -> None:
        """A progress line, and the pending count to the metrics."""
        w = self.watch
        elapsed = self.cadence.elapsed()
        rate = f"{tally.requests / elapsed:.1f} requests/s" if elapsed > 0 else "no requests yet"
        never = w.never_polled()
        if never and w.rate:
            rate += f"; every message polled once in about {duration(never / w.rate)} more"
        self.log.info(
            "Waiting for %s message(s) to be %r: %s settled (%s met, %s failed), %s pending%s; "
            "%s requests, %s answered 429; %s",
            f"{len(w.order):,}",
            w.target,
            f"{len(w.met) + len(w.failed):,}",
            f"{len(w.met):,}",
            f"{len(w.failed):,}",
            f"{len(w.pending):,}",
            f" ({w.pending_text()})" if w.pending else "",
            f"{tally.requests:,}",
            f"{tally.answered_429:,}",
            rate,
        )
        emit_gauge("wait.pending", len(w.pending), tally.conn_id)

    def _round_done(self, due: list[int], tally: Tally) -> int:
        tally.flush()  # a poke's client lives on in the hook: its counts must not wait for a close
        self._rounds += 1
        if due and self._rounds == 1:  # a reschedule poke is one round: it says where it stands
            self.report(tally)
        return len(due)

    def poll_blocking(self, client: BlockingClient, stop: Callable[[], bool] | None = None) -> int:
        """One round: every due message once, through the blocking client. Returns how many.
        ``stop`` is asked between requests: true, and the round ends with ``Stopped``."""
        due = self._due()
        for message_id in due:
            if stop is not None and stop():
                raise Stopped(f"Stopped (SIGTERM) with {len(self.watch.pending):,} message(s) pending")
            try:
                status = client.get_message_status(message_id, self.watch.deadline)
            except OctopodsError as exc:
                self._take(message_id, None, exc)
            else:
                self._take(message_id, status, None)
            if self._round_over(client.tally):
                break
        return self._round_done(due, client.tally)

    async def poll_async(self, client: AsyncOctopodsClient) -> int:
        """One round through the async client, ``max_concurrency`` queries at a time."""
        due = self._due()
        # aclosing: leaving early cancels the client's workers now, not when collected.
        async with aclosing(client.iter_message_statuses(due, self.watch.deadline)) as results:
            async for result in results:
                self._take(int(result.message), result.status, result.error)
                if self._round_over(client.tally):
                    break
        return self._round_done(due, client.tally)

    async def run_async(self, client: AsyncOctopodsClient) -> WaitEnd:
        """Poll until the outcome is decided or the deadline passed."""
        while self.verdict is Outcome.WAITING:
            if self.deadline_passed:
                return WaitEnd.TIMEOUT
            wait = self.wake_in()
            if wait > 0:
                await self.clock.asleep(wait)
                continue
            await self.poll_async(client)
        return WaitEnd.TOO_MANY_FAILED if self.verdict is Outcome.FAILED else WaitEnd.SUCCESS

    def timeout_text(self, timeout: float, rate: float | None, conn_id: str) -> str:
        """Why a wait timed out, in numbers: what is known of each pending message, and what to
        change when messages were never polled."""
        w = self.watch
        text = (
            f"{len(w.pending):,} of {len(w.order):,} messages had not reached {w.target!r} by the "
            f"deadline ({duration(timeout)}): {w.pending_text()}"
        )
        if w.never_polled():
            _, advice = plan_lines(len(w.order), w.target, timeout, rate, conn_id, w.policy.first_delay)
            text += f". {advice or 'Raise the timeout'}"
        return text
