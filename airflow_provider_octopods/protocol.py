"""Every rule of the message-status endpoint, with no I/O.

The sync (requests) and async (aiohttp) clients are thin drivers over this module: they send
``call.request`` and hand what came back to ``call.receive()`` (or a transport failure to
``call.fail()``), which returns the parsed status, or how long to wait before sending again,
or raises the typed error. Nothing here opens a socket or sleeps.

Contract: ``shared/octopods-api`` (the vendor's page and how we read its open points).
"""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_octopods.connection_type import DEFAULT_BASE_URL
from airflow_provider_octopods.errors import (
    InvalidMessageReference,
    OctopodsAuthError,
    OctopodsConnectionError,
    OctopodsError,
    OctopodsRateLimitError,
    OctopodsRequestError,
    OctopodsResponseError,
    OctopodsServerError,
    OctopodsTLSError,
)
from airflow_provider_octopods.status import TIMESTAMP_FIELDS, MessageStatus

STATUS_PATH = "/api/v1/whatsapp/messages/"
AUTH_HEADER = "X-Octopods-Auth"
ERROR_CODE_KEY_REVOKED = 6
MAX_MESSAGE_ID = 2**63 - 1  # int64 everywhere downstream (XCom, Parquet)

# Added to every wait the server asked for: asyncio may wake a timer up to its clock
# resolution early, and an HTTP Date is truncated to the second.
RATE_LIMIT_MARGIN = 0.05
_RETRY_BODY_FIELDS = ("retry_at", "retry_after", "reset_at")
_DATE_RESOLUTION = 1.0  # an HTTP Date has whole seconds
# A bare number below this is a relative delay in seconds, above it a Unix timestamp.
_EPOCH_THRESHOLD = 1_000_000_000
_DIGITS = re.compile(r"[0-9]+")
_SNIPPET = 200

# Transport failure kinds the drivers report to ``StatusCall.fail``.
TIMEOUT = "timeout"
UNREACHABLE = "unreachable"
DROPPED = "dropped"
TLS = "tls"


# --- where requests go ----------------------------------------------------------------


def normalize_base_url(host: str | None) -> str:
    """The connection's host as ``scheme://host[:port][/prefix]``, no trailing slash.

    A bare host name gets ``https://``; an empty host is the Octopods default.
    """
    raw = (host or "").strip() or DEFAULT_BASE_URL
    if "://" not in raw:
        raw = f"https://{raw}"
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"The Octopods base URL must be an http(s) URL, got {host!r}")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ValueError("The Octopods base URL must not carry credentials, a query or a fragment")
    return f"{parts.scheme}://{parts.netloc.lower()}{parts.path.rstrip('/')}"


def _origin(parts: Any) -> tuple[str, str, int]:
    default_port = 443 if parts.scheme == "https" else 80
    return parts.scheme, (parts.hostname or "").lower(), parts.port or default_port


def message_id_of(message: object, base_url: str) -> int:
    """The message id behind a user's reference, refused before any request if it is not one.

    Accepts a positive int, a string of ASCII digits, or a ``message_status_url`` on the
    connection's own base URL (same scheme, host, port and path prefix). The id is then put
    back into a URL we build, so nothing a user passes can change the request path or host.
    """
    if isinstance(message, bool):
        raise InvalidMessageReference(f"A message id must be an integer, not {message!r}")
    if isinstance(message, int):
        value = message
    elif isinstance(message, str) and _DIGITS.fullmatch(message):
        value = int(message)
    elif isinstance(message, str) and "://" in message:
        value = _message_id_from_url(message, base_url)
    else:
        raise InvalidMessageReference(
            f"A message is referenced by a positive integer id or its message_status_url, "
            f"not {_shorten(repr(message))}"
        )
    if not 0 < value <= MAX_MESSAGE_ID:
        raise InvalidMessageReference(f"A message id must be a positive 64-bit integer, not {value}")
    return value


def _message_id_from_url(url: str, base_url: str) -> int:
    parts, base = urlsplit(url), urlsplit(base_url)
    prefix = base.path.rstrip("/") + STATUS_PATH
    try:
        same_origin = _origin(parts) == _origin(base)
    except ValueError:  # a port that is not a number
        same_origin = False
    if not same_origin or parts.username or parts.password:
        raise InvalidMessageReference(
            f"Refusing {_shorten(url)}: a message_status_url must be on the connection's base URL "
            f"{base_url}; the API key is never sent anywhere else"
        )
    tail = parts.path[len(prefix) :] if parts.path.startswith(prefix) else ""
    if not _DIGITS.fullmatch(tail) or parts.query or parts.fragment:
        raise InvalidMessageReference(
            f"Refusing {_shorten(url)}: expected {base_url}{STATUS_PATH}<message id>"
        )
    return int(tail)


def status_url(base_url: str, message_id: int) -> str:
    return f"{base_url}{STATUS_PATH}{message_id}"


def probe_url(base_url: str) -> str:
    """The status path with no id: answered with error code 1, after the key is checked."""
    return f"{base_url}{STATUS_PATH}"


@dataclass(frozen=True)
class Request:
    url: str
    headers: Mapping[str, str] = field(repr=False)


def build_request(url: str, api_key: str) -> Request:
    return Request(url=url, headers={AUTH_HEADER: api_key, "Accept": "application/json"})


# --- what came back -------------------------------------------------------------------


def _shorten(text: str) -> str:
    return text if len(text) <= _SNIPPET else text[:_SNIPPET] + "..."


def _decode_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None


def _parse_timestamp(value: Any) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"not a timestamp: {value!r}")
    parsed = datetime.fromisoformat(value.strip())
    # The API states UTC; a value without an offset is read as UTC, not local time.
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _optional_str(value: Any) -> str | None:
    return None if value is None else str(value)


def parse_status(body: bytes, message_id: int, request_id: str | None = None) -> MessageStatus:
    """A 200 body as a ``MessageStatus``; ``OctopodsResponseError`` if it is not the documented JSON."""
    data = _decode_json(body)

    def bad(why: str) -> OctopodsResponseError:
        return OctopodsResponseError(
            f"Octopods answered 200 with {why}",
            http_status=200,
            error=_shorten(body.decode("utf-8", "replace")),
            request_id=request_id,
            message_id=message_id,
        )

    if not isinstance(data, dict):
        raise bad("a body that is not a JSON object")
    request_id = _optional_str(data.get("request_id")) or request_id
    status = data.get("status")
    if not isinstance(status, str) or not status:
        raise bad("no status")
    got_id = data.get("message_id")
    if isinstance(got_id, bool) or str(got_id) != str(message_id):
        raise bad(f"message_id {got_id!r} for a request about {message_id}")
    try:
        stamps = {name: _parse_timestamp(data.get(name)) for name in TIMESTAMP_FIELDS}
    except ValueError as exc:
        raise bad(f"an unreadable timestamp ({exc})") from None
    return MessageStatus(
        message_id=message_id,
        status=status,
        phone_number=_optional_str(data.get("phone_number")),
        channel_message_id=_optional_str(data.get("channel_message_id")),
        failure_reason=_optional_str(data.get("failure_reason")),
        request_id=request_id,
        raw=data,
        **stamps,
    )


def _server_now(headers: Mapping[str, str], now: float) -> float:
    """The server's clock when it answered.

    Ours, while it agrees with the server's Date header (which is whole seconds, so agreeing
    means within the second after it). When the clocks disagree by more, the Date: behind
    it, we would come back early; ahead of it, taking Date's second errs on the late side.
    """
    try:
        date = parsedate_to_datetime(headers["Date"]).timestamp()
    except (KeyError, TypeError, ValueError, IndexError):
        return now
    return now if date <= now < date + _DATE_RESOLUTION else date


def _delay_from_value(value: Any, server_now: float) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        try:
            value = float(text)
        except ValueError:
            try:
                return _parse_timestamp(text).timestamp() - server_now  # type: ignore[union-attr]
            except ValueError:
                try:
                    return parsedate_to_datetime(text).timestamp() - server_now
                except (TypeError, ValueError, IndexError):
                    return None
    if isinstance(value, (int, float)):
        return float(value) - server_now if value >= _EPOCH_THRESHOLD else float(value)
    return None


def rate_limit_delay(headers: Mapping[str, str], data: Any, now: float) -> float | None:
    """Seconds the server asked us to wait after a 429, or None if it gave no usable hint.

    Reads ``retry_at`` / ``retry_after`` / ``reset_at`` in the body (ISO-8601 or epoch
    seconds) and the standard ``Retry-After`` header (seconds or HTTP-date); when several are
    given, the latest wins, so we never come back sooner than any of them allows. Absolute
    times are measured against the server's Date header, so our clock's skew does not matter.
    """
    server_now = _server_now(headers, now)
    hints = [headers.get("Retry-After")]
    if isinstance(data, dict):
        hints += [data.get(name) for name in _RETRY_BODY_FIELDS]
    delays = [d for d in (_delay_from_value(h, server_now) for h in hints) if d is not None]
    return max(max(delays), 0.0) if delays else None


def error_for(
    http_status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    message_id: int | None,
    conn_id: str,
    now: float,
) -> OctopodsError:
    """The typed error for any answer but a 200."""
    data = _decode_json(body)
    data = data if isinstance(data, dict) else {}
    code = data.get("error_code")
    code = int(code) if isinstance(code, int) or (isinstance(code, str) and code.isdigit()) else None
    fields: dict[str, Any] = {
        "http_status": http_status,
        "error_code": code,
        "error": _optional_str(data.get("error")) or _shorten(body.decode("utf-8", "replace")) or None,
        "request_id": _optional_str(data.get("request_id")) or headers.get("X-Request-Id"),
        "message_id": message_id,
    }
    if code == ERROR_CODE_KEY_REVOKED or http_status in (401, 403):
        return OctopodsAuthError(
            f"Octopods refused the API key of connection {conn_id!r}: it has been rotated or "
            f"revoked. Put the current WhatsApp Business API key in that connection's password",
            **fields,
        )
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


def transport_error(kind: str, detail: str, message_id: int | None) -> OctopodsConnectionError:
    summaries = {
        TIMEOUT: "Octopods did not answer in time",
        UNREACHABLE: "Octopods could not be reached",
        DROPPED: "the connection to Octopods dropped before a whole answer came",
        TLS: "the TLS certificate of the Octopods host was not accepted",
    }
    cls = OctopodsTLSError if kind == TLS else OctopodsConnectionError
    return cls(f"{summaries[kind]}: {_shorten(detail)}", kind=kind, message_id=message_id)


# --- when to send again ---------------------------------------------------------------


@dataclass(frozen=True)
class RetryPolicy:
    """How hard one call tries. 429 waits are bounded separately, by total time waited."""

    max_retries: int = 5
    max_rate_limit_wait: float = 300.0
    backoff_base: float = 0.5
    backoff_max: float = 30.0

    def backoff(self, attempt: int, rand: float) -> float:
        """Exponential backoff with equal jitter: half fixed, half random."""
        ceiling = min(self.backoff_max, self.backoff_base * 2.0**attempt)
        return ceiling / 2 + ceiling / 2 * rand


@dataclass(frozen=True)
class Wait:
    """Send the same request again after ``seconds``. ``rate_limited``: every caller sharing
    the key should pause too, not just this one."""

    seconds: float
    rate_limited: bool = False


class StatusCall:
    """One logical status query, across its retries."""

    def __init__(
        self,
        request: Request,
        *,
        message_id: int | None,
        conn_id: str,
        policy: RetryPolicy,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.request = request
        self.message_id = message_id
        self.conn_id = conn_id
        self.policy = policy
        self.attempts = 0
        self.rate_limited_for = 0.0
        self._rand = rand

    def receive(
        self, http_status: int, headers: Mapping[str, str], body: bytes, now: float | None = None
    ) -> MessageStatus | Wait:
        """Decide on an answer: the status, a wait before the next try, or raise the typed error."""
        now = time.time() if now is None else now
        if http_status == 200 and self.message_id is not None:
            try:
                return parse_status(body, self.message_id, headers.get("X-Request-Id"))
            except OctopodsResponseError as exc:
                return self._retry(exc, now)
        error = error_for(
            http_status, headers, body, message_id=self.message_id, conn_id=self.conn_id, now=now
        )
        return self._retry(error, now)

    def fail(self, kind: str, detail: str) -> Wait:
        """Decide on a request that got no answer: wait and retry, or raise."""
        return self._retry(transport_error(kind, detail, self.message_id), time.time())

    def _retry(self, error: OctopodsError, now: float) -> Wait:
        if isinstance(error, OctopodsRateLimitError):
            return self._rate_limited(error, now)
        if not error.retryable or self.attempts >= self.policy.max_retries:
            raise error
        wait = Wait(self.policy.backoff(self.attempts, self._rand()))
        self.attempts += 1
        return wait

    def _rate_limited(self, error: OctopodsRateLimitError, now: float) -> Wait:
        if error.retry_at is not None:
            seconds = max(error.retry_at.timestamp() - now, 0.0) + RATE_LIMIT_MARGIN
        else:
            seconds = self.policy.backoff(self.attempts, self._rand())
            self.attempts += 1
        if self.rate_limited_for + seconds > self.policy.max_rate_limit_wait:
            raise error
        self.rate_limited_for += seconds
        return Wait(seconds, rate_limited=True)


def probe_outcome(
    http_status: int, headers: Mapping[str, str], body: bytes, conn_id: str
) -> tuple[bool, str]:
    """Read the answer to the probe (the status path with no id) for ``test_connection``."""
    error = error_for(http_status, headers, body, message_id=None, conn_id=conn_id, now=time.time())
    if isinstance(error, OctopodsAuthError):
        return False, str(error)
    if isinstance(error, OctopodsRateLimitError):
        return False, f"Octopods API reached, but the key is rate limited; test again later. {error}"
    if http_status == 400 and error.error_code is not None:
        return True, (
            f"Octopods API reached and the API key accepted (the probe got error code "
            f"{error.error_code}, request_id {error.request_id})"
        )
    return False, f"The host answered, but not as the Octopods API does: {error}"
