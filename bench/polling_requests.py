"""What waiting costs, in each mode: API requests per watched message and how long after the
change the wait noticed it; a 1,000-message batch in reschedule mode with and without the task
state store; poke mode's request rate against the connection's budget; a 10,000-message batch
trigger's memory and requests. Prints its figures.

The real sensor and trigger run against the emulator on loopback. Waiting is simulated through
the clock they take (``Clock``): a virtual clock whose sleeps move the emulator's scenario
clock along, so a message delivered after 15 minutes is measured in a second, with the exact
requests a real wait would make. Poke and reschedule are driven as Airflow drives them (poke,
then sleep the sensor's next interval; reschedule: a new sensor object per poke, as a new
process is). Only the budget figure runs in real time (the pacing is real).

    .venv/bin/python bench/polling_requests.py
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import resource
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="octopods-bench-"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the tests' stand-ins below

from airflow.sdk.exceptions import TaskDeferred

from airflow_provider_octopods.emulator import Emulator
from airflow_provider_octopods.sensors.message_status import MessageStatusSensor
from tests.wait_modes import JsonStore, RescheduleTI

MODES = ("deferrable", "poke", "reschedule")


class VirtualClock:
    """A ``Clock`` whose sleeps move it and the emulator's scenario clock forward at once. Both
    are real time plus what was slept, so the time a round of requests takes counts as well."""

    def __init__(self, emulator: Emulator) -> None:
        self.slept = 0.0
        self.emulator = emulator

    @property
    def now(self) -> float:
        return time.time() + self.slept

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept += seconds
        self.emulator.advance(seconds)

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)
        await asyncio.sleep(0)


def wait(mode: str, clock: VirtualClock, store: JsonStore | None = None, **kwargs: Any) -> tuple[Any, float]:
    """Run the sensor in ``mode`` on the virtual clock: its result and the virtual seconds taken."""
    start = clock.now
    kwargs = {"task_id": "wait", "timeout": 3600, **kwargs}

    def sensor(**more: Any) -> MessageStatusSensor:
        s = MessageStatusSensor(**kwargs, **more)
        s.clock = clock
        return s

    if mode == "deferrable":
        deferring = sensor(deferrable=True)
        try:
            deferring.execute({})
        except TaskDeferred as deferred:
            trigger = deferred.trigger

        async def first_event() -> Any:
            async for event in trigger.run():
                return event.payload

        return deferring.execute_complete({}, event=asyncio.run(first_event())), clock.now - start
    ti, poking = RescheduleTI(), sensor(deferrable=False, mode=mode)
    context: dict[str, Any] = {"ti": ti, "task_state_store": store}
    while True:
        if mode == "reschedule":  # each poke a new process: nothing kept but the store
            poking = sensor(deferrable=False, mode=mode)
        returned = poking.poke(context)
        if returned.is_done:
            return returned.xcom_value, clock.now - start
        ti.first_reschedule = ti.first_reschedule or datetime.fromtimestamp(start, UTC)
        clock.sleep(poking._get_next_poke_interval(start, lambda: clock.now - start, 0))


def per_message_figures(emulator: Emulator) -> None:
    print("Requests per watched message and detection delay (default policy: first poll 5 s after")
    print("the start, interval 5 s growing x1.5 to 60 s), by mode:")
    print(f"  {'delivered after':>15} | " + " | ".join(f"{m:^22}" for m in MODES))
    for deliver_after in (5, 60, 900):
        cells = []
        for mode in MODES:
            clock = VirtualClock(emulator)
            [message] = emulator.add_messages(deliver_after=deliver_after)
            result, waited = wait(mode, clock, JsonStore(), message_id=message)
            assert result["status"] == "delivered", result
            cells.append(f"{len(emulator.requests(message)):>2} req, {waited - deliver_after:5.1f} s late")
        print(f"  {deliver_after:>13} s | " + " | ".join(f"{c:^22}" for c in cells))


def reschedule_figures(emulator: Emulator) -> None:
    count, spread = 1_000, (10, 30, 60, 120, 300, 600, 900, 1200, 1500, 1800)
    print(f"Reschedule mode, one batch of {count:,} messages, delivered a tenth each after {spread} s:")
    for label, store in (
        ("no task state store (Airflow 3.2; before this change)", None),
        ("task state store (3.3+)", JsonStore()),
    ):
        ids = [
            m for after in spread for m in emulator.add_messages(count // len(spread), deliver_after=after)
        ]
        summary, _ = wait("reschedule", VirtualClock(emulator), store, message_ids=ids)
        assert summary["counts"] == {"delivered": count}, summary
        requests = sum(len(emulator.requests(m)) for m in ids)
        print(f"  {label}: {requests / count:.1f} requests per message")


def budget_figure(emulator: Emulator) -> None:
    budget, count, window = 4.0, 40, 10.0
    os.environ["AIRFLOW_CONN_OCTOPODS_BUDGET"] = emulator.connection_json(requests_per_second=budget)
    ids = emulator.add_messages(count)  # never delivered: every round polls all 40
    emulator.reset_requests()
    sensor = MessageStatusSensor(
        task_id="wait",
        message_ids=ids,
        octopods_conn_id="octopods_budget",
        deferrable=False,
        mode="poke",
        timeout=window,
        first_poke_delay=0,
        poke_interval=1,
        max_poke_interval=1,
    )
    started = time.time()
    while time.time() - started < window:
        sensor.poke({})
        time.sleep(min(sensor._get_next_poke_interval(started, lambda: 0.0, 0), 1.0))
    arrivals = [r.at for r in emulator.requests()]
    rate = (len(arrivals) - 1) / (arrivals[-1] - arrivals[0])
    print(
        f"Poke mode, {count} pending messages, connection budget {budget:.0f} requests/s: "
        f"{rate:.1f} requests/s at the emulator over {window:.0f} s (the issue measured 12.4 before)"
    )


def trigger_figures(emulator: Emulator, budget: float) -> None:
    count = 10_000
    ids = emulator.add_messages(count, deliver_after=60)
    emulator.reset_requests()
    gc.collect()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    started = time.perf_counter()
    summary, _ = wait("deferrable", VirtualClock(emulator), message_ids=ids, max_concurrency=10)
    seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert summary["counts"] == {"delivered": count}, summary
    log = emulator.requests()
    rounds = sorted({len(emulator.requests(m)) for m in ids[:100]})
    print(f"One batch trigger watching {count:,} messages delivered after 60 s:")
    print(f"  requests: {len(log):,} in all, {len(log) / count:.1f} per message, rounds: {rounds}")
    print(f"  result (XCom, event): {len(json.dumps(summary)):,} bytes")
    print(f"  peak Python memory (tracemalloc): {peak / 2**20:.1f} MiB")
    print(
        f"  process peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB "
        f"(before the batch: {rss_before / 1024:.0f} MiB)"
    )
    print(f"  {seconds:.1f} s of real time, {len(log) / seconds:,.0f} requests/s (budget {budget:.0f}/s)")


def main() -> None:
    budget = float(sys.argv[1]) if len(sys.argv) > 1 else 2000.0
    with Emulator() as emulator:
        os.environ["AIRFLOW_CONN_OCTOPODS_DEFAULT"] = emulator.connection_json(requests_per_second=budget)
        per_message_figures(emulator)
        reschedule_figures(emulator)
        budget_figure(emulator)
        trigger_figures(emulator, budget)


if __name__ == "__main__":
    main()
