"""When the next request may leave: a steady rate budget, and a shared pause after a 429."""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
import weakref
from collections.abc import Callable, Hashable, Iterator

# After a 429 the budget in use halves (down to this share at most) and grows back to the
# whole budget over RECOVERY_SECONDS: a 429 is never answered with the load that caused it.
MIN_SHARE = 1 / 64
RECOVERY_SECONDS = 30.0
# Requests due within this window leave without a timer each; the average rate still holds.
_SLACK = 0.001


class RequestGate:
    """Every request of one client passes here before it is sent.

    Requests are spaced ``1 / rate`` apart (a token bucket holding one token: no bursts, so
    the sends that share the key always find headroom). A 429 closes the gate for everyone
    until the server's retry time, not only for the request that met it, and the gate then
    reopens at half the rate, recovering gradually. The async client waits in ``enter``, the
    blocking one in ``enter_blocking``: the same decisions (``_waits``), two ways to sleep.
    """

    def __init__(self, rate: float | None, *, now: Callable[[], float] = time.monotonic) -> None:
        if rate is not None and rate <= 0:
            raise ValueError(f"rate must be positive, got {rate}")
        self.rate = rate
        self._now = now
        self._lock = threading.Lock()
        self._next_slot = 0.0
        self._paused_until = 0.0
        self._share = 1.0
        self._share_at = 0.0

    def share(self, now: float) -> float:
        """The part of the rate budget in use at ``now`` (1.0 when no 429 came)."""
        return min(1.0, self._share + max(0.0, now - self._share_at) / RECOVERY_SECONDS)

    def pause(self, seconds: float) -> None:
        now = self._now()
        self._paused_until = max(self._paused_until, now + seconds)
        self._share = max(MIN_SHARE, self.share(now) / 2)
        self._share_at = self._paused_until

    def _waits(self, on_pause: Callable[[float], None] | None) -> Iterator[float]:
        """The sleeps one request takes before it may leave; the caller sleeps each in turn.
        ``on_pause(seconds)`` is told of each wait a 429 causes (the gate closed), before it
        starts; it may raise to give up instead."""
        while True:
            now = self._now()
            if now < self._paused_until:
                if on_pause is not None:
                    on_pause(self._paused_until - now)
                yield self._paused_until - now
                continue
            if self.rate is None:
                return
            # Reserve the slot before sleeping, so concurrent callers queue up behind it.
            slot = max(now, self._next_slot)
            self._next_slot = slot + 1.0 / (self.rate * self.share(slot))
            if slot > now + _SLACK:
                yield slot - now
            if self._now() >= self._paused_until:
                return

    async def enter(self, on_pause: Callable[[float], None] | None = None) -> None:
        """Wait for this request's turn (see ``_waits`` for ``on_pause``)."""
        for seconds in self._waits(on_pause):
            await asyncio.sleep(seconds)

    def enter_blocking(
        self, sleep: Callable[[float], None], on_pause: Callable[[float], None] | None = None
    ) -> None:
        """``enter`` for the blocking client: the same decisions, ``sleep`` to wait. Threads
        may share a blocking gate: each decision is taken under the lock, each sleep outside it."""
        waits = self._waits(on_pause)
        while True:
            with self._lock:
                seconds = next(waits, None)
            if seconds is None:
                return
            sleep(seconds)


_SHARED: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Hashable, RequestGate]] = (
    weakref.WeakKeyDictionary()
)


def shared_gate(key: Hashable, rate: float | None) -> RequestGate:
    """The gate of ``key`` (an API key's connection and budget) on the running event loop.

    Clients on one loop that use the same key share its gate: a triggerer running a hundred
    sensors on one connection keeps to that connection's budget in all, not a hundred times it,
    and a 429 met by one of them pauses them all.
    """
    gates = _SHARED.setdefault(asyncio.get_running_loop(), {})
    if key not in gates:
        gates[key] = RequestGate(rate)
    return gates[key]


_BLOCKING: dict[Hashable, RequestGate] = {}
_BLOCKING_LOCK = threading.Lock()


def shared_blocking_gate(key: Hashable, rate: float | None) -> RequestGate:
    """Like ``shared_gate``, for the blocking clients of one process (pokes on a worker)."""
    with _BLOCKING_LOCK:
        if key not in _BLOCKING:
            _BLOCKING[key] = RequestGate(rate)
        return _BLOCKING[key]


def gate_key(base_url: str, api_key: str, rate: float | None) -> Hashable:
    """Who shares a gate: requests to one place, with one key, at one budget (the key hashed)."""
    return (base_url, hashlib.sha256(api_key.encode()).hexdigest(), rate)
