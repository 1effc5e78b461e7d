"""What the emulator knows: keys, messages with scripted lifecycles, the rate limit, faults.

Plain data behind one lock, so a test thread can script it while the server thread answers.
Lifecycles run on a scenario clock (real time plus ``advance()``), so a test can jump a
message fifteen minutes ahead; rate limits and request times use the real clock.
"""

from __future__ import annotations

import itertools
import math
import random
import secrets
import threading
import time
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

from airflow_provider_octopods.emulator.distributions import FloatArray
from airflow_provider_octopods.emulator.model import SenderModel, Timings

SENT, DELIVERED, READ, FAILED = "sent", "delivered", "read", "failed"
FAILURE_REASONS = (
    "Recipient's phone number is not a valid WhatsApp user.",
    "The 24-hour messaging window has closed.",
    "The template is not approved for the recipient's country.",
    "The template was deactivated after the send was queued.",
    "The recipient blocked your WhatsApp number.",
)
FAULTS = ("server_error", "bad_gateway_html", "html_200", "truncated", "drop", "slow", "rate_limit")
RETRY_HINTS = ("body_iso", "body_epoch", "header_seconds", "header_date", "none")
FAILURE_WEIGHTS = (0.35, 0.25, 0.15, 0.1, 0.15)
FIRST_MESSAGE_ID = 3_851_828
CAMPAIGNS = SenderModel.load("campaigns")

# One step of a lifecycle: (seconds after the send, status).
Step = tuple[float, str]
IntArray: TypeAlias = npt.NDArray[np.int64]


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(slots=True)
class Message:
    message_id: int
    key: str
    phone_number: str
    created_at: float
    steps: tuple[Step, ...]
    failure_reason: str | None = None
    # (n, status): answered as scripted for n polls, then moved to status. A change that
    # comes while a client waits, however long the client took to start.
    after_polls: tuple[int, str] | None = None
    polls: int = 0

    def move_to(self, status: str, now: float, failure_reason: str | None = None) -> None:
        """Move to ``status`` at scenario time ``now``, keeping the stages already reached."""
        elapsed = now - self.created_at
        self.steps = (*(s for s in self.steps if s[0] <= elapsed), (elapsed, status))
        if failure_reason is not None:
            self.failure_reason = failure_reason
        elif status == FAILED and self.failure_reason is None:
            self.failure_reason = FAILURE_REASONS[0]

    def polled(self, now: float) -> None:
        self.polls += 1
        if self.after_polls is not None and self.polls > self.after_polls[0]:
            self.move_to(self.after_polls[1], now)
            self.after_polls = None

    def body(self, now: float, request_id: str) -> dict[str, Any]:
        """The documented 200 body as the message stands at scenario time ``now``."""
        stamps: dict[str, str | None] = {"sent_at": None, "delivered_at": None, "read_at": None}
        status = SENT
        for offset, step in self.steps:
            if self.created_at + offset > now:
                break
            status = step
            if step != FAILED:
                stamps[f"{step}_at"] = iso(self.created_at + offset)
        return {
            "request_id": request_id,
            "message_id": self.message_id,
            "status": status,
            "phone_number": self.phone_number,
            "channel_message_id": f"wamid.{self.message_id:x}",
            **stamps,
            "failure_reason": self.failure_reason if status == FAILED else None,
        }


def lifecycle(
    deliver_after: float | None = None,
    read_after: float | None = None,
    fail_after: float | None = None,
    status: str | None = None,
) -> tuple[Step, ...]:
    """Steps for a message: sent at once, then delivered, read or failed after so many seconds.

    ``read_after`` without ``deliver_after`` is a read that was never reported as delivered.
    ``status`` alone gives a message that is already there (any value, unknown ones too).
    """
    if status is not None:
        return ((0.0, status),)
    steps: list[Step] = [(0.0, SENT)]
    if fail_after is not None:
        return (*steps, (fail_after, FAILED))
    if deliver_after is not None:
        steps.append((deliver_after, DELIVERED))
    if read_after is not None:
        steps.append((read_after, READ))
    return tuple(steps)


def timed_lifecycle(timings: Timings, index: int) -> tuple[Step, ...]:
    """The steps of message ``index`` of ``timings`` (``SenderModel.sample``)."""

    def at(values: FloatArray) -> float | None:
        value = float(values[index])
        return None if math.isnan(value) else value

    deliver = None if timings.unreported[index] else at(timings.deliver)
    return lifecycle(deliver_after=deliver, read_after=at(timings.read), fail_after=at(timings.fail))


def model_lifecycles(
    model: SenderModel, rng: np.random.Generator, days: IntArray, time_scale: float = 1.0
) -> list[tuple[Step, ...]]:
    """One lifecycle per message, message ``i`` sent on day ``days[i]`` of the run."""
    steps: list[tuple[Step, ...]] = [()] * len(days)
    for day in np.unique(days):
        where = np.flatnonzero(days == day)
        timings = model.sample(rng, len(where), int(day)).scaled(time_scale)
        for i, index in enumerate(where):
            steps[index] = timed_lifecycle(timings, i)
    return steps


@dataclass
class RateLimit:
    """Token bucket per key: ``per_second`` refill, ``burst`` capacity."""

    per_second: float
    burst: float
    hint: str = "body_iso"
    tokens: dict[str, tuple[float, float]] = field(default_factory=dict)  # key -> (tokens, at)

    def take(self, key: str, now: float) -> float | None:
        """None if the request may pass, else the seconds until a token is there."""
        tokens, at = self.tokens.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.per_second)
        if tokens >= 1:
            self.tokens[key] = (tokens - 1, now)
            return None
        self.tokens[key] = (tokens, now)
        return (1 - tokens) / self.per_second


@dataclass(frozen=True, slots=True)
class RequestRecord:
    at: float  # real wall-clock time the request arrived
    message_id: int | None
    http_status: int  # 0: the connection was dropped
    fault: str | None
    retry_at: float | None  # on a 429: the wall-clock time the answer allowed the next request


@dataclass
class Fault:
    kind: str
    remaining: int
    message_id: int | None
    seconds: float


class EmulatorState:
    def __init__(
        self, *, api_key: str | None = None, seed: int = 0, model: SenderModel | None = None
    ) -> None:
        self.lock = threading.Lock()
        self.api_key = api_key or "octo-test-" + secrets.token_hex(8)
        self.revoked_key = "octo-revoked-" + secrets.token_hex(8)
        self.keys = {self.api_key}
        self.revoked = {self.revoked_key}
        self.messages: dict[int, Message] = {}
        self._ids = itertools.count(FIRST_MESSAGE_ID)
        self.clock_offset = 0.0
        self.latency = 0.0
        self.rate_limit: RateLimit | None = None
        self.faults: list[Fault] = []
        self.fault_rates: dict[str, float] = {}
        self.random = random.Random(seed)  # noqa: S311 - reproducible scenarios, not secrets
        self.np_random = np.random.default_rng(seed)
        # How add_campaign() times messages (None: the built-in campaigns model).
        self.model = model
        self.log: deque[RequestRecord] = deque(maxlen=2_000_000)
        # How /_emulator/send makes messages: add_campaign() keyword arguments. Without a model
        # of their own, sends are all confirmed, so that example DAGs waiting for them end.
        self.send_script: dict[str, Any] = {} if model else {"unconfirmed": False}
        # Status requests being answered now, and the most at once (only the server loop writes).
        self.in_flight = 0
        self.max_in_flight = 0
        self.started = self.now()  # day 0 of the run, for a model's shift

    # --- scripting (any thread) ---------------------------------------------------------

    def now(self) -> float:
        return time.time() + self.clock_offset

    def add_messages(
        self,
        steps: Sequence[Step],
        count: int = 1,
        *,
        key: str | None = None,
        failure_reason: str | None = None,
        after_polls: tuple[int, str] | None = None,
    ) -> list[int]:
        """Add ``count`` messages sent now that follow the lifecycle ``steps`` (and move to
        ``after_polls[1]`` once polled ``after_polls[0]`` times)."""
        fails = any(status == FAILED for _, status in steps)
        with self.lock:
            now = self.now()
            return [
                self._add(
                    key,
                    now,
                    tuple(steps),
                    failure_reason or (self.random.choice(FAILURE_REASONS) if fails else None),
                    after_polls,
                )
                for _ in range(count)
            ]

    def add_campaign(
        self,
        count: int,
        *,
        spread_hours: float = 6.0,
        unconfirmed: bool = True,
        time_scale: float = 1.0,
        key: str | None = None,
        evenly: bool = False,
    ) -> list[int]:
        """``count`` messages sent over the last ``spread_hours`` (0: sent now; at random times,
        or at equal intervals if ``evenly``), timed by ``model`` (by default the built-in
        campaigns: most delivered within seconds, about half of those read minutes to hours
        later, some read with no delivery reported, ~6 % failed with the documented reasons,
        ~2 % never confirmed: a phone left off). ``unconfirmed=False`` delivers those instead.
        ``time_scale`` stretches or shrinks every delay (0.1: ten times faster)."""
        model = self.model or CAMPAIGNS
        model = model if unconfirmed else model.confirmed()
        with self.lock:
            sent = self.now() - self._ago(count, spread_hours * 3600, evenly)
            days = np.maximum(0, (sent - self.started) // 86400).astype(np.int64)
            lifecycles = model_lifecycles(model, self.np_random, days, time_scale)
            return [
                self._add(
                    key,
                    float(at),
                    steps,
                    self.random.choices(FAILURE_REASONS, FAILURE_WEIGHTS)[0]
                    if steps[-1][1] == FAILED
                    else None,
                )
                for at, steps in zip(sent, lifecycles, strict=True)
            ]

    def _ago(self, count: int, spread: float, evenly: bool) -> FloatArray:
        """How long ago each of ``count`` sends over the last ``spread`` seconds was made."""
        if evenly:
            return np.arange(count, 0, -1) * spread / max(count, 1)
        return self.np_random.uniform(0, spread, count)

    def _add(
        self,
        key: str | None,
        created_at: float,
        steps: tuple[Step, ...],
        failure_reason: str | None,
        after_polls: tuple[int, str] | None = None,
    ) -> int:
        """One new message; the caller holds ``lock``."""
        message_id = next(self._ids)
        self.messages[message_id] = Message(
            message_id=message_id,
            key=key or self.api_key,
            phone_number=f"+1555{message_id % 10_000_000:07d}",
            created_at=created_at,
            steps=steps,
            failure_reason=failure_reason,
            after_polls=after_polls,
        )
        return message_id

    def set_status(self, message_id: int, status: str, failure_reason: str | None = None) -> None:
        """Move a message to ``status`` now (keeping the stages it already reached)."""
        with self.lock:
            self.messages[message_id].move_to(status, self.now(), failure_reason)

    def advance(self, seconds: float) -> None:
        with self.lock:
            self.clock_offset += seconds

    def inject(
        self, kind: str, times: int = 1, *, message_id: int | None = None, seconds: float = 30.0
    ) -> None:
        if kind not in FAULTS:
            raise ValueError(f"unknown fault {kind!r}; one of {FAULTS}")
        with self.lock:
            self.faults.append(Fault(kind, times, message_id, seconds))

    def set_rate_limit(
        self, per_second: float | None, burst: float | None = None, hint: str = "body_iso"
    ) -> None:
        if hint not in RETRY_HINTS:
            raise ValueError(f"unknown retry hint {hint!r}; one of {RETRY_HINTS}")
        with self.lock:
            self.rate_limit = RateLimit(per_second, burst or per_second, hint) if per_second else None

    def stats(self) -> dict[str, Any]:
        with self.lock:
            codes = Counter(r.http_status for r in self.log)
            return {
                "requests": len(self.log),
                "by_http_status": {str(k): v for k, v in sorted(codes.items())},
                "messages": len(self.messages),
                "max_in_flight": self.max_in_flight,
            }

    def requests_for(self, message_id: int | None = None) -> list[RequestRecord]:
        with self.lock:
            return [r for r in self.log if message_id is None or r.message_id == message_id]

    def reset_log(self) -> None:
        with self.lock:
            self.log.clear()
            self.max_in_flight = 0

    # --- answering (server thread) ------------------------------------------------------

    def take_fault(self, message_id: int | None) -> Fault | None:
        """The fault this request meets, if any. The caller holds ``lock``."""
        for fault in self.faults:
            if fault.message_id in (None, message_id):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self.faults.remove(fault)
                return fault
        for kind, rate in self.fault_rates.items():
            if self.random.random() < rate:
                return Fault(kind, 0, None, 30.0)
        return None
