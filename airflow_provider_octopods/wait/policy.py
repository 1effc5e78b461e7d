"""When to poll one message, with no I/O.

Every poll spends the API key's rate limit, which sends share, so the policy follows the
vendor's advice: the first poll waits a few seconds after the start, the interval grows while
nothing changes, and after ``delivered`` a wait for ``read`` backs off much further.
"""

from __future__ import annotations

from dataclasses import dataclass

# The interval grows by half after each poll that finds nothing new.
POLL_BACKOFF = 1.5
# The longest interval between two polls of one message, unless the sensor says otherwise.
MAX_POLL_INTERVAL = 60.0


@dataclass(frozen=True)
class PollPolicy:
    """Seconds between polls of one message. Plain numbers, so a trigger can serialize them."""

    first_delay: float = 5.0
    interval: float = 5.0
    backoff: float = POLL_BACKOFF
    max_interval: float = MAX_POLL_INTERVAL
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

    def current_interval(self, elapsed: float) -> float:
        """The interval from the last poll time at or before ``elapsed`` to the next one."""
        at, interval = self.first_delay, self.interval
        while at + interval <= elapsed:
            at += interval
            interval = self.grow(interval)
        return interval

    def to_dict(self) -> dict[str, float]:
        return {
            "first_delay": self.first_delay,
            "interval": self.interval,
            "backoff": self.backoff,
            "max_interval": self.max_interval,
            "read_interval": self.read_interval,
        }
