"""Read WhatsApp message statuses with OctopodsHook: the smallest use of the provider.

Trigger it with the message ids (or message_status_urls) in the run's conf:
    airflow dags test octopods_read_status --conf '{"messages": [3851828, 3851829]}'
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import Param, dag, task

from airflow_provider_octopods.hooks.octopods import OctopodsHook


@dag(
    schedule=None,
    catchup=False,
    tags=["octopods", "example"],
    params={"messages": Param([], type="array", description="Message ids or message_status_urls")},
)
def octopods_read_status() -> None:
    @task
    def read_statuses(params: dict[str, Any]) -> list[dict[str, Any]]:
        hook = OctopodsHook(octopods_conn_id="octopods_default")
        return [hook.get_message_status(message).to_dict() for message in params["messages"]]

    @task
    def summarize(statuses: list[dict[str, Any]]) -> dict[str, int]:
        counts: dict[str, int] = {}
        for status in statuses:
            print(f"message {status['message_id']}: {status['status']}")
            counts[status["status"]] = counts.get(status["status"], 0) + 1
        return counts

    summarize(read_statuses())


octopods_read_status()
