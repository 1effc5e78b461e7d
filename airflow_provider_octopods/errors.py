"""Typed errors of the Octopods provider.

Every error carries what the server said (HTTP status, ``error_code``, ``error`` text,
``request_id``) so that a failed task's log is enough to open a ticket with Octopods.
None of them ever holds the API key.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar, Self

from airflow.sdk.exceptions import AirflowException, AirflowFailException

# What a server said about a refused request: every typed error may carry these.
SERVER_FIELDS = ("http_status", "error_code", "error", "request_id", "message_id")


class ErrorAction(StrEnum):
    """What a failed status query means for a wait."""

    END_WAIT = "end_wait"  # no other query of this wait can succeed: the wait fails
    FAIL_MESSAGE = "fail_message"  # about this message only: it settles as failed
    RETRY_LATER = "retry_later"  # passing: the message is polled again at its next slot


class OctopodsError(AirflowException):
    """Base class. ``action``: what the error means for a wait, decided once per class (see
    ``error_action``); ``retryable`` follows from it: the same request may succeed if sent again."""

    action: ClassVar[ErrorAction] = ErrorAction.END_WAIT

    @property
    def retryable(self) -> bool:
        return self.action is ErrorAction.RETRY_LATER

    def __init__(
        self,
        summary: str,
        *,
        http_status: int | None = None,
        error_code: int | None = None,
        error: str | None = None,
        request_id: str | None = None,
        message_id: int | None = None,
    ) -> None:
        self.summary = summary
        self.http_status = http_status
        self.error_code = error_code
        self.error = error
        self.request_id = request_id
        self.message_id = message_id
        super().__init__(summary)

    def __str__(self) -> str:
        details = [
            f"{name}={value}"
            for name, value in (
                ("message_id", self.message_id),
                ("http_status", self.http_status),
                ("error_code", self.error_code),
                ("error", repr(self.error) if self.error is not None else None),
                ("request_id", self.request_id),
            )
            if value is not None
        ]
        return f"{self.summary} ({', '.join(details)})" if details else self.summary

    @classmethod
    def from_dict(cls, fields: Mapping[str, Any]) -> Self:
        """The error back from ``to_dict()``: each class reads back what it wrote."""
        known = {name: fields.get(name) for name in SERVER_FIELDS}
        summary = str(fields.get("summary") or "the trigger failed")
        return cls(summary, **known, **cls._own_fields(fields))

    @classmethod
    def _own_fields(cls, fields: Mapping[str, Any]) -> dict[str, Any]:
        return {}

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able fields, e.g. for a trigger event or a Parquet error row."""
        return {
            "type": type(self).__name__,
            "summary": self.summary,
            "http_status": self.http_status,
            "error_code": self.error_code,
            "error": self.error,
            "request_id": self.request_id,
            "message_id": self.message_id,
        }


class OctopodsConfigError(OctopodsError, AirflowFailException, ValueError):
    """The connection or the task cannot be used as configured (no API key, a key an HTTP
    header cannot carry, a bad base URL or extra, a shared budget that cannot be used, an
    output that cannot be written). Found before anything is sent; not retried: only a
    change of configuration helps."""


class InvalidMessageReference(OctopodsError, AirflowFailException, ValueError):
    """A message id or ``message_status_url`` refused before any request was sent. Not retried:
    the same input is refused again."""

    action = ErrorAction.FAIL_MESSAGE


class OctopodsInputError(OctopodsError, AirflowFailException, ValueError):
    """An input file of message ids that is missing or cannot be read as one (no ``message_id``
    column, not CSV or Parquet). Not retried: the same file is refused again."""


class OctopodsTableError(OctopodsError):
    """The Iceberg catalog could not be reached, or a commit to the table lost to other writers
    every time it was tried. Retried as a task: the fetched rows wait in the checkpoint."""


class OctopodsAuthError(OctopodsError, AirflowFailException):
    """The API key was refused (rotated or revoked: error code 6, or HTTP 401/403). Never retried,
    not even as a task retry: only a new key in the connection helps."""


class OctopodsRequestError(OctopodsError):
    """The server refused this request (e.g. message not found). Sending it again will not help."""

    action = ErrorAction.FAIL_MESSAGE


class OctopodsRateLimitError(OctopodsError):
    """HTTP 429 that outlasted the allowed wait. ``retry_at`` is when the server allows the next call."""

    action = ErrorAction.RETRY_LATER

    def __init__(self, summary: str, *, retry_at: datetime | None = None, **fields: Any) -> None:
        super().__init__(summary, **fields)
        self.retry_at = retry_at

    @classmethod
    def _own_fields(cls, fields: Mapping[str, Any]) -> dict[str, Any]:
        return {"retry_at": _datetime_or_none(fields.get("retry_at"))}

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["retry_at"] = self.retry_at.isoformat() if self.retry_at else None
        return out


class OctopodsServerError(OctopodsError):
    """HTTP 5xx, still failing when the retries were spent."""

    action = ErrorAction.RETRY_LATER


class OctopodsResponseError(OctopodsError):
    """A body that is not the documented JSON (a proxy's HTML page, truncated JSON, wrong message)."""

    action = ErrorAction.RETRY_LATER


class OctopodsConnectionError(OctopodsError):
    """No usable answer: ``kind`` is ``timeout``, ``unreachable`` or ``dropped``."""

    action = ErrorAction.RETRY_LATER

    def __init__(self, summary: str, *, kind: str, **fields: Any) -> None:
        super().__init__(summary, **fields)
        self.kind = kind

    @classmethod
    def _own_fields(cls, fields: Mapping[str, Any]) -> dict[str, Any]:
        return {"kind": str(fields.get("kind"))}

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["kind"] = self.kind
        return out


class OctopodsTLSError(OctopodsConnectionError):
    """The server's certificate was not accepted. Not retried: it will not change by itself."""

    action = ErrorAction.END_WAIT


class MessageFailedError(AirflowFailException):
    """WhatsApp rejected the message(s) a sensor waited for. A task retry cannot change that."""


class OctopodsTriggerError(OctopodsError):
    """The trigger stopped on an unexpected error, or sent an event the sensor cannot read."""


def error_action(error: BaseException) -> ErrorAction:
    """The one rule, in every mode (deferrable, poke, reschedule), for an error of one query.

    A refused key or a refused certificate concerns every request of the connection; a refused
    request (message not found) or a refused reference concerns that message; what is
    ``retryable`` passes. Anything else is not ours to guess about: it ends the wait.
    """
    return error.action if isinstance(error, OctopodsError) else ErrorAction.END_WAIT


def _error_classes(cls: type[OctopodsError]) -> list[type[OctopodsError]]:
    return [cls, *(c for sub in cls.__subclasses__() for c in _error_classes(sub))]


def error_from_dict(fields: Mapping[str, Any]) -> OctopodsError:
    """The typed error back from ``to_dict()`` (a trigger event), for the task to raise.
    A type this version does not know comes back as ``OctopodsTriggerError``."""
    by_name = {c.__name__: c for c in _error_classes(OctopodsError)}
    return by_name.get(str(fields.get("type")), OctopodsTriggerError).from_dict(fields)


def _datetime_or_none(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None
