"""What waiting costs: API requests per watched message, and a 10,000-message batch trigger's
memory and requests per round. Prints its figures.

The real MessageStatusTrigger runs against the emulator on loopback. Waiting is simulated: the
trigger's clock and sleeps are swapped for a virtual clock that moves the emulator's scenario
clock along, so a message delivered after 15 minutes is measured in a second, with the exact
requests a real wait would make.

    .venv/bin/python bench/polling_requests.py
"""

from __future__ import annotations

import asyncio
import gc
import os
import resource
import sys
import tempfile
import time
import tracemalloc
import types
from typing import Any

os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="octopods-bench-"))

from airflow_provider_octopods.emulator import Emulator
from airflow_provider_octopods.triggers import message_status
from airflow_provider_octopods.triggers.message_status import MessageStatusTrigger


class VirtualClock:
    """Stands in for the trigger module's ``time`` and ``asyncio.sleep``: a sleep moves this
    clock and the emulator's scenario clock forward at once, without waiting."""

    def __init__(self, emulator: Emulator) -> None:
        self.now = time.time()
        self.emulator = emulator

    def time(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.emulator.advance(seconds)
        await asyncio.sleep(0)


def watch(emulator: Emulator, ids: list[int], timeout: float = 3600.0) -> tuple[dict[str, Any], float]:
    """Run the trigger on ``ids`` on a virtual clock; the event, and the virtual seconds it took."""
    clock = VirtualClock(emulator)
    message_status.time = clock  # type: ignore[assignment]
    message_status.asyncio = types.SimpleNamespace(sleep=clock.sleep)  # type: ignore[assignment]
    start = clock.now
    trigger = MessageStatusTrigger(
        message_ids=ids, target_status="delivered", deadline=start + timeout, started_at=start
    )

    async def run() -> dict[str, Any]:
        events = [e.payload async for e in trigger.run()]
        return events[0]

    return asyncio.run(run()), clock.now - start


def main() -> None:
    budget = float(sys.argv[1]) if len(sys.argv) > 1 else 2000.0
    with Emulator() as emulator:
        os.environ["AIRFLOW_CONN_OCTOPODS_DEFAULT"] = emulator.connection_json(requests_per_second=budget)
        print("Requests per watched message (default policy: first poll 5 s after start, interval 5 s")
        print("growing x1.5 to 60 s):")
        for deliver_after in (5, 60, 900):
            [message] = emulator.add_messages(deliver_after=deliver_after)
            event, waited = watch(emulator, [message])
            assert event["status"] == "success", event
            requests = len(emulator.requests(message))
            print(
                f"  delivered after {deliver_after:>4} s: {requests:>2} requests, "
                f"detected {waited - deliver_after:5.1f} s after delivery"
            )
        emulator.reset_requests()

        count = 10_000
        ids = emulator.add_messages(count, deliver_after=60)
        gc.collect()
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        tracemalloc.start()
        started = time.perf_counter()
        event, waited = watch(emulator, ids)
        seconds = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert event["status"] == "success", event["message"]
        log = emulator.requests()
        per_message = {len(emulator.requests(m)) for m in ids[:100]}
        print(f"One batch trigger watching {count:,} messages delivered after 60 s:")
        print(f"  requests: {len(log):,} in all, {len(log) / count:.1f} per message")
        print(f"  requests per round: {count:,} (each pending message once), rounds: {sorted(per_message)}")
        print(f"  peak Python memory of the trigger (tracemalloc): {peak / 2**20:.1f} MiB")
        print(
            f"  process peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB "
            f"(before the batch: {rss_before / 1024:.0f} MiB)"
        )
        print(f"  {seconds:.1f} s of real time, {len(log) / seconds:,.0f} requests/s (budget {budget:.0f}/s)")


if __name__ == "__main__":
    main()
