"""Send a campaign, wait until every message is delivered or failed, then branch on failures.

One deferred sensor watches the whole batch: one request per still-pending message per round,
never one for a settled message. ``max_failed=None`` makes failed messages an outcome: the
sensor returns a summary (counts by status, the failed messages with their reasons) and the
DAG decides what a failure rate means.

    airflow dags test octopods_campaign --conf '{"count": 300}'

The send step is simulated against the local emulator the connection points at. When
``OCTOPODS_SEND_LOG_ROOT`` is set, it also appends the day's send log that
``octopods_daily_snapshot`` reads, as a real send step would log what it sent.
"""

from __future__ import annotations

import os
from typing import Any

from airflow.sdk import Param, dag, task

from airflow_provider_octopods.hooks.octopods import OctopodsHook
from airflow_provider_octopods.sensors.message_status import MessageStatusSensor

SEND_LOG = os.environ.get("OCTOPODS_SEND_LOG_ROOT")
FOLLOW_UP_ABOVE = 0.05  # a failure share above this needs a person to look


@dag(
    schedule=None,
    catchup=False,
    tags=["octopods", "example"],
    params={"count": Param(200, type="integer", minimum=1, description="Messages to send")},
    render_template_as_native_obj=True,
)
def octopods_campaign() -> None:
    @task
    def send_campaign(params: dict[str, Any], ds: str) -> list[int]:
        from airflow_provider_octopods.emulator.send import simulate_send

        settings = OctopodsHook(octopods_conn_id="octopods_default").get_settings()
        ids = [m["message_id"] for m in simulate_send(settings.base_url, settings.api_key, params["count"])]
        if SEND_LOG:
            from airflow.sdk import ObjectStoragePath

            log = ObjectStoragePath(f"{SEND_LOG}/{ds}.csv")
            log.parent.mkdir(parents=True, exist_ok=True)
            existing = log.read_text() if log.exists() else "message_id\n"
            log.write_text(existing + "".join(f"{m}\n" for m in ids))
        return ids

    # --8<-- [start:batch]
    settled = MessageStatusSensor(
        task_id="wait_for_campaign",
        message_ids="{{ ti.xcom_pull(task_ids='send_campaign') }}",
        target_status="delivered",
        max_failed=None,
        timeout=3600,
        deferrable=True,
    )
    # --8<-- [end:batch]

    @task.branch
    def check_failures(summary: dict[str, Any]) -> str:
        failed, total = summary["failed_count"], summary["messages"]
        print(f"{failed} of {total} messages failed")
        return "follow_up_failures" if failed > FOLLOW_UP_ABOVE * total else "campaign_ok"

    @task
    def follow_up_failures(summary: dict[str, Any]) -> dict[str, int]:
        """Failures by reason, among the failed messages the summary lists (the first 100)."""
        reasons: dict[str, int] = {}
        for failed in summary["failed"]:
            reasons[failed["failure_reason"]] = reasons.get(failed["failure_reason"], 0) + 1
        return reasons

    @task
    def campaign_ok() -> None:
        print("failures within the usual share")

    send_campaign() >> settled
    check_failures(settled.output) >> [follow_up_failures(settled.output), campaign_ok()]


octopods_campaign()
