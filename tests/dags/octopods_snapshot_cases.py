"""DAGs the snapshot tests run with dag.test(): one per way of using the bulk operator."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from airflow.sdk import DAG, Param, task

from airflow_provider_octopods.operators.message_status import MessageStatusToParquetOperator
from airflow_provider_octopods.refresh import FixedRefresh

ROOT = os.environ.get("OCTOPODS_TEST_SNAPSHOT_ROOT", "file:///tmp/octopods-test-snapshots")
OUTPUT = ROOT + "/{{ params.case }}/snapshot_date={{ ds }}/"
PARAMS = {
    "case": Param("default", type="string"),
    "messages": Param([], type="array"),
    "path": Param("", type="string"),
    "previous": Param("", type="string"),
    "shards": Param(3, type="integer", minimum=1),
}
FAST: dict[str, Any] = {"max_requests_per_second": 5000, "max_concurrency": 32}
CASES: dict[str, dict[str, Any]] = {
    "snapshot_ids": {"message_ids": "{{ params.messages }}"},
    "snapshot_file": {"message_ids_path": "{{ params.path }}"},
    "snapshot_file_retried": {
        "message_ids_path": "{{ params.path }}",
        "retries": 2,
        "retry_delay": timedelta(0),
    },
    # Invalid inputs count towards max_error_ratio: a file with a few tolerates them.
    "snapshot_file_tolerant": {"message_ids_path": "{{ params.path }}", "max_error_ratio": 0.5},
    "snapshot_ids_tolerant": {"message_ids": "{{ params.messages }}", "max_error_ratio": 0.5},
    "snapshot_strict": {"message_ids": "{{ params.messages }}", "strict": True},
    "snapshot_incremental": {
        "message_ids": "{{ params.messages }}",
        "previous_snapshot_path": "{{ params.previous }}",
    },
    "snapshot_terminal_only": {
        "message_ids": "{{ params.messages }}",
        "previous_snapshot_path": "{{ params.previous }}",
        "refresh_policy": FixedRefresh(factor=0, floor=timedelta(0)),
    },
    "snapshot_auto_incremental": {"message_ids": "{{ params.messages }}", "incremental": True},
    "snapshot_full_refresh": {
        "message_ids": "{{ params.messages }}",
        "incremental": True,
        "full_refresh": True,
    },
    "snapshot_ms_tolerant": {
        "message_ids": "{{ params.messages }}",
        "timestamp_unit": "ms",
        "max_error_ratio": 0.5,
    },
    "snapshot_no_empty_file": {"message_ids": "{{ params.messages }}", "write_empty_file": False},
    # More ids than a fetch batch (8,192): row groups are written while it still fetches.
    "snapshot_row_groups": {"message_ids_path": "{{ params.path }}", "row_group_rows": 1000},
    # A user's budget: slow enough for an outage to strike mid-run.
    "snapshot_outage": {"message_ids": "{{ params.messages }}", "max_requests_per_second": 20},
    # Retries allowed: what cannot succeed must still run one try only.
    "snapshot_retried": {"message_ids": "{{ params.messages }}", "retries": 2, "retry_delay": timedelta(0)},
    # Pieces of 500 rows; a try whose worker dies is retried at once.
    "snapshot_durable": {
        "message_ids_path": "{{ params.path }}",
        "checkpoint_rows": 500,
        "retries": 1,
        "retry_delay": timedelta(0),
    },
}

for dag_id, kwargs in CASES.items():
    with DAG(dag_id, schedule=None, params=PARAMS, render_template_as_native_obj=True) as dag:
        MessageStatusToParquetOperator(task_id="snapshot", output_path=OUTPUT, **{**FAST, **kwargs})
    globals()[dag_id] = dag


with DAG(
    "snapshot_mapped", schedule=None, params=PARAMS, render_template_as_native_obj=True
) as snapshot_mapped:

    @task
    def shards(params: dict[str, Any]) -> list[list[int]]:
        messages, count = params["messages"], params["shards"]
        return [messages[i::count] for i in range(count)]

    MessageStatusToParquetOperator.partial(task_id="snapshot", output_path=OUTPUT, **FAST).expand(
        message_ids=shards()
    )
