"""Three processes on one connection at budget B, the key's limit at 1.5 B: how fast do they go
together, and how many 429s do they meet? Prints its figures (and writes them as JSON).

Modes, each three real processes against the emulator on loopback, each process at budget B:
- ``per-process``: no shared budget (each process's own gate only; what main did before);
- ``redis-gcra``: ``rate_limit_redis_conn_id``, the provider's Lua GCRA script in Redis;
- ``limits``: the ``limits`` library's async Redis storage (moving window of B per second),
  waiting for the window to reopen on a refusal; run only when ``limits`` is installed.

    .venv/bin/python bench/shared_budget.py [B] [seconds] [--modes a,b] [--burst N] [--json PATH]
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="octopods-bench-"))

from airflow_provider_octopods.clients.async_client import AsyncOctopodsClient
from airflow_provider_octopods.clients.pacing import Reserve, Slot, StoreCall, gate_key, shared_gate
from airflow_provider_octopods.clients.redis_budget import RedisAddress
from airflow_provider_octopods.connection.settings import OctopodsSettings
from airflow_provider_octopods.emulator import Emulator

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from integration.deployment import RedisServer

PROCESSES = 3


class LimitsStore:
    """A ``pacing.BudgetStore`` on the ``limits`` library: a slot once its window has room."""

    def __init__(self, port: int, rate: float, key: str) -> None:
        from limits import RateLimitItemPerSecond
        from limits.aio.storage import RedisStorage
        from limits.aio.strategies import MovingWindowRateLimiter

        self.item = RateLimitItemPerSecond(int(rate))
        self.limiter = MovingWindowRateLimiter(
            RedisStorage(f"async+redis://127.0.0.1:{port}/0", implementation="redispy")
        )
        self.key = key

    def call(self, step: StoreCall) -> Slot | None:
        raise NotImplementedError("the bench runs the async client only")

    async def acall(self, step: StoreCall) -> Slot | None:
        if not isinstance(step, Reserve):
            return None  # limits has no shared pause: each process waits alone
        while not await self.limiter.hit(self.item, self.key):
            stats = await self.limiter.get_window_stats(self.item, self.key)
            await asyncio.sleep(max(0.001, stats.reset_time - time.time()))
        return Slot(0.0)

    def hold(self) -> None: ...

    async def arelease(self) -> None: ...


def one_process(mode: str, base_url: str, api_key: str, ids: list[int], rate: float, port: int) -> None:
    settings = OctopodsSettings(
        conn_id="bench",
        base_url=base_url,
        api_key=api_key,
        timeout=10.0,
        max_retries=5,
        max_rate_limit_wait=300.0,
        requests_per_second=rate,
        verify_tls=True,
        proxy=None,
    )
    store = RedisAddress("127.0.0.1", port, db=0) if mode == "redis-gcra" else None

    async def main() -> None:
        if mode == "limits":  # the gate the client will share, with limits as its store
            shared_gate(gate_key(base_url, api_key, rate), rate, LimitsStore(port, rate, "bench"))
        async with AsyncOctopodsClient(settings, budget_store=store, max_concurrency=20) as client:
            async for _ in client.iter_message_statuses(ids):
                pass

    asyncio.run(main())


def measure(
    mode: str, emulator: Emulator, redis: RedisServer, rate: float, seconds: float, burst: float
) -> dict[str, Any]:
    # The key's limit: 1.5 B per second, a bucket of ``burst`` requests (one second's worth
    # unless told: how a per-second limit is usually kept).
    emulator.set_rate_limit(rate * 1.5, burst=burst)
    emulator.reset_requests()
    import redis as redis_py

    redis_py.Redis(port=redis.port).flushall()
    per_process = int(rate * seconds)  # each alone could finish in `seconds`; together 3 times that
    ids = emulator.add_messages(per_process * PROCESSES, deliver_after=0)
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(
            target=one_process,
            args=(mode, emulator.base_url, emulator.api_key, ids[i::PROCESSES], rate, redis.port),
        )
        for i in range(PROCESSES)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    log = emulator.requests()
    arrivals = sorted(r.at for r in log)
    # The steady part: from the first request to the last, less the first and last second.
    busy = [a for a in arrivals if arrivals[0] + 1 <= a <= arrivals[-1] - 1]
    window = busy[-1] - busy[0] if len(busy) > 1 else 1.0
    per_100ms: dict[int, int] = {}
    for a in busy:
        per_100ms[int(a * 10)] = per_100ms.get(int(a * 10), 0) + 1
    return {
        "mode": mode,
        "budget_B": rate,
        "key_limit": rate * 1.5,
        "key_burst": burst,
        "requests": len(log),
        "answered_429": sum(r.http_status == 429 for r in log),
        "rate_together": round(len(busy) / window, 1),
        "share_of_B": round(len(busy) / window / rate, 3),
        "max_in_100ms": max(per_100ms.values(), default=0),
        "median_in_100ms": statistics.median(per_100ms.values()) if per_100ms else 0,
        "wall_seconds": round(arrivals[-1] - arrivals[0], 1),
        "429_at_s": [round(r.at - arrivals[0], 2) for r in log if r.http_status == 429][:5],
    }


def main() -> None:
    options = {k: v for k, v in zip(sys.argv[1:], sys.argv[2:], strict=False) if k.startswith("--")}
    args = [a for a in sys.argv[1:] if not a.startswith("--") and a not in options.values()]
    rate = float(args[0]) if args else 40.0
    seconds = float(args[1]) if len(args) > 1 else 10.0
    burst = float(options.get("--burst", rate * 1.5))
    modes = ["per-process", "redis-gcra"]
    try:
        import limits  # noqa: F401

        modes.append("limits")
    except ImportError:
        print("limits is not installed: its mode is skipped")
    if "--modes" in options:
        modes = [m for m in options["--modes"].split(",") if m in modes]
    redis = RedisServer(Path(tempfile.mkdtemp(prefix="octopods-bench-redis-"))).start()
    figures = []
    try:
        with Emulator() as emulator:
            for mode in modes:
                figures.append(measure(mode, emulator, redis, rate, seconds, burst))
                print(json.dumps(figures[-1]))
    finally:
        redis.stop()
    if "--json" in options:
        Path(options["--json"]).write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
