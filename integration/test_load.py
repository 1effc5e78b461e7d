"""Load: 100 deferred single-message sensors and one batch sensor of 10,000 messages waiting at
once in the two triggerers. Reports the triggerer's memory, the requests per second spent on
polling, and the time from delivery to task success; polling must stay inside the
connection's budget, with no 429 storm. The figures go to .artifacts/load.json."""

from __future__ import annotations

import json
import statistics
import threading
import time
from datetime import UTC, datetime

import psutil
import pytest

from integration.conftest import ARTIFACTS, BUDGET, Deployment
from integration.deployment import TRIGGERERS, wait_until

pytestmark = pytest.mark.usefixtures("octopods_connection")
SINGLES, BATCH = 100, 10_000


def _tree_rss_mib(pid: int) -> float:
    process = psutil.Process(pid)
    return sum(p.memory_info().rss for p in [process, *process.children(recursive=True)]) / 2**20


def test_a_hundred_sensors_and_a_batch_of_ten_thousand(deployment: Deployment) -> None:
    airflow, emulator = deployment.airflow, deployment.emulator
    emulator.set_rate_limit(per_second=BUDGET * 1.2, burst=BUDGET * 1.2)  # the key's limit, above our budget
    emulator.reset_requests()
    singles = emulator.add_messages(SINGLES)  # delivered by the test, below
    runs = [airflow.trigger("it_wait", {"message": m}) for m in singles]

    peak = dict.fromkeys(TRIGGERERS, 0.0)
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(1):
            for name in TRIGGERERS:
                if (triggerer := airflow.processes.get(name)) is not None:
                    peak[name] = max(peak[name], _tree_rss_mib(triggerer.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        for run_id in runs:
            airflow.wait_for_state("it_wait", run_id, "wait", {"deferred"}, timeout=900)
        # The batch joins the hundred waiting sensors; its messages deliver 60 s after the send.
        batch = emulator.add_messages(BATCH, deliver_after=60)
        batch_run = airflow.trigger("it_batch", {"messages": batch})
        airflow.wait_for_state("it_batch", batch_run, "wait", {"deferred"}, timeout=120)
        window_start = time.time()
        wait_until(lambda: time.time() - window_start >= 30, 40, "a 30 s polling window", every=1)
        window = [r for r in emulator.requests() if window_start <= r.at < window_start + 30]
        polling_rate = len(window) / 30

        delivered_at = datetime.now(UTC)
        for message in singles:
            emulator.set_status(message, "delivered")
        finished = [
            airflow.wait_for_state("it_wait", r, "wait", {"success", "failed"}, timeout=600) for r in runs
        ]
        batch_ti = airflow.wait_for_state("it_batch", batch_run, "wait", {"success", "failed"}, timeout=1200)
    finally:
        stop.set()
        sampler.join()

    assert {ti["state"] for ti in finished} == {"success"}
    assert batch_ti["state"] == "success"
    lags = sorted((datetime.fromisoformat(ti["end_date"]) - delivered_at).total_seconds() for ti in finished)
    log = emulator.requests()
    limited = sum(r.http_status == 429 for r in log)
    figures = {
        "single_sensors": SINGLES,
        "batch_messages": BATCH,
        "triggerers_peak_rss_mib": {name: round(rss, 1) for name, rss in peak.items()},
        "polling_requests_per_s": round(polling_rate, 1),
        "budget_requests_per_s": BUDGET,
        "requests": len(log),
        "answered_429": limited,
        "delivery_to_success_s": {
            "p50": round(statistics.median(lags), 1),
            "p90": round(lags[int(0.9 * len(lags)) - 1], 1),
            "max": round(lags[-1], 1),
        },
        "batch_requests_per_message": round(sum(r.message_id in set(batch) for r in log) / BATCH, 2),
    }
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "load.json").write_text(json.dumps(figures, indent=2))
    print(json.dumps(figures, indent=2))
    assert polling_rate <= BUDGET * 1.05
    assert limited <= 0.005 * len(log)
