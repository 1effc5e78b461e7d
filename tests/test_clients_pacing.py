"""The request gate: its slow-down after a 429 and recovery, its spacing of requests (on a
loop and across threads), and its decisions with a shared budget's store, on a virtual clock."""

from __future__ import annotations

import asyncio

import pytest

from airflow_provider_octopods.clients.pacing import (
    MIN_SHARE,
    RECOVERY_SECONDS,
    Publish,
    RequestGate,
    Reserve,
    Slot,
    StoreCall,
)


def test_gate_halves_after_a_429_and_recovers() -> None:
    async def main() -> list[float]:
        gate = RequestGate(100.0)
        now = asyncio.get_running_loop().time()
        gate.pause(0.0)
        shares = [gate.share(now)]
        gate.pause(0.0)
        shares.append(gate.share(now))
        for _ in range(10):
            gate.pause(0.0)
        shares.append(gate.share(now))
        shares.append(gate.share(now + RECOVERY_SECONDS / 2))
        shares.append(gate.share(now + RECOVERY_SECONDS))
        return shares

    half, quarter, floor, mid, whole = asyncio.run(main())
    assert half == pytest.approx(0.5, abs=0.01)
    assert quarter == pytest.approx(0.25, abs=0.01)
    assert floor == pytest.approx(MIN_SHARE, abs=0.01)
    assert mid == pytest.approx(MIN_SHARE + 0.5, abs=0.01)
    assert whole == 1.0


def test_gate_spaces_requests_at_the_rate() -> None:
    async def main() -> float:
        gate = RequestGate(200.0)
        loop = asyncio.get_running_loop()
        start = loop.time()
        await asyncio.gather(*(gate.enter() for _ in range(41)))
        return loop.time() - start

    assert asyncio.run(main()) >= 40 / 200 - 0.002


def test_blocking_gate_spaces_requests_from_several_threads() -> None:
    """The blocking gate keeps to its rate when threads share it, as the async one does."""
    import threading
    import time

    gate, left = RequestGate(50.0), []

    def requests() -> None:
        for _ in range(10):
            gate.enter_blocking(time.sleep)
            left.append(time.monotonic())

    threads = [threading.Thread(target=requests) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    left.sort()
    assert len(left) == 40
    assert (left[-1] - left[0]) >= 39 / 50 * 0.95


# The gate's decisions with a store, on a virtual clock: what it asks the store and when.


class ScriptedStore:
    """Answers ``Reserve`` from a list, records every call; the store's I/O is tested in
    test_clients_redis_budget.py."""

    def __init__(self, *answers: Slot | None) -> None:
        self.answers = list(answers)
        self.calls: list[StoreCall] = []

    def call(self, step: StoreCall) -> Slot | None:
        self.calls.append(step)
        return self.answers.pop(0) if isinstance(step, Reserve) else None

    async def acall(self, step: StoreCall) -> Slot | None:
        return self.call(step)

    def hold(self) -> None: ...

    async def arelease(self) -> None: ...


class VirtualClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_a_pause_another_process_met_closes_this_gate_too() -> None:
    clock, paused = VirtualClock(), list[float]()
    store = ScriptedStore(Slot(2.0, paused=True), Slot(0.0))
    gate = RequestGate(None, now=lambda: clock.now, store=store)
    gate.enter_blocking(clock.sleep, paused.append)
    assert paused == [2.0]  # told as a wait a 429 caused, so it counts against max_rate_limit_wait
    assert clock.slept == [2.0]
    assert store.calls == [Reserve(), Reserve()]  # asked again once the pause was over
    assert gate.share(clock.now) < 1.0  # and it reopens gently, as after its own 429


def test_the_tail_of_a_pause_already_kept_is_waited_for_not_asked_about_again() -> None:
    """The store's clock ends the pause a little after this gate's: the request waits out that
    tail (without halving the rate again) instead of leaving inside the pause."""
    clock, paused = VirtualClock(), list[float]()
    store = ScriptedStore(Slot(2.0, paused=True), Slot(0.03, paused=True), Slot(0.0))
    gate = RequestGate(None, now=lambda: clock.now, store=store)
    gate.enter_blocking(clock.sleep, paused.append)
    assert clock.slept == [2.0, pytest.approx(0.03)]
    assert store.calls == [Reserve()] * 3
    assert gate.share(2.0) == pytest.approx(0.5)  # halved once, for the one pause


def test_a_429_met_here_is_published_before_the_next_request_leaves() -> None:
    clock = VirtualClock()
    store = ScriptedStore(Slot(0.0))
    gate = RequestGate(None, now=lambda: clock.now, store=store)
    gate.pause(1.5)
    gate.enter_blocking(clock.sleep)
    assert store.calls == [Publish(1.5), Reserve()]
    assert clock.slept == [1.5]


def test_a_slot_of_the_shared_budget_is_waited_for_after_this_process_own_slot() -> None:
    clock = VirtualClock()
    store = ScriptedStore(Slot(0.0), Slot(0.3))
    gate = RequestGate(10.0, now=lambda: clock.now, store=store)
    gate.enter_blocking(clock.sleep)
    gate.enter_blocking(clock.sleep)
    # The second request: 0.1 s for this process's own rate, then 0.3 s for the key's budget.
    assert clock.slept == [pytest.approx(0.1), 0.3]


def test_an_unusable_store_leaves_the_gate_to_pace_alone() -> None:
    clock = VirtualClock()
    store = ScriptedStore(None, None, None)
    gate = RequestGate(10.0, now=lambda: clock.now, store=store)
    for _ in range(3):
        gate.enter_blocking(clock.sleep)
    assert clock.slept == [pytest.approx(0.1), pytest.approx(0.1)]
    assert store.calls == [Reserve()] * 3
