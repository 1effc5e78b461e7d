"""Which messages of a batch are pending, when each is due, and what settled; no I/O."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from airflow_provider_octopods.errors import ErrorAction, OctopodsError, error_action
from airflow_provider_octopods.reporting.tally import describe_error_list
from airflow_provider_octopods.status import (
    DELIVERED,
    FAILED,
    READ,
    MessageStatus,
    Outcome,
    check_target,
    outcome,
    rank,
)
from airflow_provider_octopods.wait.policy import PollPolicy

# A failure reason as a wait's log, exception and result show it: a server's text is not bounded.
MAX_REASON_CHARS = 300

# The last poll of a still-pending message lands this long before the deadline (at most a
# tenth of the whole wait), plus the time the budget needs to poll every pending message.
FINAL_POLL_LEAD = 5.0


@dataclass(slots=True)
class Schedule:
    """A pending message's schedule: when it is next polled, the interval after that, and the
    status its last poll saw (None: no poll answered yet). Slots: 10,000 of them stay light."""

    at: float
    interval: float
    last: str | None = None


class BatchWatch:
    """Which messages of a batch are still pending, when each is due, and what settled.

    ``record`` a status, or ``record_error`` a failed query (``errors.error_action`` decides
    what it means); settled messages (target met, or failed) are never polled again. With a
    ``deadline``, no interval steps over the last poll before it (``final_poll_at``): a wait
    never times out on what it knew minutes ago.
    """

    def __init__(
        self,
        message_ids: Iterable[int],
        target: str,
        policy: PollPolicy,
        started_at: float,
        now: float,
        *,
        deadline: float | None = None,
        rate: float | None = None,
    ) -> None:
        check_target(target)
        self.target = target
        self.policy = policy
        self.started_at = started_at
        self.deadline = deadline
        self.rate = rate
        self.order = list(message_ids)
        first_at, interval = policy.schedule(now - started_at)
        self.pending: dict[int, Schedule] = {m: Schedule(0.0, interval) for m in self.order}
        at = self._clipped(now, started_at + first_at)  # the final poll's time counts the pending
        for schedule in self.pending.values():
            schedule.at = at
        self.met: dict[int, dict[str, Any]] = {}
        self.failed: dict[int, dict[str, Any]] = {}
        self.fetched_at: dict[int, float] = {}
        self._settled_unsaved: list[int] = []
        # Pending messages whose last poll failed (a retry later): what a timeout reports.
        self.last_errors: dict[int, OctopodsError] = {}
        self._unknown_seen: set[str] = set()

    @property
    def done(self) -> bool:
        return not self.pending

    def due(self, now: float) -> list[int]:
        return [m for m, schedule in self.pending.items() if schedule.at <= now]

    def next_due(self) -> float:
        return float(min(schedule.at for schedule in self.pending.values()))

    def final_poll_at(self) -> float | None:
        """When the last poll before the deadline is due (None: no deadline)."""
        if self.deadline is None:
            return None
        lead = min(FINAL_POLL_LEAD, (self.deadline - self.started_at) / 10)
        if self.rate:
            lead += len(self.pending) / self.rate
        return self.deadline - lead

    def _clipped(self, now: float, at: float) -> float:
        final = self.final_poll_at()
        return final if final is not None and now < final < at else at

    def _settle(self, message_id: int, entry: dict[str, Any], result: Outcome, now: float) -> None:
        (self.met if result is Outcome.MET else self.failed)[message_id] = entry
        self.fetched_at[message_id] = now
        self.last_errors.pop(message_id, None)
        self._settled_unsaved.append(message_id)
        del self.pending[message_id]

    def record(self, status: MessageStatus, now: float) -> Outcome:
        result = outcome(status.status, self.target)
        if result is not Outcome.WAITING:
            self._settle(status.message_id, status.to_dict(), result, now)
            return result
        schedule = self.pending[status.message_id]
        self.last_errors.pop(status.message_id, None)
        interval = schedule.interval
        if self.target == READ and rank(status.status) >= rank(DELIVERED):
            # Only `read` can follow, and only with read receipts on: spend little on it.
            interval = max(interval, self.policy.read_interval)
        schedule.at, schedule.interval = self._clipped(now, now + interval), self.policy.grow(interval)
        schedule.last = status.status
        return result

    def record_error(self, message_id: int, error: OctopodsError, now: float) -> ErrorAction:
        """Apply the error policy to a failed query of ``message_id``: raise the error if it
        ends the wait, settle the message as failed, or poll it again at its next slot."""
        action = error_action(error)
        if action is ErrorAction.END_WAIT:
            raise error
        if action is ErrorAction.FAIL_MESSAGE:
            self._settle(message_id, failed_by_error(message_id, error), Outcome.FAILED, now)
        else:
            schedule = self.pending[message_id]
            schedule.at = self._clipped(now, now + schedule.interval)
            schedule.interval = self.policy.grow(schedule.interval)
            self.last_errors[message_id] = error
        return action

    def restore_settled(self, entry: dict[str, Any], fetched_at: float) -> None:
        """A status settled by an earlier poke or try (``progress``), not to be polled again."""
        message_id = int(entry["message_id"])
        if message_id in self.pending:
            failed = entry.get("error") or outcome(entry["status"], self.target) is Outcome.FAILED
            self._settle(message_id, entry, Outcome.FAILED if failed else Outcome.MET, fetched_at)
            self._settled_unsaved.pop()

    def reschedule(self, message_id: int, schedule: Schedule, now: float) -> None:
        """Put back a pending message's schedule from an earlier poke or try."""
        self.pending[message_id] = Schedule(self._clipped(now, schedule.at), schedule.interval, schedule.last)

    def take_settled(self) -> list[int]:
        """The messages settled since the last call, for the state store to append."""
        settled, self._settled_unsaved = self._settled_unsaved, []
        return settled

    def all_due(self, now: float) -> None:
        """Everything pending is due now, on the schedule's current interval: a poke that
        knows nothing of the earlier ones, made at the time the schedule set for it."""
        interval = self.policy.current_interval(now - self.started_at)
        for schedule in self.pending.values():
            schedule.at, schedule.interval = now, interval

    def never_polled(self) -> int:
        """Pending messages no poll has answered or failed for yet."""
        return sum(1 for m, s in self.pending.items() if s.last is None and m not in self.last_errors)

    def pending_text(self) -> str:
        """The pending messages by what is known of them: never polled, last poll failed (the
        most frequent kinds, a sample each), or polled and still short of the target."""
        never, failing = self.never_polled(), len(self.last_errors)
        parts = [f"{never:,} never polled"] if never else []
        if failing:
            parts.append(
                f"{failing:,} whose last poll failed: {describe_error_list(self.last_errors.values())}"
            )
        if waiting := len(self.pending) - never - failing:
            last = Counter(s.last for s in self.pending.values() if s.last is not None)
            shown = ", ".join(f"{n:,} {status!r}" for status, n in last.most_common(3))
            parts.append(f"{waiting:,} polled and not yet {self.target!r} (last seen: {shown})")
        return "; ".join(parts)

    def is_new_unknown(self, status: MessageStatus) -> bool:
        """True the first time an undocumented status value shows: log it once, not per poll."""
        if status.is_known or status.status in self._unknown_seen:
            return False
        self._unknown_seen.add(status.status)
        return True

    def verdict(self, max_failed: int | None) -> Outcome:
        """FAILED once more than ``max_failed`` failed (None: any number may), MET when all
        settled within that, WAITING before."""
        if max_failed is not None and len(self.failed) > max_failed:
            return Outcome.FAILED
        return Outcome.MET if self.done else Outcome.WAITING

    def failure_text(self, max_failed: int | None, shown: int = 10) -> str:
        """The failed messages with their reasons, for the task's log and exception."""
        lines = [
            f"message {m}: {(s.get('failure_reason') or 'no reason given')[:MAX_REASON_CHARS]} "
            f"(request_id {s.get('request_id')})"
            for m, s in list(self.failed.items())[:shown]
        ]
        more = f"; and {len(self.failed) - shown} more" if len(self.failed) > shown else ""
        return f"{len(self.failed)} message(s) failed (max_failed={max_failed}): " + "; ".join(lines) + more

    def results(self) -> list[dict[str, Any]]:
        """The settled statuses, in the order the messages were given."""
        return [self.met.get(m) or self.failed[m] for m in self.order if m in self.met or m in self.failed]


def failed_by_error(message_id: int, error: OctopodsError) -> dict[str, Any]:
    """A message settled as failed by a refused query (not found): a status dict whose
    ``failure_reason`` is the error, which ``error`` keeps whole."""
    entry = MessageStatus(message_id=message_id, status=FAILED, request_id=error.request_id).to_dict()
    entry["failure_reason"] = str(error)
    entry["error"] = error.to_dict()
    return entry
