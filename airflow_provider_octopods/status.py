"""The status of one WhatsApp message, and what each status value means for waiting on it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

SENT = "sent"
DELIVERED = "delivered"
READ = "read"
FAILED = "failed"

# The one table of what a status value means. Rank orders the delivery stages
# (sent < delivered < read); a message never moves back, and WhatsApp implies delivery on
# read, so "has reached a stage" is a rank comparison. Unknown values rank 0: still waiting.
_RANK: Mapping[str, int] = {SENT: 1, DELIVERED: 2, READ: 3}
# Nothing can follow these: `read` is the last stage, `failed` is a rejection.
TERMINAL_STATUSES: frozenset[str] = frozenset({READ, FAILED})
KNOWN_STATUSES: frozenset[str] = frozenset(_RANK) | {FAILED}
# What a sensor may wait for.
TARGET_STATUSES: tuple[str, ...] = (DELIVERED, READ)

TIMESTAMP_FIELDS: tuple[str, ...] = ("sent_at", "delivered_at", "read_at")


class Outcome(StrEnum):
    """What a status means for a wait on a target status."""

    WAITING = "waiting"
    MET = "met"
    FAILED = "failed"


# Status x target -> outcome, for every known status. `read` meets `delivered` (WhatsApp
# implies delivery on read); a status not in the table keeps the wait going.
OUTCOMES: Mapping[tuple[str, str], Outcome] = {
    (SENT, DELIVERED): Outcome.WAITING,
    (DELIVERED, DELIVERED): Outcome.MET,
    (READ, DELIVERED): Outcome.MET,
    (FAILED, DELIVERED): Outcome.FAILED,
    (SENT, READ): Outcome.WAITING,
    (DELIVERED, READ): Outcome.WAITING,
    (READ, READ): Outcome.MET,
    (FAILED, READ): Outcome.FAILED,
}


def check_target(target: str) -> str:
    """``target`` if a wait may wait for it (a delivery stage); ValueError otherwise."""
    if target not in TARGET_STATUSES:
        raise ValueError(f"target_status must be one of {TARGET_STATUSES}, not {target!r}")
    return target


def outcome(status: str, target: str) -> Outcome:
    return OUTCOMES.get((status, check_target(target)), Outcome.WAITING)


def rank(status: str) -> int:
    """Position of ``status`` in sent < delivered < read; 0 for failed and unknown values."""
    return _RANK.get(status, 0)


@dataclass(frozen=True, slots=True)
class MessageStatus:
    """One message's status as the API reported it.

    ``status`` is kept exactly as received, so a value Octopods adds later is not lost;
    ``raw`` is the whole decoded body, extra fields included.
    """

    message_id: int
    status: str
    phone_number: str | None = None
    channel_message_id: str | None = None
    sent_at: datetime | None = None
    delivered_at: datetime | None = None
    read_at: datetime | None = None
    failure_reason: str | None = None
    request_id: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def is_terminal(self) -> bool:
        """True when no later status can follow (``read`` or ``failed``)."""
        return self.status in TERMINAL_STATUSES

    @property
    def is_failed(self) -> bool:
        return self.status == FAILED

    @property
    def is_known(self) -> bool:
        return self.status in KNOWN_STATUSES

    def has_reached(self, stage: str) -> bool:
        """True when the message is at ``stage`` or beyond it (``read`` has reached ``delivered``)."""
        target = rank(stage)
        if target == 0:
            raise ValueError(f"{stage!r} is not a delivery stage; use one of {sorted(_RANK)}")
        return rank(self.status) >= target

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data (timestamps as ISO-8601 UTC), e.g. for XCom."""
        out: dict[str, Any] = {
            "message_id": self.message_id,
            "status": self.status,
            "phone_number": self.phone_number,
            "channel_message_id": self.channel_message_id,
            "failure_reason": self.failure_reason,
            "request_id": self.request_id,
        }
        for name in TIMESTAMP_FIELDS:
            value: datetime | None = getattr(self, name)
            out[name] = value.isoformat() if value else None
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MessageStatus:
        """Back from ``to_dict()``."""

        def stamp(name: str) -> datetime | None:
            return datetime.fromisoformat(data[name]) if data.get(name) else None

        return cls(
            message_id=int(data["message_id"]),
            status=str(data["status"]),
            phone_number=data.get("phone_number"),
            channel_message_id=data.get("channel_message_id"),
            sent_at=stamp("sent_at"),
            delivered_at=stamp("delivered_at"),
            read_at=stamp("read_at"),
            failure_reason=data.get("failure_reason"),
            request_id=data.get("request_id"),
        )
