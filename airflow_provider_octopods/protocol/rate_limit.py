"""How long a 429 asks us to wait: the server's hints in its headers and body, read against its
own clock, bounded."""

from __future__ import annotations

import math
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any

from airflow_provider_octopods.protocol.answers import parse_timestamp

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
        parsed = parse_timestamp(value)
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
