"""Where requests go: a user's message reference checked into an id, the URLs built from it,
and the request's headers. Nothing a user passes can change the path or the host."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_octopods.connection.fields import DEFAULT_BASE_URL
from airflow_provider_octopods.errors import InvalidMessageReference
from airflow_provider_octopods.protocol.text import shorten, shown

STATUS_PATH = "/api/v1/whatsapp/messages/"
AUTH_HEADER = "X-Octopods-Auth"
MAX_MESSAGE_ID = 2**63 - 1  # int64 everywhere downstream (XCom, Parquet)
DIGITS = re.compile(r"[0-9]+")


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
    elif isinstance(message, str) and DIGITS.fullmatch(message):
        value = bounded_int(message, MAX_MESSAGE_ID)
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


def bounded_int(digits: str, maximum: int) -> int | None:
    """The value of ASCII ``digits`` if it is at most ``maximum``: never ``int()`` on thousands
    of digits (Python refuses more than 4300), so no input length can raise."""
    significant = digits.lstrip("0")
    if len(significant) > len(str(maximum)):
        return None
    value = int(significant or "0")
    return value if value <= maximum else None


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
    if not DIGITS.fullmatch(tail) or parts.query or parts.fragment:
        raise InvalidMessageReference(
            f"Refusing {shorten(url)}: expected {base_url}{STATUS_PATH}<message id>"
        )
    return bounded_int(tail, MAX_MESSAGE_ID)


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


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of ``url``: where a request went, without its path."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
