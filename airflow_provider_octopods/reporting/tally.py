"""What one client did, counted once: the progress lines, the warnings and the metrics read it.

Metrics go through Airflow's own ``Stats`` (StatsD or OpenTelemetry, as ``[metrics]``
configures), tagged with the connection id, as deltas at most once a second and when the client
closes: a bulk fetch sends a few datagrams a second, not one per request. Names and meanings:
``docs/metrics.md``.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from airflow.sdk.observability.stats import Stats

from airflow_provider_octopods.errors import OctopodsError, OctopodsRateLimitError
from airflow_provider_octopods.protocol.text import shorten

log = logging.getLogger(__name__)

PREFIX = "octopods."
FLUSH_SECONDS = 1.0
# Tries that failed and were retried are told at once, then at most this often: an outage
# shows within seconds, and a long one does not fill the log.
WARN_SECONDS = 30.0
SAMPLE_CHARS = 300


def emit_count(name: str, count: float, conn_id: str, **tags: str) -> None:
    """Add ``count`` to the counter ``octopods.<name>`` of ``conn_id``."""
    if count:
        Stats.incr(PREFIX + name, count=count, tags={"conn_id": conn_id, **tags})  # type: ignore[arg-type]


def emit_gauge(name: str, value: float, conn_id: str) -> None:
    """Set the gauge ``octopods.<name>`` of ``conn_id``."""
    Stats.gauge(PREFIX + name, value, tags={"conn_id": conn_id})


def describe_error_list(errors: Iterable[OctopodsError]) -> str:
    """``describe_errors`` of a list of errors: their kinds counted, the first of each shown."""
    counts: Counter[str] = Counter()
    samples: dict[str, str] = {}
    for error in errors:
        counts[_kind_with_sample(error, samples)] += 1
    return describe_errors(counts, samples)


def _kind_with_sample(error: OctopodsError, samples: dict[str, str]) -> str:
    name = type(error).__name__
    samples.setdefault(name, shorten(str(error), SAMPLE_CHARS))
    return name


def describe_errors(counts: Counter[str], samples: dict[str, str], most: int = 3) -> str:
    """``OctopodsServerError x3 (e.g. ...); ...``: the error classes by count, one sample each."""
    parts = [f"{name} x{n} (e.g. {samples.get(name, '?')})" for name, n in counts.most_common(most)]
    if len(counts) > most:
        parts.append(f"{len(counts) - most} more kinds")
    return "; ".join(parts)


class Tally:
    """Counts of one client: requests, answers 429, seconds waited for the rate budget,
    statuses, per-message errors and retried tries by error class (one sample text each)."""

    def __init__(self, conn_id: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.conn_id = conn_id
        self.requests = 0
        self.answered_429 = 0
        self.budget_wait = 0.0
        self.statuses = 0
        self.errors: Counter[str] = Counter()
        self.retried: Counter[str] = Counter()
        self.samples: dict[str, str] = {}
        self._clock = clock
        self._flushed: dict[str, Any] = {}
        self._next_flush = clock() + FLUSH_SECONDS
        self._next_warning = 0.0
        self._unwarned: Counter[str] = Counter()

    def request(self) -> None:
        self.requests += 1
        if self._clock() >= self._next_flush:
            self.flush()

    def failed(self, error: OctopodsError) -> None:
        """A request ended in ``error`` (retries spent, or not retryable)."""
        name = _kind_with_sample(error, self.samples)
        self.errors[name] += 1
        if error.retryable and not isinstance(error, OctopodsRateLimitError):
            self._passing_failure(name)

    def retrying(self, error: OctopodsError) -> None:
        """A try met ``error`` and is retried; a 429 is the gate's business, not a warning."""
        if isinstance(error, OctopodsRateLimitError):
            self.answered_429 += 1
            return
        name = _kind_with_sample(error, self.samples)
        self.retried[name] += 1
        self._passing_failure(name)

    def _passing_failure(self, name: str) -> None:
        self._unwarned[name] += 1
        if self._clock() >= self._next_warning:
            self._warn()

    def _warn(self) -> None:
        failed = sum(self._unwarned.values())
        log.warning(
            "Connection %r: %d %s failed since the last warning: %s",
            self.conn_id,
            failed,
            "try" if failed == 1 else "tries",
            describe_errors(self._unwarned, self.samples),
        )
        self._unwarned.clear()
        self._next_warning = self._clock() + WARN_SECONDS

    def flush(self) -> None:
        """Send what changed since the last flush to Airflow's metrics."""
        self._next_flush = self._clock() + FLUSH_SECONDS
        now = {
            "requests": self.requests,
            "answers_429": self.answered_429,
            "budget_wait_ms": round(self.budget_wait * 1000),
            "statuses": self.statuses,
        }
        for name, value in now.items():
            emit_count(name, value - self._flushed.get(name, 0), self.conn_id)
        for kind, counts in (("errors", self.errors), ("retries", self.retried)):
            for error_type, value in counts.items():
                key = f"{kind}:{error_type}"
                emit_count(kind, value - self._flushed.get(key, 0), self.conn_id, error_type=error_type)
                now[key] = value
        self._flushed = now
