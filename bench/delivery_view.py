"""How fast the Delivery view answers and draws a day of 1,000,000 messages (issue 26's target:
rendered in under 2 s on a 2-core machine). Prints its figures.

The day is written first, as the snapshot operator leaves it: the snapshot's schema, several
``part-<map index>.parquet`` files (zstd, row groups of 65,536) in one ``snapshot_date=``
partition; statuses and delays drawn from the emulator's ``campaigns`` sender model as they
stand the next morning, a few statuses Octopods may add later, and error rows. Then, as
medians of ``--turns`` repetitions:
- cold: a day's report as the view computes it on its first request (``published.Day.read``,
  ``delivery_report``, ``figures`` and the JSON encoding), each step timed;
- warm: the same answer from the view's cache;
- through Airflow's own API app (``create_app()``, the plugin loaded from its entry point, a
  throw-away AIRFLOW_HOME on SQLite): ``GET /octopods/delivery/api/report`` with an admin's
  token, its first request for a day (cold: each turn a day of its own, one partition) and a
  second one (warm); and apart, the very first request of the server's process, which also
  imports the analytics (pandas, pyarrow) since the API server has not;
- in headless Chromium (``/usr/bin/chromium`` through ``chromedriver``'s WebDriver protocol;
  skipped when either is missing): the app served by uvicorn on loopback, the page opened for
  the day, the time from the navigation's start until the report is drawn (``#report``
  shown), cold and warm.
Also printed: the machine's cores, the peak RSS of the server's process and of this one.

    .venv/bin/python bench/delivery_view.py [--messages 1000000] [--parts 4] [--turns 3] [--no-browser]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from airflow_provider_octopods.emulator.model import SenderModel
from airflow_provider_octopods.emulator.state import FAILURE_REASONS, FAILURE_WEIGHTS
from airflow_provider_octopods.parquet.schema import snapshot_schema
from airflow_provider_octopods.parquet.writer import DEFAULT_ROW_GROUP_ROWS

DAY = datetime(2026, 11, 26, tzinfo=UTC)
SNAPSHOT_AT = DAY + timedelta(hours=26)  # the next morning: most reads are in, some never come
# Sends by hour of the day (UTC): a morning campaign, an evening one, a trickle in between.
SENDS_BY_HOUR = np.array([0, 0, 0, 0, 0, 0, 2, 4, 8, 30, 12, 6, 5, 5, 4, 4, 5, 6, 20, 9, 4, 2, 1, 0], float)
OTHER_SHARE = 0.0005  # statuses Octopods may add later ("pending", "deleted"): no send time
ERROR_SHARE = 0.002  # fetches that failed: error rows
ASSET_NAME = "octopods_message_statuses:"  # delivery_view.published.ASSET_PREFIX
DAG_ID = "octopods_bench_delivery_view"
VIEW = "/octopods/delivery/"


def seconds_of(moment: datetime) -> int:
    return round(moment.timestamp() * 1_000_000)


def stamps(sent_us: np.ndarray, after_s: np.ndarray, seen: np.ndarray) -> pa.Array:
    """Timestamps ``after_s`` seconds after the send where ``seen``, null elsewhere; the
    emulator's answers carry milliseconds."""
    at = sent_us + np.round(np.nan_to_num(after_s) * 1000).astype(np.int64) * 1000
    return pa.array(at, pa.timestamp("us", tz="UTC"), mask=~seen)


def day_table(messages: int, seed: int = 26) -> pa.Table:
    """A day of ``messages`` statuses as the snapshot fetched them the next morning."""
    rng = np.random.default_rng(seed)
    errors, other = round(messages * ERROR_SHARE), round(messages * OTHER_SHARE)
    sent = messages - errors - other
    hours = rng.choice(24, size=sent, p=SENDS_BY_HOUR / SENDS_BY_HOUR.sum())
    sent_us = seconds_of(DAY) + ((hours * 3600 + rng.uniform(0, 3600, sent)) * 1e6).astype(np.int64)
    timings = SenderModel.load("campaigns").sample(rng, sent)
    left_s = (seconds_of(SNAPSHOT_AT) - sent_us) / 1e6  # seconds from the send to the snapshot
    read = timings.read <= left_s
    delivered = (timings.deliver <= left_s) & ~timings.unreported
    failed = timings.fail <= left_s
    status = np.select([read, delivered, failed], ["read", "delivered", "failed"], "sent")
    status = np.concatenate([status, rng.choice(["pending", "deleted"], other), np.full(errors, None)])
    reasons = np.asarray(FAILURE_REASONS)[rng.choice(len(FAILURE_REASONS), sent, p=FAILURE_WEIGHTS)]

    def padded(values: pa.Array) -> pa.Array:  # the other statuses and error rows: null
        return pa.concat_arrays([values, pa.nulls(other + errors, values.type)])

    ids = pa.array(np.arange(3_851_828, 3_851_828 + messages, dtype=np.int64))
    text = pc.cast(ids, pa.string())
    answered = pc.if_else(pa.array(np.arange(messages) < sent + other), text, pa.scalar(None, pa.string()))
    codes = np.where(np.arange(errors) % 3, 1004, -1).astype(np.int32)
    columns = {
        "message_id": ids,
        "status": pa.array(status, pa.string()),
        "phone_number": pc.binary_join_element_wise("+1555", answered, ""),
        "channel_message_id": pc.binary_join_element_wise("wamid.", answered, ""),
        "sent_at": padded(stamps(sent_us, np.zeros(sent), np.ones(sent, bool))),
        "delivered_at": padded(stamps(sent_us, timings.deliver, delivered)),
        "read_at": padded(stamps(sent_us, timings.read, read)),
        "failure_reason": padded(pa.array(reasons, pa.string(), mask=~failed)),
        "request_id": pc.binary_join_element_wise("req-", text, ""),
        "fetched_at": pa.array(np.full(messages, seconds_of(SNAPSHOT_AT)), pa.timestamp("us", tz="UTC")),
        "error_code": pa.concat_arrays([pa.nulls(sent + other, pa.int32()), pa.array(codes)]),
        "error": pa.concat_arrays(
            [pa.nulls(sent + other, pa.string()), pa.array(np.where(codes > 0, "Message not found", "503"))]
        ),
    }
    # The error rows and later statuses are spread over the day's parts, as the fetch meets them.
    return pa.table(columns, schema=snapshot_schema("us")).take(rng.permutation(messages))


def write_partition(table: pa.Table, root: Path, parts: int) -> Path:
    """``table`` as the operator leaves a day: a slice of it per mapped task; the first part."""
    folder = root / f"snapshot_date={DAY:%Y-%m-%d}"
    folder.mkdir(parents=True)
    size = -(-table.num_rows // parts)
    for index in range(parts):
        part = table.slice(index * size, size)
        pq.write_table(
            part, folder / f"part-{index}.parquet", compression="zstd", row_group_size=DEFAULT_ROW_GROUP_ROWS
        )
    return folder / "part-0.parquet"


def peak_rss_mb() -> float:
    """This process's peak RSS since it started its program (Linux's VmHWM): unlike
    ``ru_maxrss``, not the parent's size at the fork, which an exec'd child inherits."""
    status = Path("/proc/self/status").read_text()
    [kilobytes] = [line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")]
    return int(kilobytes) / 1024


def median_ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1000:,.0f} ms"


def compute_day(asset: str, extra: dict[str, Any]) -> dict[str, float]:
    """The seconds of each step of a day's first request, as ``delivery_view.app`` runs them."""
    from airflow_provider_octopods import analytics
    from airflow_provider_octopods.delivery_view.figures import figures
    from airflow_provider_octopods.delivery_view.published import Day

    day = Day.of_event(asset, extra, "bench", "bench", datetime.now(UTC))
    started = time.perf_counter()
    rows = day.read()
    read = time.perf_counter()
    report = analytics.delivery_report(rows)
    reduced = time.perf_counter()
    drawn = figures(report)
    shaped = time.perf_counter()
    json.dumps(drawn, allow_nan=False)
    done = time.perf_counter()
    return {
        "read": read - started,
        "delivery_report": reduced - read,
        "figures": shaped - reduced,
        "json": done - shaped,
        "total": done - started,
    }


def in_process(asset: str, extra: dict[str, Any], turns: int) -> None:
    """(a) cold and (b) warm, in this process."""
    from airflow_provider_octopods.delivery_view.figures import Cache, figures

    cold = [compute_day(asset, extra) for _ in range(turns)]
    total = median_ms([c["total"] for c in cold])
    print(f"cold, a day's first request's server time (median of {turns}): {total}")
    for step in ("read", "delivery_report", "figures", "json"):
        print(f"  {step:<16} {median_ms([c[step] for c in cold])}")
    from airflow_provider_octopods import analytics
    from airflow_provider_octopods.delivery_view.published import Day

    day = Day.of_event(asset, extra, "bench", "bench", datetime.now(UTC))
    cache = Cache()
    cache.get("day", lambda: figures(analytics.delivery_report(day.read())))
    warm = []
    for _ in range(turns):
        started = time.perf_counter()
        json.dumps(cache.get("day", dict), allow_nan=False)
        warm.append(time.perf_counter() - started)
    print(f"warm, the cached answer (median of {turns}): {statistics.median(warm) * 1e6:,.0f} µs")


def airflow_env(home: Path) -> dict[str, str]:
    """A throw-away Airflow on SQLite, Airflow's simple auth manager with one admin."""
    return {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
    }


def partition_per_run(part: str, runs: list[str]) -> list[str]:
    """A partition of the day for each run (its files hard links to the day's): the view lists
    a partition once, by its newest run, so each run's report is a day of its own to it."""
    day = Path(part.removeprefix("file://")).parent
    parts = []
    for run_id in runs:
        copy = day.with_name(f"{day.name}-{run_id}")
        copy.mkdir(exist_ok=True)
        for file in day.glob("*.parquet"):
            if not (copy / file.name).exists():
                os.link(file, copy / file.name)
        parts.append(f"file://{copy}/{Path(part).name}")
    return parts


def publish(asset: str, part: str, runs: list[str]) -> None:
    """The snapshot Asset and one event per run naming a part of its partition, as the
    operator emits them."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        model = AssetModel(name=ASSET_NAME + asset, uri=asset, group="asset")
        session.add(model)
        session.flush()
        for index, (run_id, run_part) in enumerate(zip(runs, partition_per_run(part, runs), strict=True)):
            session.add(
                AssetEvent(
                    asset_id=model.id,
                    extra={"path": run_part},
                    source_dag_id=DAG_ID,
                    source_task_id="snapshot",
                    source_run_id=run_id,
                    source_map_index=0,
                    timestamp=SNAPSHOT_AT + timedelta(seconds=index),
                )
            )


def timed_get(client: Any, url: str, **kwargs: Any) -> float:
    started = time.perf_counter()
    answer = client.get(url, **kwargs)
    elapsed = time.perf_counter() - started
    if answer.status_code != 200:
        raise RuntimeError(f"GET {url}: {answer.status_code} {answer.text[:300]}")
    return elapsed


def through_api(app: Any, token: str, asset: str, runs: list[str]) -> dict[str, Any]:
    """(c) Each run's report asked twice of Airflow's API app: first (cold) and again (warm)."""
    from fastapi.testclient import TestClient

    client = TestClient(app)
    headers = {"Authorization": f"Bearer {token}"}
    cold, warm = [], []
    for run_id in runs:
        params = {"asset": asset, "run_id": run_id}
        cold.append(timed_get(client, VIEW + "api/report", params=params, headers=headers))
        warm.append(timed_get(client, VIEW + "api/report", params=params, headers=headers))
    return {"first": cold[0], "cold": cold[1:], "warm": warm}


CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
# Resolves, in the page, at the first frame with the report shown: milliseconds since the
# navigation started. The check starts once the page has loaded: a report drawn before that is
# counted a WebDriver round trip late, never early.
WAIT_DRAWN = """
const done = arguments[arguments.length - 1];
(function check() {
  const report = document.getElementById("report"), status = document.getElementById("status");
  if (report && !report.hidden) return done(performance.now());
  if (status && status.className === "error") return done("the page says: " + status.textContent);
  requestAnimationFrame(check);
})();
"""


def until(what: str, ready: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not within {timeout:.0f} s")
        time.sleep(0.02)


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def served(app: Any) -> Iterator[str]:
    """``app`` served by uvicorn on loopback, in a thread of this process; its base URL."""
    import threading

    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    until("uvicorn started", lambda: server.started)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def reachable(url: str) -> bool:
    import requests

    try:
        return requests.get(url, timeout=1).ok
    except requests.ConnectionError:
        return False


@contextmanager
def webdriver(scratch: Path) -> Iterator[Callable[[str, str, dict[str, Any]], Any]]:
    """Headless Chromium through chromedriver's WebDriver protocol: ``call(method, path, body)``."""
    import requests

    port = free_port()
    driver = subprocess.Popen([CHROMEDRIVER, f"--port={port}"], stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        until("chromedriver up", lambda: reachable(base + "/status"))
        args = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--window-size=1400,1000"]
        options = {"binary": CHROMIUM, "args": [*args, f"--user-data-dir={scratch / 'chromium'}"]}
        caps = {"capabilities": {"alwaysMatch": {"goog:chromeOptions": options}}}
        session = requests.post(base + "/session", json=caps, timeout=60).json()["value"]["sessionId"]

        def call(method: str, path: str, body: dict[str, Any]) -> Any:
            answer = requests.request(method, f"{base}/session/{session}/{path}", json=body, timeout=120)
            value = answer.json()["value"]
            if answer.status_code != 200:
                raise RuntimeError(f"WebDriver {path}: {value}")
            return value

        try:
            yield call
        finally:
            requests.delete(f"{base}/session/{session}", timeout=60)
    finally:
        driver.terminate()
        driver.wait(timeout=30)


def drawn_after(call: Callable[[str, str, dict[str, Any]], Any], url: str) -> float:
    """Seconds from the start of the navigation to ``url`` until the report is drawn."""
    call("POST", "url", {"url": url})
    value = call("POST", "execute/async", {"script": WAIT_DRAWN, "args": []})
    if isinstance(value, str):
        raise RuntimeError(value)
    return float(value) / 1000


def in_browser(app: Any, token: str, asset: str, runs: list[str], scratch: Path) -> dict[str, Any]:
    """(d) The page opened for each run's day (cold), then again (warm), in headless Chromium."""
    from urllib.parse import urlencode

    cold, warm = [], []
    with served(app) as base, webdriver(scratch) as call:
        call("POST", "timeouts", {"script": 60_000})
        call("POST", "url", {"url": base + VIEW + "delivery.js"})  # the cookie's site
        call("POST", "cookie", {"cookie": {"name": "_token", "value": token, "path": "/"}})
        for run_id in runs:
            url = f"{base}{VIEW}?{urlencode({'asset': asset, 'run_id': run_id})}"
            cold.append(drawn_after(call, url))
            warm.append(drawn_after(call, url))
    return {"cold": cold, "warm": warm}


def serve_child(asset: str, part: str, turns: int, browser: bool, scratch: Path) -> None:
    """In a fresh process, as an API server is: (c) and (d); prints its figures as JSON."""
    from airflow.api_fastapi.app import create_app, get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    api_runs = [f"api_{i}" for i in range(turns + 1)]  # the first pays the analytics' imports
    browser_runs = [f"browser_{i}" for i in range(turns)] if browser else []
    publish(asset, part, api_runs + browser_runs)
    app = create_app()
    token = get_auth_manager().generate_jwt(SimpleAuthManagerUser(username="admin", role="admin"))
    figures = {"api": through_api(app, token, asset, api_runs)}
    if browser:
        figures["browser"] = in_browser(app, token, asset, browser_runs, scratch)
    figures["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(figures))


def through_airflow(asset: str, part: str, turns: int, browser: bool, scratch: Path) -> dict[str, Any]:
    home = scratch / "airflow"
    home.mkdir()
    env = airflow_env(home)
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"], env=env, check=True, capture_output=True
    )
    command = [sys.executable, __file__, "--serve", asset, part, str(turns), str(int(browser)), str(scratch)]
    done = subprocess.run(command, env=env, check=True, stdout=subprocess.PIPE, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def report_airflow(figures: dict[str, Any], turns: int) -> None:
    api = figures["api"]
    print("through Airflow's API app, GET /octopods/delivery/api/report as an admin:")
    print(f"  first request of a fresh server process (imports the analytics): {api['first'] * 1000:,.0f} ms")
    print(f"  cold, a day's first request (median of {turns}): {median_ms(api['cold'])}")
    print(f"  warm, the day asked again (median of {len(api['warm'])}): {median_ms(api['warm'])}")
    if "browser" in figures:
        shown = figures["browser"]
        print("in headless Chromium, from the navigation's start until the report is drawn:")
        print(f"  cold, a day's first view (median of {turns}): {median_ms(shown['cold'])}")
        print(f"  warm, the day viewed again (median of {turns}): {median_ms(shown['warm'])}")
    else:
        print(f"in headless Chromium: skipped ({CHROMIUM} and {CHROMEDRIVER} needed, and no --no-browser)")
    print(f"the server process's peak RSS: {figures['peak_rss_mb']:,.0f} MB")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        asset, part, turns, browser, scratch = sys.argv[2:7]
        serve_child(asset, part, int(turns), browser == "1", Path(scratch))
        return
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument(
        "--parts", type=int, default=4, help="part files: the snapshot task's mapped instances"
    )
    parser.add_argument("--turns", type=int, default=3, help="repetitions of each measurement")
    parser.add_argument("--no-browser", action="store_true", help="leave out the page in Chromium")
    args = parser.parse_args()
    print("command:", " ".join([Path(sys.executable).name, *sys.argv]))
    print(f"cores: {os.cpu_count()}")
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch) / "statuses"
        started = time.perf_counter()
        part = write_partition(day_table(args.messages), root, args.parts)
        size = sum(p.stat().st_size for p in part.parent.iterdir()) / 2**20
        print(
            f"day: {args.messages:,} messages in {args.parts} part files, {size:,.1f} MB, "
            f"written in {time.perf_counter() - started:.1f} s"
        )
        asset, extra = f"file://{root}", {"path": f"file://{part}"}
        in_process(asset, extra, args.turns)
        browser = not args.no_browser and Path(CHROMIUM).is_file() and Path(CHROMEDRIVER).is_file()
        report_airflow(through_airflow(asset, extra["path"], args.turns, browser, Path(scratch)), args.turns)
    print(f"this process's peak RSS (builds the day, computes it in process): {peak_rss_mb():,.0f} MB")


if __name__ == "__main__":
    main()
