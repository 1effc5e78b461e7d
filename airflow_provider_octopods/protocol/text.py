"""What any text a server or a user sent becomes before anything keeps it: without the API
key, writable as UTF-8, and short."""

from __future__ import annotations

import functools
import re
from urllib.parse import quote

_SURROGATE = re.compile("[\ud800-\udfff]")
_SNIPPET = 200
REDACTED = "***"


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
def secret_bytes(secret: str) -> tuple[bytes, ...]:
    return tuple(form.encode() for form in _secret_forms(secret))


def clean(text: str, secret: str | None) -> str:
    # A lone surrogate (JSON may spell one as \ud800) cannot be written as UTF-8 to a log,
    # XCom or Parquet: replaced here, once.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = _SURROGATE.sub("\ufffd", text)
    return redact(text, secret)
