"""Scale out on the deployment: a snapshot of 100,000 messages mapped into 8 shards on both
Celery workers while 200 deferred sensors wait in both triggerers, all on one connection
(``octopods_scale``, budget B) whose budget every process takes from Redis. With the key's
limit at 1.5 B, all processes together keep to B, with no 429. Then a worker SIGKILLed
mid-shard: the shard's retry runs on the other worker and resumes. Figures go to
.artifacts/scale_out.json and .artifacts/worker_killed.json."""

from __future__ import annotations

import bisect
import json
import time
from collections import Counter
from datetime import datetime
from typing import Any

import duckdb
import pytest

from airflow_provider_octopods.snapshot.checkpoint import PROGRESS_SUFFIX as PROGRESS
from integration.conftest import ARTIFACTS, SCALE_BUDGET, Deployment
from integration.deployment import TRIGGERERS, WORKERS, Airflow, wait_until

pytestmark = pytest.mark.usefixtures("scale_connection")
MESSAGES, SHARDS, SENSORS = 100_000, 8, 200
B = SCALE_BUDGET


def _at(ti: dict[str, Any], field: str) -> float:
    return datetime.fromisoformat(str(ti[field])).timestamp()


def _shards(airflow: Airflow, run_id: str) -> list[dict[str, Any]]:
    """The run's 8 shards once all have finished (``failed`` after their retry too)."""
    airflow.wait_for_state("it_scale_snapshot", run_id, "split", {"success"}, timeout=300)

    def finished() -> list[dict[str, Any]] | None:
        tis = airflow.mapped_instances("it_scale_snapshot", run_id, "snapshot")
        return tis if len(tis) == SHARDS and all(t["state"] in ("success", "failed") for t in tis) else None

    return wait_until(finished, 900, "the 8 shards finished", every=2)  # type: ignore[no-any-return]


def _rate(times: list[float], start: float, end: float) -> float:
    """Requests per second in [start, end] from the sorted arrival times."""
    return (bisect.bisect_right(times, end) - bisect.bisect_left(times, start)) / max(end - start, 1e-9)


def _partition(deployment: Deployment, run_id: str, ids: list[int]) -> dict[str, int]:
    """The run's partition read back with DuckDB: its files, rows, unique ids, and the ids
    missing or foreign (not sent) against ``ids``."""
    parts = f"{deployment.root}/statuses/scale/run={run_id}/*.parquet"
    db = duckdb.connect()
    db.execute("create table sent as select unnest(?::bigint[]) as message_id", [ids])
    files, rows, unique = db.execute(
        "select count(distinct filename), count(*), count(distinct message_id)"
        " from read_parquet(?, filename = true)",
        [parts],
    ).fetchone()  # type: ignore[misc]
    missing, foreign = db.execute(
        "select (select count(*) from sent anti join read_parquet($1) using (message_id)),"
        " (select count(*) from read_parquet($1) anti join sent using (message_id))",
        [parts],
    ).fetchone()  # type: ignore[misc]
    return {"files": files, "rows": rows, "unique_ids": unique, "missing": missing, "foreign": foreign}


def _defer_sensors(airflow: Airflow, messages: list[int]) -> tuple[str, Counter[str]]:
    """The sensors' run, once every sensor is deferred and its trigger held by a triggerer;
    with how many triggers each triggerer holds."""
    run_id = airflow.trigger("it_scale_sensors", {"messages": messages})
    airflow.wait_for_state("it_scale_sensors", run_id, "waiting", {"success"}, timeout=300)

    def held() -> Counter[str] | None:
        tis = airflow.mapped_instances("it_scale_sensors", run_id, "wait")
        if len(tis) < len(messages) or any(t["state"] != "deferred" for t in tis):
            return None
        triggerers = airflow.triggerers()
        holders = Counter(str(airflow.triggerer_of(t, triggerers)) for t in tis)
        return holders if set(holders) <= set(TRIGGERERS) else None

    return run_id, wait_until(held, 900, f"{len(messages)} sensors deferred", every=3)


def test_shards_on_both_workers_and_sensors_keep_to_one_budget(deployment: Deployment) -> None:
    airflow, emulator = deployment.airflow, deployment.emulator
    emulator.set_rate_limit(per_second=B * 1.5)  # the key's limit, a bucket of one second's worth
    waiting = emulator.add_messages(SENSORS)
    sensors_run, holders = _defer_sensors(airflow, waiting)

    emulator.reset_requests()
    ids = emulator.add_messages(MESSAGES, deliver_after=0)
    run_id = airflow.trigger("it_scale_snapshot", {"messages": ids})
    shards = _shards(airflow, run_id)
    start, end = min(_at(t, "start_date") for t in shards), max(_at(t, "end_date") for t in shards)
    # While all 8 ran: from the last shard's start to the first shard's end.
    all_start, all_end = max(_at(t, "start_date") for t in shards), min(_at(t, "end_date") for t in shards)
    log = emulator.requests()
    times = sorted(r.at for r in log)
    sensor_ids = set(waiting)
    sensor_polls = [r.message_id for r in log if start <= r.at <= end and r.message_id in sensor_ids]
    starts = times[bisect.bisect_left(times, start) :: 50]
    peak = max((_rate(times, t, t + 10) for t in starts if t + 10 <= end), default=0.0)
    partition = _partition(deployment, run_id, ids)
    hostnames = Counter(str(t["hostname"]) for t in shards)

    # The sensors were there to poll beside the snapshot (the triggerer tests see sensors
    # finish): resuming 200 tasks would cost minutes of the two cores. Their run is ended, its
    # deferred tasks failed, their triggers dropped.
    airflow.api(
        "PATCH", f"/api/v2/dags/it_scale_sensors/dagRuns/{sensors_run}", json={"state": "failed"}
    ).raise_for_status()
    figures = {
        "command": "make integration PYTEST_ARGS='-k shards_on_both_workers'",
        "messages": MESSAGES,
        "shards": SHARDS,
        "deferred_sensors": SENSORS,
        "sensors_per_triggerer": dict(holders),
        "budget_requests_per_s": B,
        "key_limit_requests_per_s": B * 1.5,
        "snapshot_seconds": round(end - start, 1),
        "requests_per_s_over_the_snapshot": round(_rate(times, start, end), 1),
        "share_of_budget_over_the_snapshot": round(_rate(times, start, end) / B, 3),
        "seconds_all_8_shards_ran": round(all_end - all_start, 1),
        "share_of_budget_while_all_8_ran": round(_rate(times, all_start, all_end) / B, 3),
        "peak_10s_share_of_budget": round(peak / B, 3),
        "sensor_requests_during_the_snapshot": len(sensor_polls),
        "sensors_polling_during_the_snapshot": len(set(sensor_polls)),
        "answered_429": sum(r.http_status == 429 for r in log),
        "shard_hostnames": dict(hostnames),
        "partition": partition,
    }
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "scale_out.json").write_text(json.dumps(figures, indent=2))
    print(json.dumps(figures, indent=2))

    assert {t["state"] for t in shards} == {"success"}
    assert set(hostnames) == set(WORKERS), hostnames
    assert set(holders) == set(TRIGGERERS), holders
    assert partition == {
        "files": SHARDS,
        "rows": MESSAGES,
        "unique_ids": MESSAGES,
        "missing": 0,
        "foreign": 0,
    }
    assert figures["answered_429"] == 0
    assert _rate(times, start, end) <= B * 1.05
    assert _rate(times, all_start, all_end) <= B * 1.05
    assert len(set(sensor_polls)) == SENSORS  # every sensor kept polling while the shards ran


KILLED_MESSAGES = 24_000  # 8 shards of 3,000: about a minute each at B / 8
KILLED_AT = 0.85  # of the shard's messages asked for: the retry needs about the last sixth


def _nearly_done_shard(
    airflow: Airflow, emulator: Any, run_id: str, shard_of: dict[int, int]
) -> dict[str, Any] | None:
    """A running shard that has asked for ``KILLED_AT`` of its messages, if any."""
    asked = Counter(shard_of.get(r.message_id or 0, -1) for r in emulator.requests() if r.http_status == 200)
    size = len(shard_of) // SHARDS
    running = [
        t
        for t in airflow.mapped_instances("it_scale_snapshot", run_id, "snapshot")
        if t["state"] == "running"
    ]
    return next(
        (t for t in running if asked[t["map_index"]] >= size * KILLED_AT and t["hostname"] in WORKERS), None
    )


def test_a_worker_killed_mid_shard_its_retry_resumes_on_the_other(deployment: Deployment) -> None:
    airflow, emulator = deployment.airflow, deployment.emulator
    emulator.set_rate_limit(per_second=B * 1.5)
    ids = emulator.add_messages(KILLED_MESSAGES, deliver_after=0)
    shard_of = {m: i % SHARDS for i, m in enumerate(ids)}  # split() deals them out the same way
    emulator.reset_requests()
    run_id = airflow.trigger("it_scale_snapshot", {"messages": ids})
    airflow.wait_for_state("it_scale_snapshot", run_id, "split", {"success"}, timeout=300)
    target = wait_until(
        lambda: _nearly_done_shard(airflow, emulator, run_id, shard_of), 600, "a shard nearly done", every=1
    )
    victim = str(target["hostname"])
    airflow.kill(victim)  # SIGKILL: the worker, its pool and the task processes
    killed_at = time.time()  # the emulator's clock: its records' ``at``
    try:
        shards = {t["map_index"]: t for t in _shards(airflow, run_id)}
    finally:
        airflow.start(victim)  # back to two workers for what follows

    survivor = next(w for w in WORKERS if w != victim)
    # The shards the kill caught: retried (the others had finished, or ran on the survivor).
    retries = sorted(i for i, t in shards.items() if t["try_number"] > 1)
    index = target["map_index"]
    shard_size = KILLED_MESSAGES // SHARDS
    log = [r for r in emulator.requests() if r.message_id is not None and shard_of.get(r.message_id) == index]
    retried = [r for r in log if r.at > killed_at]
    summary = airflow.api(
        "GET",
        f"/api/v2/dags/it_scale_snapshot/dagRuns/{run_id}/taskInstances/snapshot/xcomEntries/return_value",
        params={"map_index": index},
    ).json()["value"]
    partition = _partition(deployment, run_id, ids)
    # Every shard succeeded: none of their committed pieces may stay behind.
    leftovers = [
        str(p) for p in (deployment.root / "statuses").rglob("*") if p.is_file() and PROGRESS in str(p)
    ]
    figures = {
        "command": "make integration PYTEST_ARGS='-k worker_killed'",
        "messages": KILLED_MESSAGES,
        "shards": SHARDS,
        "killed_worker": victim,
        "shards_retried": retries,
        "killed_shard": index,
        "killed_shard_asked_before_the_kill": len({r.message_id for r in log if r.at <= killed_at}),
        "retry": {
            "hostname": shards[index]["hostname"],
            "try_number": shards[index]["try_number"],
            "requests": len(retried),
            "share_of_a_full_shard": round(len(retried) / shard_size, 3),
            "resumed_rows": summary.get("resumed_rows"),
        },
        "partition": partition,
        "progress_files_left": len(leftovers),
    }
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "worker_killed.json").write_text(json.dumps(figures, indent=2))
    print(json.dumps(figures, indent=2))

    assert {t["state"] for t in shards.values()} == {"success"}
    assert index in retries
    for i in retries:
        assert (shards[i]["try_number"], shards[i]["hostname"]) == (2, survivor), shards[i]
    resumed = int(summary["resumed_rows"])
    # Killed with 85% asked for: at least 2,000 of its rows were in pieces of 500 committed
    # before, and the retry asked only for the rest (and for what was in flight: 20 at most).
    assert resumed >= 2_000, summary
    assert len(retried) <= shard_size - resumed + 20, (len(retried), summary)
    assert leftovers == []
    assert partition == {
        "files": SHARDS,
        "rows": KILLED_MESSAGES,
        "unique_ids": KILLED_MESSAGES,
        "missing": 0,
        "foreign": 0,
    }
