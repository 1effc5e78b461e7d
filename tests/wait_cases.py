"""What the wait tests share: a policy's poll times until a change, and a status to record."""

from __future__ import annotations

from airflow_provider_octopods.status import MessageStatus
from airflow_provider_octopods.wait.policy import PollPolicy


def polls_until(policy: PollPolicy, change_at: float) -> list[float]:
    """The poll times of one message whose status changes at ``change_at``, up to detection."""
    times, elapsed = [], 0.0
    while True:
        at, _ = policy.schedule(elapsed)
        times.append(at)
        if at >= change_at:
            return times
        elapsed = at


def _status(message_id: int, status: str, reason: str | None = None) -> MessageStatus:
    return MessageStatus(
        message_id=message_id, status=status, failure_reason=reason, request_id=f"r{message_id}"
    )
