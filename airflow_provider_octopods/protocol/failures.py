"""The typed error of an answer other than a 200, and of a request that got no answer."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from airflow_provider_octopods.errors import (
    OctopodsAuthError,
    OctopodsConnectionError,
    OctopodsError,
    OctopodsRateLimitError,
    OctopodsRequestError,
    OctopodsServerError,
    OctopodsTLSError,
)
from airflow_provider_octopods.protocol.answers import Answer, error_code_of
from airflow_provider_octopods.protocol.rate_limit import rate_limit_delay
from airflow_provider_octopods.protocol.text import clean, shorten

ERROR_CODE_KEY_REVOKED = 6


class NoAnswer(StrEnum):
    """Why a request got no answer, as the drivers report it to ``StatusCall.fail``; the value is
    ``OctopodsConnectionError.kind``."""

    TIMEOUT = "timeout"  # no answer within the connection's timeout
    UNREACHABLE = "unreachable"  # no connection could be opened
    DROPPED = "dropped"  # the connection closed before a whole answer came
    TLS = "tls"  # the host's certificate was refused


def error_for(
    http_status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    message_id: int | None,
    conn_id: str,
    now: float,
    secret: str | None = None,
) -> OctopodsError:
    """The typed error for any answer but a 200."""
    return error_of(http_status, headers, Answer.read(headers, body, secret), message_id, conn_id, now)


def error_of(
    http_status: int,
    headers: Mapping[str, str],
    answer: Answer,
    message_id: int | None,
    conn_id: str,
    now: float,
) -> OctopodsError:
    data = answer.data if isinstance(answer.data, dict) else {}
    code = error_code_of(data.get("error_code"))
    error, request_id = (data.get(name) for name in ("error", "request_id"))
    fields: dict[str, Any] = {
        "http_status": http_status,
        "error_code": code,
        "error": (error if isinstance(error, str) and error else answer.text) or None,
        "request_id": (request_id if isinstance(request_id, str) else None) or answer.request_id,
        "message_id": message_id,
    }
    if code == ERROR_CODE_KEY_REVOKED or http_status in (401, 403):
        return _key_refused(code, conn_id, fields)
    if http_status == 429:
        delay = rate_limit_delay(headers, data, now)
        retry_at = datetime.fromtimestamp(now + delay, UTC) if delay is not None else None
        return OctopodsRateLimitError("Octopods rate limit reached (HTTP 429)", retry_at=retry_at, **fields)
    if http_status >= 500:
        return OctopodsServerError(f"Octopods server error (HTTP {http_status})", **fields)
    what = (
        "the message was not found or the request is malformed" if http_status == 400 else "unexpected answer"
    )
    return OctopodsRequestError(f"Octopods refused the request: {what}", **fields)


def _key_refused(code: int | None, conn_id: str, fields: dict[str, Any]) -> OctopodsAuthError:
    # Code 6 is the vendor's word for a key that was rotated or revoked; a bare 401 or 403
    # cannot tell that from a key mistyped or pasted from another account.
    why = (
        "it has been rotated or revoked"
        if code == ERROR_CODE_KEY_REVOKED
        else "it is mistyped, or it has been rotated or revoked"
    )
    return OctopodsAuthError(
        f"Octopods refused the API key of connection {conn_id!r}: {why}. Put the current "
        f"WhatsApp Business API key in that connection's password",
        **fields,
    )


# What OpenSSL says when the peer answered a TLS hello in plain HTTP (1.1, 3.0 and 3.2+ words).
_PLAIN_HTTP_PEER = re.compile(
    r"wrong.version.number|record.layer.failure|packet.length.too.long|http.request", re.IGNORECASE
)
_TRANSPORT_SUMMARIES = {
    NoAnswer.TIMEOUT: "Octopods did not answer in time",
    NoAnswer.UNREACHABLE: "Octopods could not be reached",
    NoAnswer.DROPPED: "the connection to Octopods dropped before a whole answer came",
    NoAnswer.TLS: "the TLS certificate of the Octopods host was not accepted",
}


def transport_error(
    kind: NoAnswer,
    detail: str,
    message_id: int | None,
    secret: str | None = None,
    *,
    where: str | None = None,
) -> OctopodsConnectionError:
    """The typed error of a request that got no answer; ``where`` is the origin it went to."""
    summary = _TRANSPORT_SUMMARIES[kind]
    if kind is NoAnswer.TLS and _PLAIN_HTTP_PEER.search(detail):
        summary = (
            "the host answered in plain HTTP where TLS was expected: does the base URL say "
            "https:// for a server that speaks http://?"
        )
    if where:
        summary = f"{summary} ({where})"
    cls = OctopodsTLSError if kind is NoAnswer.TLS else OctopodsConnectionError
    return cls(f"{summary}: {shorten(clean(detail, secret))}", kind=kind, message_id=message_id)
