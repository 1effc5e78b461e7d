"""When the next request may leave: a steady rate budget, and a shared pause after a 429.

The decisions are taken here, with no I/O: ``RequestGate.steps`` yields what a request must do
before it leaves (sleep so long, or ask the budget store shared with other processes), and
``steps.py`` carries that out, blocking or on asyncio.
"""

from __future__ import annotations

import asyncio
import threading
import time
import weakref
from collections.abc import Callable, Generator, Hashable
from dataclasses import dataclass
from typing import Protocol

from airflow_provider_octopods.clients.steps import Done, advance, async_io, blocking_io, run, run_blocking
from airflow_provider_octopods.connection.settings import key_digest

# After a 429 the budget in use halves (down to this share at most) and grows back to the
# whole budget over RECOVERY_SECONDS: a 429 is never answered with the load that caused it.
MIN_SHARE = 1 / 64
RECOVERY_SECONDS = 30.0
# Requests due within this window leave without a timer each; the average rate still holds.
_SLACK = 0.001
# A pause another process published that ends this close to the one already kept here is the
# same pause (the clocks that measured it differ by the store's round trip).
_SAME_PAUSE = 0.05


@dataclass(frozen=True)
class Reserve:
    """Ask the shared store for this request's slot of the API key's whole budget."""


@dataclass(frozen=True)
class Publish:
    """Tell the shared store of a 429 met here: every process pauses ``seconds`` from now."""

    seconds: float


@dataclass(frozen=True)
class Slot:
    """The store's answer to ``Reserve``: wait ``wait`` seconds; ``paused``: a 429 met by some
    process closed the budget for that long (no slot was reserved: ask again after it)."""

    wait: float
    paused: bool = False


StoreCall = Reserve | Publish


class BudgetStore(Protocol):
    """Where the budget of one API key shared across processes lives (``redis_budget``).
    ``None`` as an answer: the store cannot be used now, the request keeps to this process's gate."""

    def call(self, step: StoreCall) -> Slot | None: ...

    async def acall(self, step: StoreCall) -> Slot | None: ...

    def hold(self) -> None:
        """An async client on this loop starts using the store."""

    async def arelease(self) -> None:
        """That client is done; the last one closes the loop's connection to the store."""


class RequestGate:
    """Every request of one client passes here before it is sent.

    Requests are spaced ``1 / rate`` apart (a token bucket holding one token: no bursts, so
    the sends that share the key always find headroom). A 429 closes the gate for everyone
    until the server's retry time, not only for the request that met it, and the gate then
    reopens at half the rate, recovering gradually. With a ``store``, each request also takes
    a slot of the key's budget shared by every process, and a 429 met by any process closes
    every gate. The clients pass it in a status query's steps (``query.status_steps``); alone,
    it is waited at in ``enter`` (asyncio) or ``enter_blocking``.
    """

    def __init__(
        self,
        rate: float | None,
        *,
        now: Callable[[], float] = time.monotonic,
        store: BudgetStore | None = None,
    ) -> None:
        if rate is not None and rate <= 0:
            raise ValueError(f"rate must be positive, got {rate}")
        self.rate = rate
        self.store = store
        self._now = now
        self._lock = threading.Lock()
        self._next_slot = 0.0
        self._paused_until = 0.0
        self._unpublished = False
        self._share = 1.0
        self._share_at = 0.0

    def share(self, now: float) -> float:
        """The part of the rate budget in use at ``now`` (1.0 when no 429 came)."""
        return min(1.0, self._share + max(0.0, now - self._share_at) / RECOVERY_SECONDS)

    def pause(self, seconds: float) -> None:
        """A 429 met here: close the gate for ``seconds`` (and every process's, with a store)."""
        self._close(seconds)
        self._unpublished = self.store is not None

    def _close(self, seconds: float) -> None:
        now = self._now()
        self._paused_until = max(self._paused_until, now + seconds)
        self._share = max(MIN_SHARE, self.share(now) / 2)
        self._share_at = self._paused_until

    def steps(
        self, on_pause: Callable[[float], None] | None = None
    ) -> Generator[float | StoreCall, Slot | None]:
        """What one request does before it leaves, as steps (see ``steps.py``): sleep a float's
        seconds, or ask the store (answered with its ``Slot``, or None). ``on_pause(seconds)`` is
        told of each wait a 429 causes (a gate closed), before it starts; it may raise to give up
        instead. Threads may share a blocking gate: each decision is taken under the lock, each
        wait outside it."""
        decisions = self._decisions(on_pause)
        answer: Slot | None = None
        while True:
            with self._lock:
                step = advance(decisions, answer)
            if isinstance(step, Done):
                return
            answer = yield step

    def _decisions(
        self, on_pause: Callable[[float], None] | None
    ) -> Generator[float | StoreCall, Slot | None]:
        while True:
            now = self._now()
            if self._unpublished and now < self._paused_until:
                self._unpublished = False
                yield Publish(self._paused_until - now)
                continue
            if now < self._paused_until:
                if on_pause is not None:
                    on_pause(self._paused_until - now)
                yield self._paused_until - now
                continue
            if self.rate is not None:
                # Reserve the slot before sleeping, so concurrent callers queue up behind it.
                slot = max(now, self._next_slot)
                self._next_slot = slot + 1.0 / (self.rate * self.share(slot))
                if slot > now + _SLACK:
                    yield slot - now
            if self.store is not None:
                answer = yield Reserve()
                if answer is not None and answer.paused:
                    # Another process met a 429: this one keeps the pause, as if it met it
                    # (slowing down once per pause, however many of its requests learn of it).
                    if self._now() + answer.wait > self._paused_until + _SAME_PAUSE:
                        self._close(answer.wait)
                    else:
                        self._paused_until = max(self._paused_until, self._now() + answer.wait)
                    continue
                if answer is not None and answer.wait > _SLACK:
                    yield answer.wait
            if self._now() >= self._paused_until:
                return

    async def enter(self, on_pause: Callable[[float], None] | None = None) -> None:
        """Wait for this request's turn on asyncio (see ``steps`` for ``on_pause``)."""
        await run(self.steps(on_pause), async_io(self.store))

    def enter_blocking(
        self, sleep: Callable[[float], None], on_pause: Callable[[float], None] | None = None
    ) -> None:
        """Wait for this request's turn, blocking: ``sleep`` to wait."""
        run_blocking(self.steps(on_pause), blocking_io(sleep, self.store))


_SHARED: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Hashable, RequestGate]] = (
    weakref.WeakKeyDictionary()
)
_BLOCKING: dict[Hashable, RequestGate] = {}
_SHARED_LOCK = threading.Lock()


def shared_gate(
    key: Hashable, rate: float | None, store: BudgetStore | None = None, *, blocking: bool = False
) -> RequestGate:
    """The gate of ``key`` (an API key's connection and budget, see ``gate_key``): on the
    running event loop, or with ``blocking`` in this process (pokes on a worker's threads).

    Clients that use the same key share its gate: a triggerer running a hundred sensors on one
    connection keeps to that connection's budget in all, not a hundred times it, and a 429 met
    by one of them pauses them all. ``store`` is used when the gate is new.
    """
    with _SHARED_LOCK:
        gates = _BLOCKING if blocking else _SHARED.setdefault(asyncio.get_running_loop(), {})
        if key not in gates:
            gates[key] = RequestGate(rate, store=store)
        return gates[key]


def gate_key(base_url: str, api_key: str, rate: float | None, store: Hashable = None) -> Hashable:
    """Who shares a gate: requests to one place, with one key, at one budget (the key hashed),
    through one shared store (its address) or none."""
    return (base_url, key_digest(api_key), rate, store)
