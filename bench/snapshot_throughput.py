"""How fast MessageStatusToParquetOperator snapshots statuses, side by side with what users
write today and with the emulator's own ceiling, all in one run. Prints its figures.

Against the emulator in its own process on loopback, 20 ms latency per request:
- ceiling: a bare aiohttp client, 256 in flight, bodies discarded;
- the operator end to end (fetch plus Parquet) as a task of a DAG run (``dag.test()``) in a fresh
  process, with its peak RSS and its CPU seconds per 10,000 statuses (both measured inside the
  task), for 40,000 and 200,000 messages;
- the naive baseline: a requests loop and pandas to Parquet;
- with the emulator's rate limit at R requests/s: achieved rate / R and the 429s.

    .venv/bin/python bench/snapshot_throughput.py [--small 40000] [--large 200000] [--rate 400] [--turns 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import pandas as pd
import requests

from airflow_provider_octopods.emulator.process import emulator_process

LATENCY_MS = 20
DAGS = Path(__file__).resolve().parent / "dags"


def emulator(messages: int, rate_limit: float | None = None) -> Any:
    args = ["--messages", str(messages), "--deliver-after", "0", "--latency-ms", str(LATENCY_MS)]
    return emulator_process(*args, *(["--rate-limit", str(rate_limit)] if rate_limit else []))


def stats(ready: dict[str, Any]) -> dict[str, Any]:
    return requests.get(f"{ready['base_url']}/_emulator/stats", timeout=10).json()  # type: ignore[no-any-return]


def ids_of(ready: dict[str, Any]) -> list[int]:
    return list(range(ready["first_message_id"], ready["first_message_id"] + ready["messages"]))


def ceiling(ready: dict[str, Any], count: int, concurrency: int = 256) -> tuple[float, float]:
    """Statuses per second, and CPU seconds per 10,000 statuses."""

    async def run() -> float:
        ids = iter(ids_of(ready)[:count])
        headers = {"X-Octopods-Auth": ready["api_key"]}
        connector = aiohttp.TCPConnector(limit=concurrency)
        async with aiohttp.ClientSession(connector=connector) as session:

            async def worker() -> None:
                for message_id in ids:
                    url = f"{ready['base_url']}/api/v1/whatsapp/messages/{message_id}"
                    async with session.get(url, headers=headers) as response:
                        await response.read()

            started = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            return count / (time.perf_counter() - started)

    cpu = time.process_time()
    rate = asyncio.run(run())
    return rate, (time.process_time() - cpu) / count * 10_000


def naive(ready: dict[str, Any], count: int, out: Path) -> float:
    """What a DAG author writes today: one request after another, then pandas."""
    started = time.perf_counter()
    session = requests.Session()
    rows = []
    for message_id in ids_of(ready)[:count]:
        url = f"{ready['base_url']}/api/v1/whatsapp/messages/{message_id}"
        rows.append(session.get(url, headers={"X-Octopods-Auth": ready["api_key"]}, timeout=10).json())
    pd.DataFrame(rows).to_parquet(out / "naive.parquet")
    return count / (time.perf_counter() - started)


def operator_child(ready: dict[str, Any], count: int, out: str, rate: float) -> None:
    """In a fresh process: the real operator as a task of a DAG run (``dag.test()`` of
    bench/dags/octopods_snapshot_bench.py), then its figures, measured inside the task, as JSON."""
    import importlib.util

    import pyarrow as pa
    import pyarrow.parquet as pq

    os.environ["AIRFLOW_CONN_OCTOPODS_DEFAULT"] = json.dumps(
        {"conn_type": "octopods", "host": ready["base_url"], "password": ready["api_key"]}
    )
    ids_path = Path(out) / "ids.parquet"
    ids_path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"message_id": ids_of(ready)[:count]}), ids_path)
    os.environ.update(OCTOPODS_BENCH_IDS=str(ids_path), OCTOPODS_BENCH_OUT=out, OCTOPODS_BENCH_RATE=str(rate))
    spec = importlib.util.spec_from_file_location(
        "octopods_snapshot_bench", DAGS / "octopods_snapshot_bench.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    run = module.octopods_snapshot_bench.test()
    if run.state != "success":
        raise SystemExit(f"the bench's DAG run ended {run.state}")
    print((Path(out) / "figures.json").read_text())


def run_operator(ready: dict[str, Any], count: int, out: Path, rate: float) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(ready), str(count), str(out), str(rate)],
        capture_output=True,
        text=True,
        check=True,
        env=airflow_env(out.parent),
    )
    return json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def airflow_env(home: Path) -> dict[str, str]:
    """One throw-away Airflow home (SQLite) for every DAG run of the bench."""
    return {
        **os.environ,
        "AIRFLOW_HOME": str(home / "airflow-home"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow-home/airflow.db",
    }


def migrate(home: Path) -> None:
    (home / "airflow-home").mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        check=True,
        capture_output=True,
        env=airflow_env(home),
    )


def _rates(values: list[float]) -> str:
    return ", ".join(f"{v:,.0f}" for v in values)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        operator_child(json.loads(sys.argv[2]), int(sys.argv[3]), sys.argv[4], float(sys.argv[5]))
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", type=int, default=40_000)
    parser.add_argument("--large", type=int, default=200_000)
    parser.add_argument("--rate", type=float, default=400.0, help="R: the emulator's rate limit")
    parser.add_argument("--naive", type=int, default=300, help="messages for the naive loop")
    parser.add_argument("--turns", type=int, default=3, help="alternating turns of ceiling and operator")
    args = parser.parse_args()
    out = Path(tempfile.mkdtemp(prefix="octopods-bench-"))
    migrate(out)
    unlimited = 1_000_000.0

    with emulator(args.large) as ready:
        # This machine's other load varies from minute to minute, so the ceiling and the
        # operator are measured in turns, and each is its best of the turns: a maximum for a
        # maximum, taken under the same conditions. The share within each turn (the two measured
        # seconds apart) is printed too: it shows how much of the spread is the machine's.
        tops, smalls = [], []
        for turn in range(args.turns):
            tops.append(ceiling(ready, args.small))
            smalls.append(run_operator(ready, args.small, out / f"small-{turn}", unlimited))
        top, top_cpu = max(tops)
        small = max(smalls, key=lambda r: r["rate"])
        large = run_operator(ready, args.large, out / "large", unlimited)
        slow = naive(ready, args.naive, out)
    with emulator(args.small, rate_limit=args.rate) as ready:
        count = int(args.rate * 15)
        limited = run_operator(ready, count, out / "limited", args.rate)
        codes = stats(ready)["by_http_status"]

    print(f"Snapshot benchmark, emulator on loopback with {LATENCY_MS} ms latency per request")
    print(
        f"  emulator ceiling (bare aiohttp, 256 in flight): {top:8,.0f} statuses/s, "
        f"{top_cpu:.2f} CPU s per 10,000 (turns: {_rates([t[0] for t in tops])})"
    )
    print(
        f"  operator, {args.small:,} messages:              {small['rate']:8,.0f} statuses/s "
        f"({small['rate'] / top:.0%} of the ceiling), {small['cpu_10k']:.2f} CPU s per 10,000, "
        f"peak RSS {small['rss_mib']:.0f} MiB "
        f"(turns: {_rates([r['rate'] for r in smalls])})"
    )
    shares = [r["rate"] / t[0] for t, r in zip(tops, smalls, strict=True)]
    print(
        f"  operator / ceiling within each turn: {', '.join(f'{s:.0%}' for s in shares)} "
        f"(median {statistics.median(shares):.0%})"
    )
    print(
        f"  operator, {args.large:,} messages:             {large['rate']:8,.0f} statuses/s, "
        f"peak RSS {large['rss_mib']:.0f} MiB (+{large['rss_mib'] - small['rss_mib']:.0f} MiB)"
    )
    print(f"  naive requests loop + pandas, {args.naive} messages: {slow:8,.0f} statuses/s")
    total = sum(codes.values())
    achieved = limited["summary"]["requests"] / limited["summary"]["seconds"]
    print(
        f"  rate limit R={args.rate:.0f}/s, {count:,} messages: {achieved:,.0f} requests/s = "
        f"{achieved / args.rate:.1%} of R, {codes.get('429', 0)} answered 429 "
        f"({codes.get('429', 0) / total:.2%} of {total:,} requests)"
    )


if __name__ == "__main__":
    main()
