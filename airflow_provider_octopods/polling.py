"""When to poll which message, with no I/O: the polling policy and a batch's progress.

Every poll spends the API key's rate limit, which sends share, so the policy follows the
vendor's advice: the first poll waits a few seconds after the start, the interval grows while
nothing changes, and after ``delivered`` a wait for ``read`` backs off much further.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from airflow_provider_octopods.status import DELIVERED, READ, MessageStatus, Outcome, outcome, rank


@dataclass(frozen=True)
class PollPolicy:
    """Seconds between polls of one message. Plain numbers, so a trigger can serialize them."""

    first_delay: float = 5.0
    interval: float = 5.0
    backoff: float = 1.5
    max_interval: float = 60.0
    read_interval: float = 300.0

    def __post_init__(self) -> None:
        consistent = self.interval > 0 and self.backoff >= 1 and self.max_interval >= self.interval
        if not consistent or self.first_delay < 0:
            raise ValueError(f"inconsistent polling policy: {self}")

    def grow(self, interval: float) -> float:
        return min(self.max_interval, interval * self.backoff)

    def schedule(self, elapsed: float) -> tuple[float, float]:
        """The next poll time after ``elapsed`` seconds from the start, and the interval then.

        A trigger rebuilt mid-wait (a triggerer restart) resumes this schedule where it
        stands, instead of polling everything at once.
        """
        at, interval = self.first_delay, self.interval
        while at <= elapsed:
            at += interval
            interval = self.grow(interval)
        return at, interval

    def to_dict(self) -> dict[str, float]:
        return {
            "first_delay": self.first_delay,
            "interval": self.interval,
            "backoff": self.backoff,
            "max_interval": self.max_interval,
            "read_interval": self.read_interval,
        }


class BatchWatch:
    """Which messages of a batch are still pending, when each is due, and what settled.

    ``record`` a status, or ``postpone`` a message whose poll failed for a passing reason;
    settled messages (target met, or failed) are never polled again.
    """

    def __init__(
        self, message_ids: Iterable[int], target: str, policy: PollPolicy, started_at: float, now: float
    ) -> None:
        outcome(DELIVERED, target)  # refuses a target that is not a delivery stage
        self.target = target
        self.policy = policy
        first_at, interval = policy.schedule(now - started_at)
        # message id -> [next poll time, interval, last status]: lists, as 10,000 of them stay light
        self.pending: dict[int, list[Any]] = {m: [started_at + first_at, interval, None] for m in message_ids}
        self.met: dict[int, dict[str, Any]] = {}
        self.failed: dict[int, dict[str, Any]] = {}
        self._unknown_seen: set[str] = set()

    @property
    def done(self) -> bool:
        return not self.pending

    def due(self, now: float) -> list[int]:
        return [m for m, (at, _, _) in self.pending.items() if at <= now]

    def next_due(self) -> float:
        return float(min(at for at, _, _ in self.pending.values()))

    def record(self, status: MessageStatus, now: float) -> Outcome:
        result = outcome(status.status, self.target)
        if result is Outcome.MET:
            self.met[status.message_id] = status.to_dict()
        elif result is Outcome.FAILED:
            self.failed[status.message_id] = status.to_dict()
        if result is not Outcome.WAITING:
            del self.pending[status.message_id]
            return result
        entry = self.pending[status.message_id]
        interval = entry[1]
        if self.target == READ and rank(status.status) >= rank(DELIVERED):
            # Only `read` can follow, and only with read receipts on: spend little on it.
            interval = max(interval, self.policy.read_interval)
        entry[:] = [now + interval, self.policy.grow(interval), status.status]
        return result

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
            f"message {m}: {s.get('failure_reason') or 'no reason given'} (request_id {s.get('request_id')})"
            for m, s in list(self.failed.items())[:shown]
        ]
        more = f"; and {len(self.failed) - shown} more" if len(self.failed) > shown else ""
        return f"{len(self.failed)} message(s) failed (max_failed={max_failed}): " + "; ".join(lines) + more

    def results(self, order: Iterable[int]) -> list[dict[str, Any]]:
        """The settled statuses, in the order the messages were given."""
        return [self.met.get(m) or self.failed[m] for m in order if m in self.met or m in self.failed]

    def postpone(self, message_id: int, now: float) -> None:
        """The poll failed for a passing reason (retries spent, 429 past the wait): try later."""
        entry = self.pending[message_id]
        entry[0], entry[1] = now + entry[1], self.policy.grow(entry[1])
