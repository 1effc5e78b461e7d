"""Wait until a WhatsApp message is delivered, then go on: the sensor's main use.

The sensor defers: it waits in the triggerer, holding no worker slot, polling as the vendor
advises (a few seconds after the send, then less and less often). A message WhatsApp
rejects fails the wait at once with its reason.

    airflow dags test octopods_wait_for_delivery --conf '{"message": 3851828}'

``message`` is the id or the ``message_status_url`` of the send response; in a real DAG it
comes from the send task's XCom, e.g. ``"{{ ti.xcom_pull('send')['message_status_url'] }}"``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import Param, dag, task

from airflow_provider_octopods.sensors.message_status import MessageStatusSensor


@dag(
    schedule=None,
    catchup=False,
    tags=["octopods", "example"],
    params={"message": Param(3851828, type=["integer", "string"], description="Message id or status URL")},
)
def octopods_wait_for_delivery() -> None:
    delivered = MessageStatusSensor(
        task_id="wait_for_delivery",
        message_id="{{ params.message }}",
        target_status="delivered",
        octopods_conn_id="octopods_default",
        timeout=timedelta(hours=2).total_seconds(),
    )

    @task
    def follow_up(status: dict[str, Any]) -> str:
        # Runs only once WhatsApp confirmed the message reached the device.
        return f"message {status['message_id']} delivered at {status['delivered_at'] or status['read_at']}"

    follow_up(delivered.output)


octopods_wait_for_delivery()
