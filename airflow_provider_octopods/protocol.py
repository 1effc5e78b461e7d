"""Every rule of the message-status endpoint, with no I/O.

The sync (requests) and async (aiohttp) clients are thin drivers over this module: they send
``call.request`` and hand what came back to ``call.receive()`` (or a transport failure to
``call.fail()``), which returns the parsed status, or how long to wait before sending again,
or raises the typed error. Nothing here opens a socket or sleeps.

Contract: ``shared/octopods-api`` (the vendor's page and how we read its open points).
"""

from __future__ import annotations

import functools
import json
import math
import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import MappingProxyType
from typing import Any
from urllib.parse import quote, urlsplit

import msgspec

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
# The error_code column of a snapshot is int32. A code outside 0..MAX_ERROR_CODE is no code the
# API documents: the error keeps error_code None (Parquet -1) and the server's text.
MAX_ERROR_CODE = 2**31 - 1
# The documented JSON is under 1 KB. A longer body is a response error and the rest of it is
# not read, so a proxy's page or an endless stream costs at most this much memory per request.
MAX_BODY_BYTES = 1 << 20

# Added to every wait the server asked for: asyncio may wake a timer up to its clock
# resolution early, and an HTTP Date is truncated to the second.
RATE_LIMIT_MARGIN = 0.05
_RETRY_BODY_FIELDS = ("retry_at", "retry_after", "reset_at")
_DATE_RESOLUTION = 1.0  # an HTTP Date has whole seconds
# A bare number below this is a relative delay in seconds, above it a Unix timestamp, and
# above the next one a Unix timestamp in milliseconds (year 5138 and later in seconds).
_EPOCH_THRESHOLD = 1_000_000_000
_EPOCH_MS_THRESHOLD = 100_000_000_000
# A wait hint further off than this is read as this far: no wait a connection allows is that
# long, so the request ends at once, and the error's retry_at stays a date Python can hold.
MAX_RATE_LIMIT_HINT = 7 * 24 * 3600.0
_DIGITS = re.compile(r"[0-9]+")
_SURROGATE = re.compile("[\ud800-\udfff]")
_SNIPPET = 200
REDACTED = "***"

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
        value: int | None = message if 0 < message <= MAX_MESSAGE_ID else None
    elif isinstance(message, str) and _DIGITS.fullmatch(message):
        value = _bounded_int(message, MAX_MESSAGE_ID)
    elif isinstance(message, str) and "://" in message:
        value = _message_id_from_url(message, base_url)
    else:
        raise InvalidMessageReference(
            f"A message is referenced by a positive integer id or its message_status_url, "
            f"not {shown(message)}"
        )
    if not value:
        raise InvalidMessageReference(f"A message id must be a positive 64-bit integer, not {shown(message)}")
    return value


def _bounded_int(digits: str, maximum: int) -> int | None:
    """The value of ASCII ``digits`` if it is at most ``maximum``: never ``int()`` on thousands
    of digits (Python refuses more than 4300), so no input length can raise."""
    significant = digits.lstrip("0")
    if len(significant) > len(str(maximum)):
        return None
    value = int(significant or "0")
    return value if value <= maximum else None


def shown(value: object, limit: int = 100) -> str:
    """A short repr of anything a user or a server passed, safe for any size or type."""
    if isinstance(value, str):
        return shorten(repr(value[: limit + 1]), limit)
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return f"<an integer of {value.bit_length()} bits>"
    try:
        return shorten(repr(value), limit)
    except (ValueError, RecursionError):  # an int past the digit limit inside, a deep nesting
        return f"<{type(value).__name__}>"


def _message_id_from_url(url: str, base_url: str) -> int | None:
    base = urlsplit(base_url)
    prefix = base.path.rstrip("/") + STATUS_PATH
    try:
        parts = urlsplit(url)
        same_origin = _origin(parts) == _origin(base)
    except ValueError:  # a port that is not a number, a bracket that opens no IPv6 address
        same_origin = False
    if not same_origin or parts.username or parts.password:
        raise InvalidMessageReference(
            f"Refusing {shorten(url)}: a message_status_url must be on the connection's base URL "
            f"{base_url}; the API key is never sent anywhere else"
        )
    tail = parts.path[len(prefix) :] if parts.path.startswith(prefix) else ""
    if not _DIGITS.fullmatch(tail) or parts.query or parts.fragment:
        raise InvalidMessageReference(
            f"Refusing {shorten(url)}: expected {base_url}{STATUS_PATH}<message id>"
        )
    return _bounded_int(tail, MAX_MESSAGE_ID)


def status_url(base_url: str, message_id: int) -> str:
    return f"{base_url}{STATUS_PATH}{message_id}"


def probe_url(base_url: str) -> str:
    """The status path with no id: answered with error code 1, after the key is checked."""
    return f"{base_url}{STATUS_PATH}"


@dataclass(frozen=True)
class Request:
    url: str
    headers: Mapping[str, str] = field(repr=False)


def header_value_flaw(value: str) -> str | None:
    """What in ``value`` (stripped) an HTTP header cannot carry (RFC 9110 field value, ASCII
    only, as both drivers send it), or None. Spaces and tabs inside it are allowed."""
    for char in value:
        if char in "\r\n":
            return "a line break (CR or LF)"
        if not char.isascii():
            return "a non-ASCII character"
        if (char < " " and char != "\t") or char == "\x7f":
            return "a control character"
    return None


def build_request(url: str, api_key: str) -> Request:
    return Request(url, _headers(api_key))


@functools.lru_cache(maxsize=8)
def _headers(api_key: str) -> Mapping[str, str]:
    # One read-only mapping per key: every request of a connection sends the same headers.
    return MappingProxyType({AUTH_HEADER: api_key, "Accept": "application/json"})


# --- what came back -------------------------------------------------------------------


def shorten(text: str, limit: int = _SNIPPET) -> str:
    """``text`` within ``limit`` characters, cut after a whole word where one ends near it."""
    if len(text) <= limit:
        return text
    cut = text[:limit]
    word_end = cut.rfind(" ", limit - 40)
    return (cut[:word_end] if word_end > 0 else cut) + "..."


def redact(text: str, secret: str | None) -> str:
    """``text`` without ``secret``, as sent or URL-encoded. Every text a server sends goes
    through here before anything keeps it: an error, a log line, a Parquet row."""
    if secret:
        for form in _secret_forms(secret):
            text = text.replace(form, REDACTED)
    return text


@functools.lru_cache(maxsize=8)
def _secret_forms(secret: str) -> tuple[str, ...]:
    return tuple({secret, quote(secret, safe="")})


@functools.lru_cache(maxsize=8)
def _secret_bytes(secret: str) -> tuple[bytes, ...]:
    return tuple(form.encode() for form in _secret_forms(secret))


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
    return secret is not None and any(form in body for form in _secret_bytes(secret))


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


def _clean(text: str, secret: str | None) -> str:
    # A lone surrogate (JSON may spell one as \ud800) cannot be written as UTF-8 to a log,
    # XCom or Parquet: replaced here, once.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = _SURROGATE.sub("\ufffd", text)
    return redact(text, secret)


def _cleaned(data: Any, secret: str | None) -> Any:
    """Decoded JSON with every string cleaned. Iterative: the depth json.loads allows would
    overflow a recursive walk."""
    root: list[Any] = [data]
    stack: list[tuple[Any, Any]] = [(root, 0)]
    while stack:
        holder, key = stack.pop()
        value = holder[key]
        if isinstance(value, str):
            holder[key] = _clean(value, secret)
        elif isinstance(value, list):
            stack.extend((value, i) for i in range(len(value)))
        elif isinstance(value, dict):
            cleaned = {_clean(k, secret): v for k, v in value.items()}
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
            request_id=_clean(request_id, secret) if isinstance(request_id, str) else None,
            body=body,
            secret=secret,
        )

    @functools.cached_property
    def text(self) -> str:
        """The body as text, for an error: decoded only when an error needs it."""
        # Redacted before it is shortened: a cut must not leave half a key.
        return shorten(_clean(self.body.decode("utf-8", "replace"), self.secret))


def _parse_timestamp(value: Any) -> datetime | None:
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


def _error_code(value: Any) -> int | None:
    """The server's ``error_code`` if it is one: an integer, or ASCII digits, in 0..MAX_ERROR_CODE."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if 0 <= value <= MAX_ERROR_CODE else None
    if isinstance(value, str) and _DIGITS.fullmatch(value):
        return _bounded_int(value, MAX_ERROR_CODE)
    return None


def parse_status(
    body: bytes, message_id: int, request_id: str | None = None, *, secret: str | None = None
) -> MessageStatus:
    """A 200 body as a ``MessageStatus``; ``OctopodsResponseError`` if it is not the documented JSON."""
    return _status_of(
        Answer.read({"X-Request-Id": request_id} if request_id else {}, body, secret), message_id
    )


def _status_of(answer: Answer, message_id: int) -> MessageStatus:
    data = answer.data

    def bad(why: str) -> OctopodsResponseError:
        return OctopodsResponseError(
            f"Octopods answered 200 with {why}",
            http_status=200,
            error=answer.text,
            request_id=answer.request_id,
            message_id=message_id,
        )

    if not isinstance(data, dict):
        raise bad("a body that is not a JSON object")
    status = data.get("status")
    if not isinstance(status, str) or not status:
        raise bad("no status")
    got_id = data.get("message_id")
    if not isinstance(got_id, (int, str)) or isinstance(got_id, bool) or str(got_id) != str(message_id):
        raise bad(f"message_id {shown(got_id)} for a request about {message_id}")
    try:
        stamps = {name: _parse_timestamp(data.get(name)) for name in TIMESTAMP_FIELDS}
    except ValueError as exc:
        raise bad(f"an unreadable timestamp ({exc})") from None
    try:
        phone_number, channel_message_id = (
            _text(data.get("phone_number")),
            _text(data.get("channel_message_id")),
        )
        failure_reason, request_id = _text(data.get("failure_reason")), _text(data.get("request_id"))
    except ValueError as exc:
        raise bad(f"a list or object where text belongs ({exc})") from None
    return MessageStatus(
        message_id=message_id,
        status=status,
        phone_number=phone_number,
        channel_message_id=channel_message_id,
        failure_reason=failure_reason,
        request_id=request_id or answer.request_id,
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
    except (KeyError, TypeError, ValueError, IndexError, OverflowError):
        return now
    return now if date <= now < date + _DATE_RESOLUTION else date


def _hint_number(value: Any) -> float | None:
    """A hint as a finite number, or None: a bool, NaN, infinity or an int too large for a
    float is no number."""
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _hint_time(value: Any) -> float | None:
    """A hint as an absolute time: ISO-8601 or an HTTP-date."""
    if not isinstance(value, str):
        return None
    try:
        parsed = _parse_timestamp(value)
    except ValueError:
        try:
            return parsedate_to_datetime(value.strip()).timestamp()
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    return parsed.timestamp() if parsed is not None else None


def _delay_from_value(value: Any, server_now: float, *, epoch: bool) -> float | None:
    """Seconds from ``server_now`` one hint asks for; None when the hint is unusable: not a
    time, or already past. A bare number is a delay, or with ``epoch`` (a body field) past
    ``_EPOCH_THRESHOLD`` a Unix time; ``Retry-After`` is seconds or an HTTP-date (RFC 9110)."""
    number = _hint_number(value)
    if number is None:
        at = _hint_time(value)
        delay = None if at is None else at - server_now
    elif epoch and number >= _EPOCH_MS_THRESHOLD:
        delay = number / 1000 - server_now
    elif epoch and number >= _EPOCH_THRESHOLD:
        delay = number - server_now
    else:
        delay = number
    return min(delay, MAX_RATE_LIMIT_HINT) if delay is not None and delay > 0 else None


def rate_limit_delay(headers: Mapping[str, str], data: Any, now: float) -> float | None:
    """Seconds the server asked us to wait after a 429, or None if it gave no usable hint.

    Reads ``retry_at`` / ``retry_after`` / ``reset_at`` in the body (ISO-8601, epoch seconds
    or milliseconds) and the standard ``Retry-After`` header (seconds or HTTP-date); when
    several are given, the latest wins, so we never come back sooner than any of them allows.
    Absolute times are measured against the server's Date header, so our clock's skew does not
    matter. A time already past is no hint (the call backs off instead of retrying at once); one
    further than ``MAX_RATE_LIMIT_HINT`` is read as that far.
    """
    server_now = _server_now(headers, now)
    delays = [_delay_from_value(headers.get("Retry-After"), server_now, epoch=False)]
    if isinstance(data, dict):
        delays += [_delay_from_value(data.get(name), server_now, epoch=True) for name in _RETRY_BODY_FIELDS]
    usable = [d for d in delays if d is not None]
    return max(usable) if usable else None


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
    return _error_of(http_status, headers, Answer.read(headers, body, secret), message_id, conn_id, now)


def _error_of(
    http_status: int,
    headers: Mapping[str, str],
    answer: Answer,
    message_id: int | None,
    conn_id: str,
    now: float,
) -> OctopodsError:
    data = answer.data if isinstance(answer.data, dict) else {}
    code = _error_code(data.get("error_code"))
    error, request_id = (data.get(name) for name in ("error", "request_id"))
    fields: dict[str, Any] = {
        "http_status": http_status,
        "error_code": code,
        "error": (error if isinstance(error, str) and error else answer.text) or None,
        "request_id": (request_id if isinstance(request_id, str) else None) or answer.request_id,
        "message_id": message_id,
    }
    if code == ERROR_CODE_KEY_REVOKED or http_status in (401, 403):
        # Code 6 is the vendor's word for a key that was rotated or revoked; a bare 401 or 403
        # cannot tell that from a key mistyped or pasted from another account.
        why = (
            "it has been rotated or revoked"
            if code == ERROR_CODE_KEY_REVOKED
            else ("it is mistyped, or it has been rotated or revoked")
        )
        return OctopodsAuthError(
            f"Octopods refused the API key of connection {conn_id!r}: {why}. Put the current "
            f"WhatsApp Business API key in that connection's password",
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


def _oversized(http_status: int, message_id: int | None) -> OctopodsResponseError:
    return OctopodsResponseError(
        f"Octopods answered HTTP {http_status} with a body over {MAX_BODY_BYTES} bytes; the rest "
        f"was not read",
        http_status=http_status,
        message_id=message_id,
    )


# What OpenSSL says when the peer answered a TLS hello in plain HTTP (1.1, 3.0 and 3.2+ words).
_PLAIN_HTTP_PEER = re.compile(
    r"wrong.version.number|record.layer.failure|packet.length.too.long|http.request", re.IGNORECASE
)
_TRANSPORT_SUMMARIES = {
    TIMEOUT: "Octopods did not answer in time",
    UNREACHABLE: "Octopods could not be reached",
    DROPPED: "the connection to Octopods dropped before a whole answer came",
    TLS: "the TLS certificate of the Octopods host was not accepted",
}


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of ``url``: where a request went, without its path."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def transport_error(
    kind: str, detail: str, message_id: int | None, secret: str | None = None, *, where: str | None = None
) -> OctopodsConnectionError:
    """The typed error of a request that got no answer; ``where`` is the origin it went to."""
    summary = _TRANSPORT_SUMMARIES[kind]
    if kind == TLS and _PLAIN_HTTP_PEER.search(detail):
        summary = (
            "the host answered in plain HTTP where TLS was expected: does the base URL say "
            "https:// for a server that speaks http://?"
        )
    if where:
        summary = f"{summary} ({where})"
    cls = OctopodsTLSError if kind == TLS else OctopodsConnectionError
    return cls(f"{summary}: {shorten(_clean(detail, secret))}", kind=kind, message_id=message_id)


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
    the key should pause too, not just this one. ``cause``: what this try met, for the drivers
    to count and report."""

    seconds: float
    cause: OctopodsError = field(compare=False)
    rate_limited: bool = False


class StatusCall:
    """One logical status query, across its retries.

    ``deadline`` (Unix time): the wait this query serves ends then (a sensor's timeout), so a
    429 wait that would end later is not started.
    """

    def __init__(
        self,
        request: Request,
        *,
        message_id: int | None,
        conn_id: str,
        policy: RetryPolicy,
        rand: Callable[[], float] = random.random,
        deadline: float | None = None,
    ) -> None:
        self.request = request
        self.message_id = message_id
        self.conn_id = conn_id
        self.policy = policy
        self.deadline = deadline
        self.attempts = 0
        self.rate_limited_for = 0.0
        self._rand = rand
        self._secret = request.headers.get(AUTH_HEADER)
        self._last_429: OctopodsRateLimitError | None = None

    def receive(
        self, http_status: int, headers: Mapping[str, str], body: bytes, now: float | None = None
    ) -> MessageStatus | Wait:
        """Decide on an answer: the status, a wait before the next try, or raise the typed error.

        ``body`` is at most ``MAX_BODY_BYTES + 1`` bytes: the drivers stop reading there.
        """
        now = time.time() if now is None else now
        if len(body) > MAX_BODY_BYTES:
            return self._retry(_oversized(http_status, self.message_id), now)
        answer = Answer.read(headers, body, self._secret)
        if http_status == 200 and self.message_id is not None:
            try:
                return _status_of(answer, self.message_id)
            except OctopodsResponseError as exc:
                return self._retry(exc, now)
        return self._retry(_error_of(http_status, headers, answer, self.message_id, self.conn_id, now), now)

    def fail(self, kind: str, detail: str) -> Wait:
        """Decide on a request that got no answer: wait and retry, or raise."""
        where = origin_of(self.request.url)
        error = transport_error(kind, detail, self.message_id, self._secret, where=where)
        return self._retry(error, time.time())

    def waiting_for_rate_limit(self, seconds: float, now: float | None = None) -> None:
        """The driver is about to wait ``seconds`` because of 429s: in a sleep after this call's
        own 429, or at a gate another call's 429 closed. Every such second counts against
        ``max_rate_limit_wait``; the wait that would pass it, or the deadline, raises instead."""
        now = time.time() if now is None else now
        if bound := self._passed_bound(seconds, now):
            retry_at = datetime.fromtimestamp(now + seconds, UTC)
            raise self._given_up(
                self._last_429 or OctopodsRateLimitError("", http_status=429, message_id=self.message_id),
                retry_at,
                bound,
                now,
            )
        self.rate_limited_for += seconds

    def _retry(self, error: OctopodsError, now: float) -> Wait:
        if isinstance(error, OctopodsRateLimitError):
            return self._rate_limited(error, now)
        if not error.retryable or self.attempts >= self.policy.max_retries:
            raise error
        wait = Wait(self.policy.backoff(self.attempts, self._rand()), cause=error)
        self.attempts += 1
        return wait

    def _rate_limited(self, error: OctopodsRateLimitError, now: float) -> Wait:
        self._last_429 = error
        if error.retry_at is not None:
            seconds = error.retry_at.timestamp() - now + RATE_LIMIT_MARGIN
        else:  # no usable hint: back off with jitter, never straight back
            seconds = self.policy.backoff(self.attempts, self._rand())
            self.attempts += 1
        if bound := self._passed_bound(seconds, now):
            raise self._given_up(error, error.retry_at, bound, now)
        return Wait(seconds, rate_limited=True, cause=error)

    def _passed_bound(self, seconds: float, now: float) -> str | None:
        """Which bound a wait of ``seconds`` from ``now`` would pass, in words, or None."""
        if self.rate_limited_for + seconds > self.policy.max_rate_limit_wait:
            waited = f" ({self.rate_limited_for:.0f} s waited already)" if self.rate_limited_for >= 1 else ""
            return (
                f"past max_rate_limit_wait={self.policy.max_rate_limit_wait:g} s of connection "
                f"{self.conn_id!r}{waited}"
            )
        if self.deadline is not None and now + seconds > self.deadline:
            return f"after this wait's deadline, {datetime.fromtimestamp(self.deadline, UTC):%H:%M:%S} UTC"
        return None

    @staticmethod
    def _given_up(
        error: OctopodsRateLimitError, retry_at: datetime | None, bound: str, now: float
    ) -> OctopodsRateLimitError:
        if retry_at is None:
            when = "only after a back-off"
        elif retry_at.timestamp() - now > MAX_RATE_LIMIT_HINT - 1:  # capped (a datetime keeps µs)
            when = (
                f"no sooner than {MAX_RATE_LIMIT_HINT / 86400:g} days from now (the server asks for longer)"
            )
        else:
            when = f"at {retry_at:%Y-%m-%d %H:%M:%S} UTC"
        fields = {k: v for k, v in error.to_dict().items() if k in _ERROR_FIELDS}
        return OctopodsRateLimitError(
            f"Octopods rate limit (HTTP 429): the next request is allowed {when}, {bound}; not waiting",
            retry_at=retry_at,
            **fields,
        )


_ERROR_FIELDS = ("http_status", "error_code", "error", "request_id", "message_id")


def probe_outcome(
    http_status: int, headers: Mapping[str, str], body: bytes, conn_id: str, secret: str | None = None
) -> tuple[bool, str]:
    """Read the answer to the probe (the status path with no id) for ``test_connection``."""
    if len(body) > MAX_BODY_BYTES:
        return False, f"The host answered, but not as the Octopods API does: {_oversized(http_status, None)}"
    error = error_for(
        http_status, headers, body, message_id=None, conn_id=conn_id, now=time.time(), secret=secret
    )
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
