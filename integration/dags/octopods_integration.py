"""DAGs the integration suite triggers on the real deployment."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from airflow.sdk import DAG, task

from airflow_provider_octopods.operators.message_status import MessageStatusToParquetOperator, asset_for
from airflow_provider_octopods.operators.message_status_iceberg import (
    MessageStatusToIcebergOperator,
    table_asset,
)
from airflow_provider_octopods.refresh import FixedRefresh
from airflow_provider_octopods.sensors.message_status import MessageStatusSensor

# Polling fast enough for a test to watch it; the policy is the same code as the defaults.
FAST = {"poke_interval": 1.0, "max_poke_interval": 2.0, "first_poke_delay": 0.5, "deferrable": True}
SNAPSHOTS = os.environ.get("IT_SNAPSHOT_ROOT", "file:///tmp/octopods-it/statuses")
STATUSES = asset_for(SNAPSHOTS + "/snapshot_date={{ ds }}/")

for dag_id, kwargs in {
    "it_wait": {"timeout": 600},
    "it_wait_short": {"timeout": 40},
}.items():
    # A hundred runs wait at once in the load test: far above Airflow's default 16.
    with DAG(dag_id, schedule=None, catchup=False, max_active_runs=200, max_active_tasks=200) as dag:
        MessageStatusSensor(task_id="wait", message_id="{{ dag_run.conf['message'] }}", **FAST, **kwargs)
    globals()[dag_id] = dag

with DAG("it_batch", schedule=None, catchup=False, render_template_as_native_obj=True) as it_batch:
    MessageStatusSensor(
        task_id="wait",
        message_ids="{{ dag_run.conf['messages'] }}",
        max_failed=None,
        timeout=1800,
        poke_interval=5.0,
        max_poke_interval=20.0,
        first_poke_delay=2.0,
        max_concurrency=50,
        deferrable=True,
    )

with DAG("it_snapshot", schedule=None, catchup=False, render_template_as_native_obj=True) as it_snapshot:
    MessageStatusToParquetOperator(
        task_id="snapshot",
        message_ids="{{ dag_run.conf['messages'] }}",
        output_path=SNAPSHOTS + "/snapshot_date={{ ds }}/",
        outlets=[STATUSES],
    )

with DAG("it_snapshot_consumer", schedule=[STATUSES], catchup=False) as it_snapshot_consumer:

    @task
    def consume(triggering_asset_events: Any = None) -> list[dict[str, Any]]:
        return [dict(event.extra) for event in triggering_asset_events[STATUSES]]

    consume()

# --8<-- [start:scale]
SHARDS = 8
SCALE = {"octopods_conn_id": "octopods_scale"}  # one connection, its budget shared by all below

with DAG("it_scale_snapshot", schedule=None, catchup=False) as it_scale_snapshot:

    @task
    def split(dag_run: Any = None) -> list[list[int]]:
        messages = dag_run.conf["messages"]
        return [messages[i::SHARDS] for i in range(SHARDS)]

    # Each shard paces at the budget / 8; the shared budget holds them and the sensors to it.
    MessageStatusToParquetOperator.partial(
        task_id="snapshot",
        output_path=SNAPSHOTS + "/scale/run={{ run_id }}/",
        max_concurrency=20,
        retries=1,  # a shard whose worker dies runs again, on any worker, and resumes
        retry_delay=timedelta(seconds=1),
        checkpoint_rows=500,  # a piece committed every 500 rows: what a retry need not fetch
        **SCALE,
    ).expand(message_ids=split())
# --8<-- [end:scale]

# Sensors polling beside the snapshot: mapped in one run, deferred into both triggerers.
with DAG("it_scale_sensors", schedule=None, catchup=False, max_active_tasks=400) as it_scale_sensors:

    @task
    def waiting(dag_run: Any = None) -> list[int]:
        return list(dag_run.conf["messages"])

    MessageStatusSensor.partial(
        task_id="wait",
        poke_interval=5.0,
        max_poke_interval=10.0,
        first_poke_delay=0.5,
        deferrable=True,
        timeout=1800,
        **SCALE,
    ).expand(message_id=waiting())

# One Iceberg table of current statuses: its catalog on PostgreSQL, its warehouse on S3, and 8
# shards on both workers committing to it at once.
ICEBERG = {
    "table": "octopods.message_statuses",
    "iceberg_conn_id": "it_iceberg",
    "aws_conn_id": "it_s3",  # the warehouse's keys, and the checkpoint's beside the table
    "max_requests_per_second": 96.0,  # 12 per shard: a shard of 200 messages takes about 17 s
    "retries": 1,  # a shard whose worker dies runs again, on any worker, and resumes
    "retry_delay": timedelta(seconds=1),
    "checkpoint_rows": 50,
    # A mapped task's outlets come from partial(): its shards' Asset events (the Delivery view).
    "outlets": [table_asset("it_iceberg", "octopods.message_statuses")],
}

with DAG("it_iceberg_table", schedule=None, catchup=False) as it_iceberg_table:

    @task
    def deal(dag_run: Any = None) -> list[list[int]]:
        messages = dag_run.conf["messages"]
        return [messages[i::SHARDS] for i in range(SHARDS)]

    MessageStatusToIcebergOperator.partial(task_id="table", **ICEBERG).expand(message_ids=deal())

with DAG("it_iceberg_refresh", schedule=None, catchup=False) as it_iceberg_refresh:
    # No new ids: each shard fetches again its share (id % 8) of the rows not yet final, and
    # rewrites the files holding them while the others do the same.
    MessageStatusToIcebergOperator.partial(
        task_id="table", refresh_policy=FixedRefresh(factor=0, floor=timedelta(0)), **ICEBERG
    ).expand(message_ids=[[] for _ in range(SHARDS)])
