"""DAGs the Delivery view's tests run with dag.test(): two DAGs publishing one snapshot Asset,
one of them kept from a user (tests/view_cases.py). A file of their own, with a root of its
own: on Airflow 3.2, dag.test() registers the Assets of a DAG file as its first run in the
process had them, and other tests run the snapshot cases with roots of theirs."""

from __future__ import annotations

import os

from airflow.sdk import DAG, Param

from airflow_provider_octopods.operators.message_status import MessageStatusToParquetOperator

ROOT = os.environ.get("OCTOPODS_VIEW_ROOT", "file:///tmp/octopods-view-test")

for dag_id in ("view_days", "view_hidden_days"):
    with DAG(
        dag_id,
        schedule=None,
        params={"messages": Param([], type="array")},
        render_template_as_native_obj=True,
    ) as dag:
        MessageStatusToParquetOperator(
            task_id="snapshot",
            message_ids="{{ params.messages }}",
            output_path=ROOT + "/{{ dag.dag_id }}/snapshot_date={{ ds }}/",  # one Asset: ROOT
            max_requests_per_second=5000,
            max_concurrency=32,
        )
    globals()[dag_id] = dag
