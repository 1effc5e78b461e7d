"""What a long run says while it runs: how long it takes at least, said at its start, then a
progress line at a bounded cadence. Every 30 s at first, then a tenth of the time elapsed, at
most every 5 minutes: a five-hour snapshot logs under a hundred lines, never one per request."""

from __future__ import annotations

import time
from collections.abc import Callable

FIRST_SECONDS = 30.0
MOST_SECONDS = 300.0


def duration(seconds: float) -> str:
    """``45 s``, ``12 min 5 s``, ``5 h 33 min``, ``3 days 4 h``: two units at most."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f} s" if seconds >= 1 else f"{seconds:.1f} s"
    units = (("day", 86400), ("h", 3600), ("min", 60), ("s", 1))
    parts: list[str] = []
    left = int(seconds)
    for name, size in units:
        if left >= size and len(parts) < 2:
            count, left = divmod(left, size)
            parts.append(f"{count} {name}{'s' if name == 'day' and count > 1 else ''}")
        elif parts:
            break
    return " ".join(parts)


def least_time(requests: int, rate: float | None) -> float:
    """Seconds ``requests`` take at ``rate`` requests/s, at the least (None: no pacing)."""
    return requests / rate if rate else 0.0


class Cadence:
    """When the next progress line is due, on ``clock`` (monotonic seconds)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.started = clock()
        self._next = self.started + FIRST_SECONDS

    def due(self) -> bool:
        """True once per interval: the caller logs a line then."""
        now = self._clock()
        if now < self._next:
            return False
        self._next = now + min(MOST_SECONDS, max(FIRST_SECONDS, (now - self.started) / 10))
        return True

    def elapsed(self) -> float:
        return self._clock() - self.started
