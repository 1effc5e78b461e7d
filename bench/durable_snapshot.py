"""What a durable snapshot saves when its worker dies: the requests of the retry after a kill
at about 90%, as a share of a full run's (target: at most 15%). Prints its figures.

Against the emulator in its own process on loopback, no latency, a high budget: the operator's
execute() in a fresh process as a worker runs it; a full run first; then a first try SIGKILLed
once its committed pieces hold ``--kill-at`` of the messages, and its retry (the same task
instance, try 2). Requests are counted by the emulator.

    .venv/bin/python bench/durable_snapshot.py [--messages 50000] [--kill-at 0.9] [--rate 5000]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pyarrow.parquet as pq
import requests

from airflow_provider_octopods.emulator.process import emulator_process


def requests_made(ready: dict[str, Any]) -> int:
    answer = requests.get(f"{ready['base_url']}/_emulator/stats", timeout=10).json()
    return int(answer["requests"])


def operator_child(ready: dict[str, Any], out: str, rate: float, run_id: str, try_number: int) -> None:
    """In a fresh process: the operator's execute() as the given try of a task instance."""
    os.environ["AIRFLOW_CONN_OCTOPODS_DEFAULT"] = json.dumps(
        {"conn_type": "octopods", "host": ready["base_url"], "password": ready["api_key"]}
    )
    from airflow_provider_octopods.operators.message_status import MessageStatusToParquetOperator

    first = ready["first_message_id"]
    op = MessageStatusToParquetOperator(
        task_id="bench",
        message_ids=list(range(first, first + ready["messages"])),
        output_path=f"file://{out}/statuses/day/",
        max_requests_per_second=rate,
        max_concurrency=64,
    )
    ti = SimpleNamespace(
        dag_id="bench", run_id=run_id, task_id="bench", map_index=-1, try_number=try_number, max_tries=1
    )
    started = datetime(2026, 11, 26, tzinfo=UTC)
    dag_run = SimpleNamespace(run_after=started, start_date=started, clear_number=0)
    context = {"ti": ti, "dag_run": dag_run, "outlet_events": _Events()}
    print(json.dumps(op.execute(context)))


class _Events(dict):  # type: ignore[type-arg]
    def __missing__(self, key: Any) -> Any:
        self[key] = SimpleNamespace(extra={})
        return self[key]


def child(
    ready: dict[str, Any], out: Path, rate: float, run_id: str, try_number: int
) -> subprocess.Popen[str]:
    """The operator in a process of its own, as a worker runs a try."""
    arguments = [json.dumps(ready), str(out), str(rate), run_id, str(try_number)]
    return subprocess.Popen(
        [sys.executable, __file__, "--child", *arguments],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "AIRFLOW_HOME": str(out / "airflow-home")},
    )


def finished(process: subprocess.Popen[str]) -> dict[str, Any]:
    stdout, _ = process.communicate(timeout=1800)
    if process.returncode != 0:
        raise RuntimeError(f"the operator failed (exit {process.returncode})")
    return json.loads(stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def committed_rows(progress: Path) -> int:
    rows = 0
    for piece in progress.rglob("piece-*.parquet"):
        try:
            rows += pq.read_metadata(piece).num_rows
        except FileNotFoundError:  # removed meanwhile
            continue
    return rows


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        ready, out, rate, run_id, try_number = sys.argv[2:7]
        operator_child(json.loads(ready), out, float(rate), run_id, int(try_number))
        return
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--kill-at", type=float, default=0.9, help="share committed in pieces at the kill")
    parser.add_argument("--rate", type=float, default=5_000.0, help="requests per second")
    args = parser.parse_args()
    print("command:", " ".join([Path(sys.executable).name, *sys.argv]))
    emulator_args = ["--messages", str(args.messages), "--deliver-after", "0"]
    with emulator_process(*emulator_args) as ready, tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch)
        progress = out / "statuses" / ".day.octopods-progress"  # the default: beside the root

        before = requests_made(ready)
        started = time.perf_counter()
        full = finished(child(ready, out, args.rate, "full", 1))
        full_seconds = time.perf_counter() - started
        full_requests = requests_made(ready) - before

        before = requests_made(ready)
        killed = child(ready, out, args.rate, "killed", 1)
        deadline = time.monotonic() + 1800
        while (at := committed_rows(progress)) < args.kill_at * args.messages:
            if killed.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the first try ended before it could be killed")
            time.sleep(0.005)
        killed.send_signal(signal.SIGKILL)
        killed.wait(timeout=30)
        first_try = requests_made(ready) - before

        before = requests_made(ready)
        started = time.perf_counter()
        retry = finished(child(ready, out, args.rate, "killed", 2))
        retry_seconds = time.perf_counter() - started
        retry_requests = requests_made(ready) - before
        leftovers = [p for p in progress.rglob("*") if p.is_file()]

    share = retry_requests / full_requests
    print(f"messages: {args.messages:,}; budget {args.rate:,.0f} requests/s; emulator without latency")
    print(f"  full run:   {full_requests:,} requests, {full['rows']:,} rows, {full_seconds:.1f} s")
    print(
        f"  first try:  {first_try:,} requests, SIGKILLed with {at:,} rows "
        f"({at / args.messages:.1%}) committed in pieces"
    )
    print(
        f"  retry:      {retry_requests:,} requests, {retry['rows']:,} rows "
        f"({retry['resumed_rows']:,} resumed), {retry_seconds:.1f} s"
    )
    print(f"  retry / full run: {share:.1%} of the requests (target: at most 15%)")
    print(f"  progress files left: {len(leftovers)}")


if __name__ == "__main__":
    main()
