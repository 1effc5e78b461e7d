"""One Iceberg table on the deployment: its SQL catalog on PostgreSQL, its warehouse on moto's
S3 server, 8 mapped shards of ``MessageStatusToIcebergOperator`` on both Celery workers
committing to it at once, and a worker SIGKILLed mid-shard: the shard's retry runs on the
other worker, resumes from its checkpoint on S3, and commits once. The table read back with
pyiceberg holds each id once, with the emulator's statuses. Then 8 shards refresh the rows
not yet final at once, rewriting the same files. Figures go to .artifacts/iceberg_table.json
and .artifacts/iceberg_refresh.json."""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import datetime
from typing import Any

import pytest

from airflow_provider_octopods.snapshot.checkpoint import PROGRESS_SUFFIX as PROGRESS
from integration.conftest import ARTIFACTS, WAREHOUSE_BUCKET, Deployment
from integration.deployment import WORKERS, Airflow, wait_until

pytestmark = pytest.mark.usefixtures("octopods_connection", "iceberg_connections")
DAG_ID, REFRESH_DAG_ID = "it_iceberg_table", "it_iceberg_refresh"
TASK_ID, TABLE = "table", "octopods.message_statuses"
SHARDS = 8
VIEW = "/octopods/delivery/"
PER_KIND = 400  # four kinds of message: 1,600 in all, 200 a shard, about 17 s a shard
KILLED_AT = 0.5  # of the shard's messages asked for when its worker is killed


def _at(stamp: str) -> float:
    return datetime.fromisoformat(stamp).timestamp()


def _messages(emulator: Any) -> list[int]:
    """Delivered, read, failed and sent messages, interleaved: every shard gets each kind."""
    kinds = (
        emulator.add_messages(PER_KIND, deliver_after=0),
        emulator.add_messages(PER_KIND, read_after=0),
        emulator.add_messages(PER_KIND, fail_after=0, failure_reason="unreachable"),
        emulator.add_messages(PER_KIND),
    )
    return [message_id for group in zip(*kinds, strict=True) for message_id in group]


def _truth(emulator: Any, ids: list[int]) -> dict[int, str]:
    now = emulator.state.now()
    return {m: emulator.state.messages[m].body(now, "")["status"] for m in ids}


def _shards(airflow: Airflow, run_id: str, dag_id: str = DAG_ID) -> list[dict[str, Any]]:
    """The run's shards once all have finished (``failed`` after their retry too)."""

    def finished() -> list[dict[str, Any]] | None:
        tis = airflow.mapped_instances(dag_id, run_id, TASK_ID)
        return tis if len(tis) == SHARDS and all(t["state"] in ("success", "failed") for t in tis) else None

    return wait_until(finished, 600, "the shards finished", every=2)  # type: ignore[no-any-return]


def _shard_to_kill(airflow: Airflow, emulator: Any, run_id: str, shard_of: dict[int, int]) -> Any:
    """A running shard on a worker that has asked for ``KILLED_AT`` of its messages, if any."""
    asked = Counter(shard_of.get(r.message_id or 0, -1) for r in emulator.requests() if r.http_status == 200)
    size = len(shard_of) // SHARDS
    running = [t for t in airflow.mapped_instances(DAG_ID, run_id, TASK_ID) if t["state"] == "running"]
    return next(
        (t for t in running if asked[t["map_index"]] >= size * KILLED_AT and t["hostname"] in WORKERS), None
    )


def _table(deployment: Deployment) -> Any:
    """The table through pyiceberg, as a reader outside Airflow opens it: the catalog is named
    after the connection (pyiceberg's SQL catalog keys its rows by that name)."""
    from pyiceberg.catalog.sql import SqlCatalog

    s3 = deployment.s3
    catalog = SqlCatalog(
        "it_iceberg",
        uri=deployment.iceberg_catalog_url,
        warehouse=f"s3://{WAREHOUSE_BUCKET}/warehouse",
        **{
            "s3.endpoint": s3.url,
            "s3.access-key-id": s3.KEY,
            "s3.secret-access-key": s3.SECRET,
            "s3.region": s3.REGION,
        },
    )
    return catalog.load_table(TABLE)


def _summary(airflow: Airflow, run_id: str, map_index: int, dag_id: str = DAG_ID) -> dict[str, Any]:
    answer = airflow.api(
        "GET",
        f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{TASK_ID}/xcomEntries/return_value",
        params={"map_index": map_index},
    )
    answer.raise_for_status()
    return answer.json()["value"]  # type: ignore[no-any-return]


def test_shards_commit_at_once_and_a_killed_one_resumes_once(deployment: Deployment) -> None:
    airflow, emulator = deployment.airflow, deployment.emulator
    emulator.set_rate_limit(per_second=None)
    ids = _messages(emulator)
    shard_of = {m: i % SHARDS for i, m in enumerate(ids)}  # deal() deals them out the same way
    emulator.reset_requests()
    run_id = airflow.trigger(DAG_ID, {"messages": ids})
    airflow.wait_for_state(DAG_ID, run_id, "deal", {"success"}, timeout=300)
    target = wait_until(
        lambda: _shard_to_kill(airflow, emulator, run_id, shard_of), 300, "a shard half done", every=1
    )
    victim = str(target["hostname"])
    at_kill = airflow.mapped_instances(DAG_ID, run_id, TASK_ID)
    airflow.kill(victim)  # SIGKILL: the worker, its pool and the task processes
    killed_at = time.time()  # the emulator's clock: its records' ``at``
    try:
        shards = {t["map_index"]: t for t in _shards(airflow, run_id)}
    finally:
        airflow.start(victim)  # back to two workers for what follows
    truth = _truth(emulator, ids)

    index = target["map_index"]
    survivor = next(w for w in WORKERS if w != victim)
    retries = sorted(i for i, t in shards.items() if t["try_number"] > 1)
    # The tries the kill caught: the victim's running shards (none failed before the kill).
    caught = sorted(t["map_index"] for t in at_kill if t["state"] == "running" and t["hostname"] == victim)
    shard_size = len(ids) // SHARDS
    retried = [
        r for r in emulator.requests() if r.at > killed_at and shard_of.get(r.message_id or 0) == index
    ]
    summary = _summary(airflow, run_id, index)
    table = _table(deployment)
    statuses = _statuses(table)  # each id once
    snapshots = [dict(s.summary.additional_properties) for s in table.snapshots()]
    by_shard = Counter(p.get("octopods.map-index") for p in snapshots)
    listing = deployment.s3.client().list_objects_v2(Bucket=WAREHOUSE_BUCKET)
    leftovers = [o["Key"] for o in listing.get("Contents", []) if PROGRESS in o["Key"]]
    run = airflow.api("GET", f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}").json()
    ended = max(_at(t["end_date"]) for t in shards.values())
    figures = {
        "command": "make integration PYTEST_ARGS='-k iceberg'",
        "messages": len(ids),
        "shards": SHARDS,
        "shard_hostnames_at_the_kill": dict(Counter(str(t["hostname"]) for t in at_kill)),
        "seconds_from_the_run_start_to_the_last_shard_end": round(ended - _at(run["start_date"]), 1),
        "seconds_from_the_kill_to_the_last_shard_end": round(ended - killed_at, 1),
        "killed_worker": victim,
        "killed_shard": index,
        "shards_running_on_the_killed_worker": caught,
        "shards_retried": retries,
        "retry": {
            "hostname": shards[index]["hostname"],
            "try_number": shards[index]["try_number"],
            "requests": len(retried),
            "resumed_rows": summary.get("resumed_rows"),
        },
        "table_rows": len(statuses),
        "snapshots": len(snapshots),
        "progress_objects_left": len(leftovers),
    }
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "iceberg_table.json").write_text(json.dumps(figures, indent=2))
    print(json.dumps(figures, indent=2))

    assert {t["state"] for t in shards.values()} == {"success"}, shards
    # 8 shards on workers of 6 slots: both had some when one was killed.
    assert set(figures["shard_hostnames_at_the_kill"]) == set(WORKERS), at_kill
    assert index in retries
    assert retries == caught, at_kill
    for i in retries:
        assert (shards[i]["try_number"], shards[i]["hostname"]) == (2, survivor), shards[i]
    # The retry resumed from the checkpoint on S3: it asked only for what was not in it.
    resumed = int(summary["resumed_rows"])
    assert resumed >= 50, summary
    assert len(retried) <= shard_size - resumed + 20, (len(retried), summary)
    assert statuses == truth  # every id, with the emulator's status
    assert Counter(statuses.values()) == {
        "delivered": PER_KIND,
        "read": PER_KIND,
        "failed": PER_KIND,
        "sent": PER_KIND,
    }
    # One snapshot a shard, each naming its task try: the killed try committed nothing.
    assert by_shard == {str(i): 1 for i in range(SHARDS)}, snapshots
    for props in snapshots:
        assert (props["octopods.dag-id"], props["octopods.run-id"], props["octopods.task-id"]) == (
            DAG_ID,
            run_id,
            TASK_ID,
        )
        shard = shards[int(props["octopods.map-index"])]
        assert props["octopods.try-number"] == str(shard["try_number"]), props
    assert leftovers == []
    # The Delivery view shows the run's day as of its last commit (8 shards, 8 commits), reading
    # the warehouse with the run's aws_conn_id: every message, by its status.
    [table_uri] = [
        s["uri"]
        for s in airflow.api("GET", VIEW + "api/snapshots").json()
        if s["uri"].startswith("iceberg://it_iceberg/")
    ]
    report = airflow.api("GET", VIEW + "api/report", params={"asset": table_uri, "run_id": run_id})
    assert report.status_code == 200, report.text
    funnel = {stage["stage"]: stage["messages"] for stage in report.json()["funnel"]}
    assert funnel == {
        "sent": PER_KIND,
        "delivered": PER_KIND,
        "read": PER_KIND,
        "failed": PER_KIND,
        "other": 0,
        "unknown": 0,
    }


def _statuses(table: Any) -> dict[int, str]:
    rows = table.scan(selected_fields=("message_id", "status")).to_arrow()
    ids = rows.column("message_id").to_pylist()
    assert len(ids) == len(set(ids)), "an id twice in the table"
    return dict(zip(ids, rows.column("status").to_pylist(), strict=True))


def test_shards_refreshing_at_once_rewrite_the_same_files_and_keep_each_row_once(
    deployment: Deployment,
) -> None:
    """After the first test: the sent ones are delivered meanwhile; 8 shards fetch again the
    rows not yet final (``id % 8`` each) and commit at once, each rewriting files of the one
    day's partition that the others rewrite too."""
    airflow, emulator = deployment.airflow, deployment.emulator
    before = _statuses(_table(deployment))
    for message_id, status in before.items():
        if status == "sent":
            emulator.set_status(message_id, "delivered")
    due = sorted(m for m, status in before.items() if status in ("sent", "delivered"))
    run_id = airflow.trigger(REFRESH_DAG_ID)
    shards = _shards(airflow, run_id, REFRESH_DAG_ID)
    # Each at its first try: a shard losing the commit race merges again, it does not fail.
    assert [(t["state"], t["try_number"]) for t in shards] == [("success", 1)] * SHARDS, shards
    summaries = [_summary(airflow, run_id, i, REFRESH_DAG_ID) for i in range(SHARDS)]
    table = _table(deployment)
    after = _statuses(table)
    ours = [
        dict(s.summary.additional_properties)
        for s in table.snapshots()
        if s.summary.additional_properties.get("octopods.run-id") == run_id
    ]
    figures = {
        "command": "make integration PYTEST_ARGS='-k iceberg'",
        "due_rows": len(due),
        "shards": [
            {k: s[k] for k in ("due_rows", "replaced", "files_added", "files_removed", "requests", "seconds")}
            for s in summaries
        ],
    }
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "iceberg_refresh.json").write_text(json.dumps(figures, indent=2))
    print(json.dumps(figures, indent=2))

    assert sum(s["due_rows"] for s in summaries) == sum(s["replaced"] for s in summaries) == len(due)
    assert after == _truth(emulator, sorted(before)), "not the emulator's statuses"
    assert Counter(after.values()) == {"delivered": 2 * PER_KIND, "read": PER_KIND, "failed": PER_KIND}
    assert sorted(p["octopods.map-index"] for p in ours) == [str(i) for i in range(SHARDS)], ours
