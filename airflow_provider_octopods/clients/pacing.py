"""When the next request may leave: a steady rate budget, and a shared pause after a 429."""

from __future__ import annotations

import asyncio


class RequestGate:
    """Every request of one async client passes here before it is sent.

    Requests are spaced ``1 / rate`` apart (a token bucket holding one token: no bursts, so
    the sends that share the key always find headroom). A 429 closes the gate for everyone
    until the server's retry time, not only for the request that met it.
    """

    def __init__(self, rate: float | None) -> None:
        if rate is not None and rate <= 0:
            raise ValueError(f"rate must be positive, got {rate}")
        self.interval = 1.0 / rate if rate else 0.0
        self._next_slot = 0.0
        self._paused_until = 0.0

    @staticmethod
    def _now() -> float:
        return asyncio.get_running_loop().time()

    def pause(self, seconds: float) -> None:
        self._paused_until = max(self._paused_until, self._now() + seconds)

    async def enter(self) -> None:
        while True:
            now = self._now()
            if now < self._paused_until:
                await asyncio.sleep(self._paused_until - now)
                continue
            # Reserve the slot before sleeping, so concurrent callers queue up behind it.
            slot = max(now, self._next_slot)
            self._next_slot = slot + self.interval
            if slot > now:
                await asyncio.sleep(slot - now)
            if self._now() >= self._paused_until:
                return
