"""When to send again: one status query across its retries, as a state machine the drivers feed
with what came back (``receive``) or what went wrong (``fail``)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from airflow_provider_octopods.errors import (
    SERVER_FIELDS,
    OctopodsError,
    OctopodsRateLimitError,
    OctopodsResponseError,
)
from airflow_provider_octopods.protocol.answers import MAX_BODY_BYTES, Answer, oversized, status_of
from airflow_provider_octopods.protocol.failures import NoAnswer, error_of, transport_error
from airflow_provider_octopods.protocol.rate_limit import MAX_RATE_LIMIT_HINT, RATE_LIMIT_MARGIN
from airflow_provider_octopods.protocol.refs import AUTH_HEADER, Request, origin_of
from airflow_provider_octopods.status import MessageStatus


@dataclass(frozen=True)
class RetryPolicy:
    """How hard one call tries. 429 waits are bounded separately, by total time waited."""

    max_retries: int = 5
    max_rate_limit_wait: float = 300.0
    backoff_base: float = 0.5
    backoff_max: float = 30.0

    def backoff(self, attempt: int, rand: float) -> float:
        """Exponential backoff with equal jitter: half fixed, half random."""
        ceiling = min(self.backoff_max, self.backoff_base * 2.0**attempt)
        return ceiling / 2 + ceiling / 2 * rand


@dataclass(frozen=True)
class Wait:
    """Send the same request again after ``seconds``. ``rate_limited``: every caller sharing
    the key should pause too, not just this one. ``cause``: what this try met, for the drivers
    to count and report."""

    seconds: float
    cause: OctopodsError = field(compare=False)
    rate_limited: bool = False


class StatusCall:
    """One logical status query, across its retries.

    ``deadline`` (Unix time): the wait this query serves ends then (a sensor's timeout), so a
    429 wait that would end later is not started.
    """

    def __init__(
        self,
        request: Request,
        *,
        message_id: int | None,
        conn_id: str,
        policy: RetryPolicy,
        rand: Callable[[], float] = random.random,
        deadline: float | None = None,
    ) -> None:
        self.request = request
        self.message_id = message_id
        self.conn_id = conn_id
        self.policy = policy
        self.deadline = deadline
        self.attempts = 0
        self.rate_limited_for = 0.0
        self._rand = rand
        self._secret = request.headers.get(AUTH_HEADER)
        self._last_429: OctopodsRateLimitError | None = None

    def receive(
        self, http_status: int, headers: Mapping[str, str], body: bytes, now: float | None = None
    ) -> MessageStatus | Wait:
        """Decide on an answer: the status, a wait before the next try, or raise the typed error.

        ``body`` is at most ``MAX_BODY_BYTES + 1`` bytes: the drivers stop reading there.
        """
        now = time.time() if now is None else now
        if len(body) > MAX_BODY_BYTES:
            return self._retry(oversized(http_status, self.message_id), now)
        answer = Answer.read(headers, body, self._secret)
        if http_status == 200 and self.message_id is not None:
            try:
                return status_of(answer, self.message_id)
            except OctopodsResponseError as exc:
                return self._retry(exc, now)
        return self._retry(error_of(http_status, headers, answer, self.message_id, self.conn_id, now), now)

    def fail(self, kind: NoAnswer, detail: str) -> Wait:
        """Decide on a request that got no answer: wait and retry, or raise."""
        where = origin_of(self.request.url)
        error = transport_error(kind, detail, self.message_id, self._secret, where=where)
        return self._retry(error, time.time())

    def waiting_for_rate_limit(self, seconds: float, now: float | None = None) -> None:
        """The driver is about to wait ``seconds`` because of 429s: in a sleep after this call's
        own 429, or at a gate another call's 429 closed. Every such second counts against
        ``max_rate_limit_wait``; the wait that would pass it, or the deadline, raises instead."""
        now = time.time() if now is None else now
        if bound := self._passed_bound(seconds, now):
            retry_at = datetime.fromtimestamp(now + seconds, UTC)
            raise self._given_up(
                self._last_429 or OctopodsRateLimitError("", http_status=429, message_id=self.message_id),
                retry_at,
                bound,
                now,
            )
        self.rate_limited_for += seconds

    def _retry(self, error: OctopodsError, now: float) -> Wait:
        if isinstance(error, OctopodsRateLimitError):
            return self._rate_limited(error, now)
        if not error.retryable or self.attempts >= self.policy.max_retries:
            raise error
        wait = Wait(self.policy.backoff(self.attempts, self._rand()), cause=error)
        self.attempts += 1
        return wait

    def _rate_limited(self, error: OctopodsRateLimitError, now: float) -> Wait:
        self._last_429 = error
        if error.retry_at is not None:
            seconds = error.retry_at.timestamp() - now + RATE_LIMIT_MARGIN
        else:  # no usable hint: back off with jitter, never straight back
            seconds = self.policy.backoff(self.attempts, self._rand())
            self.attempts += 1
        if bound := self._passed_bound(seconds, now):
            raise self._given_up(error, error.retry_at, bound, now)
        return Wait(seconds, rate_limited=True, cause=error)

    def _passed_bound(self, seconds: float, now: float) -> str | None:
        """Which bound a wait of ``seconds`` from ``now`` would pass, in words, or None."""
        if self.rate_limited_for + seconds > self.policy.max_rate_limit_wait:
            waited = f" ({self.rate_limited_for:.0f} s waited already)" if self.rate_limited_for >= 1 else ""
            return (
                f"past max_rate_limit_wait={self.policy.max_rate_limit_wait:g} s of connection "
                f"{self.conn_id!r}{waited}"
            )
        if self.deadline is not None and now + seconds > self.deadline:
            return f"after this wait's deadline, {datetime.fromtimestamp(self.deadline, UTC):%H:%M:%S} UTC"
        return None

    @staticmethod
    def _given_up(
        error: OctopodsRateLimitError, retry_at: datetime | None, bound: str, now: float
    ) -> OctopodsRateLimitError:
        if retry_at is None:
            when = "only after a back-off"
        elif retry_at.timestamp() - now > MAX_RATE_LIMIT_HINT - 1:  # capped (a datetime keeps µs)
            when = (
                f"no sooner than {MAX_RATE_LIMIT_HINT / 86400:g} days from now (the server asks for longer)"
            )
        else:
            when = f"at {retry_at:%Y-%m-%d %H:%M:%S} UTC"
        fields = {k: v for k, v in error.to_dict().items() if k in SERVER_FIELDS}
        return OctopodsRateLimitError(
            f"Octopods rate limit (HTTP 429): the next request is allowed {when}, {bound}; not waiting",
            retry_at=retry_at,
            **fields,
        )
