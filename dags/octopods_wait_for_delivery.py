"""Send one WhatsApp message, wait until it is delivered, then go on: the sensor's main use.

The sensor defers: it waits in the triggerer, holding no worker slot, polling as the vendor
advises (a few seconds after the send, then less and less often). A message WhatsApp
rejects fails the wait at once, with its reason.

    airflow dags test octopods_wait_for_delivery

The send step here is simulated against the local emulator the connection points at; yours
returns the send response of Octopods' send API, with the same ``message_status_url``.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import dag, task

from airflow_provider_octopods.hooks.octopods import OctopodsHook
from airflow_provider_octopods.sensors.message_status import MessageStatusSensor


@dag(schedule=None, catchup=False, tags=["octopods", "example"])
def octopods_wait_for_delivery() -> None:
    @task
    def send() -> dict[str, Any]:
        from airflow_provider_octopods.emulator.send import simulate_send

        settings = OctopodsHook(octopods_conn_id="octopods_default").get_settings()
        [response] = simulate_send(settings.base_url, settings.api_key)
        return response  # {"message_id": ..., "message_status_url": ...}

    sent = send()
    # --8<-- [start:sensor]
    delivered = MessageStatusSensor(
        task_id="wait_for_delivery",
        message_id="{{ ti.xcom_pull(task_ids='send')['message_status_url'] }}",
        target_status="delivered",
        octopods_conn_id="octopods_default",
        timeout=2 * 3600,
        deferrable=True,
    )
    # --8<-- [end:sensor]

    @task
    def follow_up(status: dict[str, Any]) -> str:
        # Runs only once WhatsApp confirmed the message reached the device.
        return f"message {status['message_id']} delivered at {status['delivered_at'] or status['read_at']}"

    sent >> delivered
    follow_up(delivered.output)


octopods_wait_for_delivery()
