"""protocol.rate_limit: how long a 429 asks us to wait, from every hint in its headers and
body, measured against the server's clock, bounded."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import formatdate

import pytest

from airflow_provider_octopods.protocol import rate_limit
from tests.protocol_cases import NOW


@pytest.mark.parametrize(
    ("body", "headers", "expected"),
    [
        (
            {"retry_at": datetime.fromtimestamp(NOW + 10, UTC).isoformat().replace("+00:00", "Z")},
            {},
            10.0,
        ),
        ({"retry_at": NOW + 7}, {}, 7.0),
        ({"retry_after": 3}, {}, 3.0),
        ({"reset_at": str(NOW + 4)}, {}, 4.0),
        ({}, {"Retry-After": "12"}, 12.0),
        ({}, {"Retry-After": formatdate(NOW + 20, usegmt=True)}, 20.0),
        ({"retry_after": 2}, {"Retry-After": "9"}, 9.0),  # several hints: the latest wins
        ({"retry_at": NOW - 30, "retry_after": 4}, {}, 4.0),  # a past hint is ignored, not the rest
        ({"retry_at": (NOW + 6) * 1000}, {}, 6.0),  # epoch milliseconds
        ({"retry_at": str((NOW + 6) * 1000)}, {}, 6.0),
    ],
)
def test_rate_limit_delay_reads_every_hint(
    body: dict[str, object], headers: dict[str, str], expected: float
) -> None:
    assert rate_limit.rate_limit_delay(headers, body, NOW) == pytest.approx(expected)


def test_rate_limit_delay_measures_against_the_server_clock() -> None:
    # Our clock runs 100 s ahead of the server's: the wait still is what the server meant.
    server_now = NOW
    headers = {"Date": formatdate(server_now, usegmt=True)}
    assert rate_limit.rate_limit_delay(headers, {"retry_at": server_now + 5}, NOW + 100) == pytest.approx(5.0)


def test_rate_limit_delay_keeps_our_precision_while_the_clocks_agree() -> None:
    headers = {"Date": formatdate(NOW, usegmt=True)}
    assert rate_limit.rate_limit_delay(headers, {"retry_at": NOW + 1.0}, NOW + 0.4) == pytest.approx(0.6)
    # Our clock behind the server's Date: measured from the Date, never early.
    assert rate_limit.rate_limit_delay(headers, {"retry_at": NOW + 1.0}, NOW - 5) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        ({"retry_at": "later"}, {"Retry-After": "soon"}),
        ({"retry_at": NOW - 30}, {}),  # already past (a server clock behind ours, no Date)
        ({}, {"Retry-After": formatdate(NOW - 30, usegmt=True)}),
        ({}, {"Retry-After": "0"}),
        ({}, {"Retry-After": "-5"}),
        ({"retry_after": float("nan")}, {}),
        ({"retry_after": float("inf")}, {"Retry-After": "NaN"}),
        ({"retry_after": 10**400}, {}),  # too large for a float
        ({"retry_at": "9" * 5000}, {}),  # past Python's int digit limit
        ({"retry_at": "9999-12-31T23:59:59-23:59"}, {}),  # overflows when made UTC
        ({"retry_at": True, "reset_at": [1], "retry_after": {"s": 1}}, {}),
        ({}, {"Retry-After": "Mon, 01 Jan 99999 00:00:00 GMT", "Date": "Mon, 01 Jan 99999 00:00:00 GMT"}),
    ],
)
def test_rate_limit_delay_without_a_usable_hint(body: dict[str, object], headers: dict[str, str]) -> None:
    assert rate_limit.rate_limit_delay(headers, body, NOW) is None


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        ({"retry_at": 1e300}, {"Retry-After": "1e308"}),
        ({"retry_after": 365 * 24 * 3600}, {}),
        ({}, {"Retry-After": "999999999999"}),  # seconds, as RFC 9110 has it: 31,000 years
    ],
)
def test_a_hint_absurdly_far_is_read_as_the_longest_hint(
    body: dict[str, object], headers: dict[str, str]
) -> None:
    assert rate_limit.rate_limit_delay(headers, body, NOW) == rate_limit.MAX_RATE_LIMIT_HINT


def test_retry_after_header_is_seconds_even_past_the_epoch_threshold() -> None:
    # In the body a number that large is a Unix time (here, one already past); in the header
    # it never is.
    past = str(NOW - 100_000_000)
    assert rate_limit.rate_limit_delay({"Retry-After": past}, {}, NOW) == rate_limit.MAX_RATE_LIMIT_HINT
    assert rate_limit.rate_limit_delay({}, {"retry_at": past}, NOW) is None
