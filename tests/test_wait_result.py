"""What a finished wait puts in XCom, in the trigger event and in the task's resume arguments:
bounded whatever the batch size."""

from __future__ import annotations

import json

import pytest
from airflow.sdk import serde

from airflow_provider_octopods.status import MessageStatus
from airflow_provider_octopods.triggers.message_status import MessageStatusTrigger
from airflow_provider_octopods.wait.engine import WaitEnd
from airflow_provider_octopods.wait.policy import PollPolicy
from airflow_provider_octopods.wait.result import MAX_FAILED_LISTED, final_result
from airflow_provider_octopods.wait.watch import BatchWatch

LIMIT = 100_000


def settled_batch(count: int) -> BatchWatch:
    """``count`` messages, every other one failed with a long reason, all fields filled."""
    ids = list(range(10**12, 10**12 + count))
    watch = BatchWatch(ids, "delivered", PollPolicy(), started_at=0.0, now=0.0, deadline=3600.0)
    for message_id in ids:
        failed = message_id % 2 == 0
        status = MessageStatus(
            message_id=message_id,
            status="failed" if failed else "delivered",
            phone_number="+4915112345678",
            channel_message_id="wamid.HBgLNDkxNTExMjM0NTY3OBUCABIYFDNBMDI0RjM3",
            failure_reason="x" * 2_000 if failed else None,
            request_id="req-0123456789abcdef0123456789abcdef",
        )
        watch.record(status, 10.0)
    return watch


@pytest.mark.parametrize("count", [1_000, 10_000])
def test_summary_event_and_resume_arguments_stay_under_100_kb(count: int) -> None:
    watch = settled_batch(count)
    summary = final_result(watch, single=False, statuses_path=None)
    assert summary is not None
    assert summary["counts"] == {"delivered": count // 2, "failed": count // 2}
    assert len(summary["failed"]) == MAX_FAILED_LISTED and summary["failed_count"] == count // 2
    # XCom and the resume arguments go through Airflow's serde; measure what it produces.
    assert len(json.dumps(serde.serialize(summary))) < LIMIT
    trigger = MessageStatusTrigger(
        message_ids=watch.order, target_status="delivered", deadline=0, started_at=0
    )
    event = trigger._event(watch, WaitEnd.SUCCESS, watch.failure_text(None))
    assert len(json.dumps(serde.serialize({"event": event}))) < LIMIT


def test_single_message_returns_its_whole_status() -> None:
    watch = settled_batch(1)
    result = final_result(watch, single=True, statuses_path=None)
    assert result == watch.failed[10**12]
