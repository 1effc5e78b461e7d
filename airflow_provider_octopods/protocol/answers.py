"""What came back: a body read once into an ``Answer`` (JSON cleaned of the key), and a 200's
status read from it, or the typed error of any other answer or of none."""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import msgspec

from airflow_provider_octopods.errors import OctopodsResponseError
from airflow_provider_octopods.protocol.refs import DIGITS, bounded_int
from airflow_provider_octopods.protocol.text import clean, secret_bytes, shorten, shown
from airflow_provider_octopods.status import TIMESTAMP_FIELDS, MessageStatus

# The error_code column of a snapshot is int32. A code outside 0..MAX_ERROR_CODE is no code the
# API documents: the error keeps error_code None (Parquet -1) and the server's text.
MAX_ERROR_CODE = 2**31 - 1
# The documented JSON is under 1 KB. A longer body is a response error and the rest of it is
# not read, so a proxy's page or an endless stream costs at most this much memory per request.
MAX_BODY_BYTES = 1 << 20


def _needs_cleaning(body: bytes, secret: str | None, strict: bool) -> bool:
    """Whether a decoded string of ``body`` may hold a lone surrogate or ``secret``.

    In UTF-8 with no escape (backslash) and no surrogate's lead byte (json decodes with
    surrogatepass), every decoded string is a slice of the body: the key is in a string only
    if the body has it. The documented answer is such a body; it skips the walk. A ``strict``
    body (read by msgspec) is UTF-8 with no surrogate at all.
    """
    if not strict and (json.detect_encoding(body) != "utf-8" or b"\xed" in body):
        return True
    if b"\\" in body:
        return True
    return secret is not None and any(form in body for form in secret_bytes(secret))


_STRICT_JSON = msgspec.json.Decoder()


def _json_of(body: bytes, secret: str | None) -> Any:
    """The JSON of ``body``, its strings cleaned where one may need it.

    Strict UTF-8 JSON, the documented answer, is read by msgspec, several times faster than
    json. What msgspec refuses (another encoding, NaN, lone surrogates, numbers past a float,
    control characters) json reads as before; where both read a body they give the same value
    (a property test holds them to it), so which bodies are read, and how, does not change.
    """
    try:
        data, strict = _STRICT_JSON.decode(body), True
    except (msgspec.MsgspecError, ValueError, RecursionError):
        data, strict = json.loads(body), False
    return _cleaned(data, secret) if _needs_cleaning(body, secret, strict) else data


def _cleaned(data: Any, secret: str | None) -> Any:
    """Decoded JSON with every string cleaned. Iterative: the depth json.loads allows would
    overflow a recursive walk."""
    root: list[Any] = [data]
    stack: list[tuple[Any, Any]] = [(root, 0)]
    while stack:
        holder, key = stack.pop()
        value = holder[key]
        if isinstance(value, str):
            holder[key] = clean(value, secret)
        elif isinstance(value, list):
            stack.extend((value, i) for i in range(len(value)))
        elif isinstance(value, dict):
            cleaned = {clean(k, secret): v for k, v in value.items()}
            holder[key] = cleaned
            stack.extend((cleaned, k) for k in cleaned)
    return root[0]


@dataclass(frozen=True)
class Answer:
    """What a server sent, read once: the JSON (None if the body is not JSON) and the text,
    both cleaned of the API key and of what no log or file can hold."""

    data: Any
    request_id: str | None
    body: bytes = field(repr=False)
    secret: str | None = field(repr=False)

    @classmethod
    def read(cls, headers: Mapping[str, str], body: bytes, secret: str | None) -> Answer:
        try:
            data = _json_of(body, secret)
        except (ValueError, UnicodeDecodeError, RecursionError):  # and Python's int digit limit
            data = None
        request_id = headers.get("X-Request-Id")
        return cls(
            data=data,
            request_id=clean(request_id, secret) if isinstance(request_id, str) else None,
            body=body,
            secret=secret,
        )

    @functools.cached_property
    def text(self) -> str:
        """The body as text, for an error: decoded only when an error needs it."""
        # Redacted before it is shortened: a cut must not leave half a key.
        return shorten(clean(self.body.decode("utf-8", "replace"), self.secret))


def parse_timestamp(value: Any) -> datetime | None:
    """An ISO-8601 text as an aware UTC datetime; ValueError for anything else, including a
    time that does not exist in UTC (year 1 with a positive offset)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"not a timestamp: {shown(value)}")
    try:
        parsed = datetime.fromisoformat(value.strip())
        # The API states UTC; a value without an offset is read as UTC, not local time.
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise ValueError(f"not a timestamp: {shown(value)}") from None


def _text(value: Any) -> str | None:
    """A documented text field: text, or a number written as text; None for null. A list or
    an object is not text (ValueError)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return shown(value)
    raise ValueError(shown(value))


def error_code_of(value: Any) -> int | None:
    """The server's ``error_code`` if it is one: an integer, or ASCII digits, in 0..MAX_ERROR_CODE."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if 0 <= value <= MAX_ERROR_CODE else None
    if isinstance(value, str) and DIGITS.fullmatch(value):
        return bounded_int(value, MAX_ERROR_CODE)
    return None


_TEXT_FIELDS = ("phone_number", "channel_message_id", "failure_reason", "request_id")


def status_of(answer: Answer, message_id: int) -> MessageStatus:
    """A 200's status; ``OctopodsResponseError`` if the body is not the documented JSON."""
    try:
        data, status = _checked_object(answer.data, message_id)
        try:
            stamps: dict[str, Any] = {name: parse_timestamp(data.get(name)) for name in TIMESTAMP_FIELDS}
        except ValueError as exc:
            raise _NotDocumented(f"an unreadable timestamp ({exc})") from None
        try:
            texts: dict[str, Any] = {name: _text(data.get(name)) for name in _TEXT_FIELDS}
        except ValueError as exc:
            raise _NotDocumented(f"a list or object where text belongs ({exc})") from None
    except _NotDocumented as why:
        raise OctopodsResponseError(
            f"Octopods answered 200 with {why}",
            http_status=200,
            error=answer.text,
            request_id=answer.request_id,
            message_id=message_id,
        ) from None
    texts["request_id"] = texts["request_id"] or answer.request_id
    return MessageStatus(message_id=message_id, status=status, raw=data, **texts, **stamps)


class _NotDocumented(ValueError):
    """What in a 200's body is not the documented JSON, in words."""


def _checked_object(data: Any, message_id: int) -> tuple[dict[str, Any], str]:
    """The body's JSON object and its status, for the message asked about."""
    if not isinstance(data, dict):
        raise _NotDocumented("a body that is not a JSON object")
    status = data.get("status")
    if not isinstance(status, str) or not status:
        raise _NotDocumented("no status")
    got_id = data.get("message_id")
    if not isinstance(got_id, (int, str)) or isinstance(got_id, bool) or str(got_id) != str(message_id):
        raise _NotDocumented(f"message_id {shown(got_id)} for a request about {message_id}")
    return data, status


def oversized(http_status: int, message_id: int | None) -> OctopodsResponseError:
    return OctopodsResponseError(
        f"Octopods answered HTTP {http_status} with a body over {MAX_BODY_BYTES} bytes; the rest "
        f"was not read",
        http_status=http_status,
        message_id=message_id,
    )
