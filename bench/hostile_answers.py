"""What a hostile server costs a client: memory for huge and endless bodies, time for a
trickle, requests for a 429 whose retry time is past. Prints its figures for both drivers.

A real socket server on 127.0.0.1 (tests/hostile.py) answers; the clients are the provider's.

    .venv/bin/python bench/hostile_answers.py
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="octopods-bench-"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from airflow_provider_octopods.clients.async_client import AsyncOctopodsClient
from airflow_provider_octopods.clients.sync_client import OctopodsClient
from airflow_provider_octopods.connection.settings import OctopodsSettings
from airflow_provider_octopods.errors import OctopodsError
from tests.hostile import HostileServer, answer_with, endless_chunks, huge_body, response, trickle

MiB = 1 << 20


def _sync(server: HostileServer, extra: dict[str, Any]) -> None:
    settings = OctopodsSettings.from_connection_fields("bench", server.base_url, "bench-key", extra)
    with OctopodsClient(settings) as client:
        client.get_message_status(7)


def _async(server: HostileServer, extra: dict[str, Any]) -> None:
    settings = OctopodsSettings.from_connection_fields("bench", server.base_url, "bench-key", extra)

    async def main() -> None:
        async with AsyncOctopodsClient(settings, requests_per_second=float("inf")) as client:
            await client.get_message_status(7)

    asyncio.run(main())


def measure(name: str, answer: Callable[..., None], extra: dict[str, Any]) -> None:
    for path, call in (("sync", _sync), ("async", _async)):
        with HostileServer(answer) as server:
            tracemalloc.start()
            started = time.monotonic()
            try:
                call(server, {"max_retries": 0, **extra})
                outcome = "a status"
            except OctopodsError as exc:
                outcome = type(exc).__name__
            elapsed = time.monotonic() - started
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            requests = len(server.requests)
        print(
            f"{name:<34} {path:<5}  {outcome:<24} {elapsed:6.2f} s  peak {peak / MiB:6.2f} MiB  "
            f"{requests} request(s)"
        )


def main() -> None:
    documented = response(200, {"message_id": 7, "status": "sent"})
    past = datetime.fromtimestamp(time.time() - 120, UTC).isoformat()
    print(f"{'answer':<34} {'path':<5}  {'outcome':<24} {'time':>8}  {'memory':>16}")
    measure("200, a 512 MiB body", huge_body(512 * MiB), {"timeout": 60})
    measure("200, an endless chunked body", endless_chunks, {"timeout": 60})
    measure("a byte every 0.5 s, timeout 2 s", trickle(documented, 0.5), {"timeout": 2})
    measure(
        "429 retry_at 2 min past, limit 5 s", answer_with(429, {"retry_at": past}), {"max_rate_limit_wait": 5}
    )


if __name__ == "__main__":
    main()
