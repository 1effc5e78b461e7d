"""DAGs the Iceberg tests run with dag.test(): one per way of using the table operator."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import DAG, Param

from airflow_provider_octopods.operators.message_status_iceberg import MessageStatusToIcebergOperator

PARAMS = {
    "case": Param("default", type="string"),
    "messages": Param([], type="array"),
    "table": Param("octopods.message_statuses", type="string"),
}
FAST: dict[str, Any] = {"max_requests_per_second": 5000, "max_concurrency": 32}
CASES: dict[str, dict[str, Any]] = {
    "iceberg_ids": {"message_ids": "{{ params.messages }}", "max_error_ratio": 0.5},
    "iceberg_retried": {"message_ids": "{{ params.messages }}", "retries": 2, "retry_delay": timedelta(0)},
    "iceberg_s3": {"message_ids": "{{ params.messages }}", "aws_conn_id": "aws_warehouse"},
    "iceberg_other_table": {"message_ids": "{{ params.messages }}", "table": "octopods.other"},
    "iceberg_full_refresh": {
        "message_ids": "{{ params.messages }}",
        "full_refresh": True,
        "max_error_ratio": 0.5,
    },
}


def _case(dag_id: str, options: dict[str, Any]) -> DAG:
    with DAG(dag_id, schedule=None, params=PARAMS, catchup=False, tags=["octopods", "test"]) as dag:
        arguments = {"table": "octopods.message_statuses", **FAST, **options}
        MessageStatusToIcebergOperator(task_id="table", **arguments)
    return dag


for _dag_id, _options in CASES.items():
    globals()[_dag_id] = _case(_dag_id, _options)
