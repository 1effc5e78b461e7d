"""How many status requests per second the emulator answers on loopback.

The emulator runs as its own process (as it does for the other benchmarks), a bare aiohttp
client keeps CONCURRENCY requests in flight and discards the bodies. Prints the figures.

    .venv/bin/python bench/emulator_throughput.py [--requests 20000] [--concurrency 64] [--latency-ms 0]
"""

from __future__ import annotations

import argparse
import asyncio
import time

import aiohttp

from airflow_provider_octopods.emulator.process import emulator_process


async def hammer(
    base_url: str, key: str, first_id: int, count: int, requests: int, concurrency: int
) -> float:
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        queue = iter(range(requests))

        async def worker() -> None:
            for i in queue:
                url = f"{base_url}/api/v1/whatsapp/messages/{first_id + i % count}"
                async with session.get(url, headers={"X-Octopods-Auth": key}) as response:
                    await response.read()
                    assert response.status == 200, response.status

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    args = parser.parse_args()
    messages = 10_000
    args_ = ["--messages", str(messages), "--deliver-after", "0", "--latency-ms", str(args.latency_ms)]
    with emulator_process(*args_) as ready:
        seconds = asyncio.run(
            hammer(
                ready["base_url"],
                ready["api_key"],
                ready["first_message_id"],
                messages,
                args.requests,
                args.concurrency,
            )
        )
    print(f"emulator: {args.requests} requests, {args.concurrency} in flight, latency {args.latency_ms} ms")
    print(f"emulator: {args.requests / seconds:,.0f} requests/s ({seconds:.2f} s)")


if __name__ == "__main__":
    main()
