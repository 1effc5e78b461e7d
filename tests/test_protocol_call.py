"""protocol.call: one status query across its retries: bounded back-off, 429 waits within
max_rate_limit_wait and the deadline, refusals never retried."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from airflow_provider_octopods.errors import (
    OctopodsAuthError,
    OctopodsConnectionError,
    OctopodsRateLimitError,
    OctopodsRequestError,
    OctopodsServerError,
    OctopodsTLSError,
)
from airflow_provider_octopods.protocol import failures, refs
from airflow_provider_octopods.protocol.call import RetryPolicy, StatusCall, Wait
from tests.protocol_cases import BASE, NOW


def _call(policy: RetryPolicy | None = None, deadline: float | None = None) -> StatusCall:
    request = refs.build_request(refs.status_url(BASE, 7), "k")
    return StatusCall(
        request,
        message_id=7,
        conn_id="c",
        policy=policy or RetryPolicy(),
        rand=lambda: 1.0,
        deadline=deadline,
    )


def test_retries_are_bounded_and_back_off_exponentially() -> None:
    call = _call(RetryPolicy(max_retries=3, backoff_base=1.0, backoff_max=3.0))
    waits = [call.receive(503, {}, b"", now=NOW) for _ in range(3)]
    assert [(w.seconds, w.rate_limited) for w in waits] == [(1.0, False), (2.0, False), (3.0, False)]
    with pytest.raises(OctopodsServerError):
        call.receive(503, {}, b"", now=NOW)


def test_transport_failures_retry_but_tls_does_not() -> None:
    call = _call(RetryPolicy(max_retries=1))
    assert isinstance(call.fail(failures.NoAnswer.DROPPED, "reset"), Wait)
    with pytest.raises(OctopodsConnectionError) as info:
        call.fail(failures.NoAnswer.TIMEOUT, "slow")
    assert info.value.kind == failures.NoAnswer.TIMEOUT
    with pytest.raises(OctopodsTLSError):
        _call().fail(failures.NoAnswer.TLS, "certificate verify failed")


@pytest.mark.parametrize("status", [400, 401, 403])
def test_refusals_are_never_retried(status: int) -> None:
    with pytest.raises((OctopodsAuthError, OctopodsRequestError)):
        _call().receive(status, {}, json.dumps({"error_code": 2}).encode(), now=NOW)


def test_a_wait_carries_what_the_try_met_for_the_driver_to_report() -> None:
    call = _call(RetryPolicy(max_retries=2))
    busy = call.receive(503, {}, b"busy", now=NOW)
    assert isinstance(busy, Wait) and isinstance(busy.cause, OctopodsServerError)
    refused = call.fail(failures.NoAnswer.UNREACHABLE, "[Errno 111] Connection refused")
    assert isinstance(refused.cause, OctopodsConnectionError)
    assert f"({BASE})" in str(refused.cause)  # where it went, in the connection's own terms
    limited = _call().receive(429, {}, json.dumps({"retry_at": NOW + 1}).encode(), now=NOW)
    assert isinstance(limited, Wait) and isinstance(limited.cause, OctopodsRateLimitError)


def test_429_waits_at_least_until_the_retry_time_and_within_the_cap() -> None:
    call = _call(RetryPolicy(max_rate_limit_wait=25.0))
    wait = call.receive(429, {}, json.dumps({"retry_at": NOW + 10}).encode(), now=NOW)
    assert isinstance(wait, Wait)
    assert wait.rate_limited
    assert wait.seconds >= 10.0
    assert call.attempts == 0  # 429s do not spend the retry limit
    call.waiting_for_rate_limit(wait.seconds)  # what a driver reports as it waits
    call.waiting_for_rate_limit(
        call.receive(429, {}, json.dumps({"retry_at": NOW + 10}).encode(), now=NOW).seconds
    )  # type: ignore[union-attr]
    with pytest.raises(OctopodsRateLimitError) as info:  # a third wait would pass 25 s in all
        call.receive(429, {}, json.dumps({"retry_at": NOW + 10}).encode(), now=NOW)
    assert info.value.retry_at == datetime.fromtimestamp(NOW + 10, UTC)


def test_429_without_a_hint_backs_off() -> None:
    wait = _call(RetryPolicy(backoff_base=2.0)).receive(429, {}, b"{}", now=NOW)
    assert isinstance(wait, Wait) and (wait.seconds, wait.rate_limited) == (2.0, True)


def test_a_past_retry_time_backs_off_with_jitter_instead_of_retrying_at_once() -> None:
    draws = iter([0.0, 1.0, 0.5])
    request = refs.build_request(refs.status_url(BASE, 7), "k")
    call = StatusCall(request, message_id=7, conn_id="c", policy=RetryPolicy(), rand=lambda: next(draws))
    past = json.dumps({"retry_at": NOW - 60}).encode()
    waits = [call.receive(429, {}, past, now=NOW) for _ in range(3)]
    # Equal jitter over 0.5, 1, 2 s: half fixed, half drawn; never the 50 ms margin alone.
    assert [(w.seconds, w.rate_limited) for w in waits] == [(0.25, True), (1.0, True), (1.5, True)]


def test_time_at_a_gate_another_call_closed_counts_against_the_longest_wait() -> None:
    call = _call(RetryPolicy(max_rate_limit_wait=4.0))
    call.waiting_for_rate_limit(3.0, now=NOW)  # this call never met a 429 itself
    with pytest.raises(OctopodsRateLimitError) as info:
        call.waiting_for_rate_limit(3.0, now=NOW)
    assert info.value.message_id == 7
    assert info.value.retry_at == datetime.fromtimestamp(NOW + 3.0, UTC)
    assert "max_rate_limit_wait=4" in str(info.value)


def test_a_429_whose_retry_time_passes_the_bound_ends_the_request_at_once() -> None:
    body = json.dumps({"retry_at": NOW + 3600}).encode()
    with pytest.raises(OctopodsRateLimitError) as info:
        _call(RetryPolicy(max_rate_limit_wait=300.0)).receive(429, {}, body, now=NOW)
    assert info.value.retry_at == datetime.fromtimestamp(NOW + 3600, UTC)
    assert "max_rate_limit_wait=300 s of connection 'c'" in str(info.value)
    assert "not waiting" in str(info.value)


@pytest.mark.parametrize("now", [NOW, 1796567027.8294125, 1796567028.3378284])
def test_a_hint_of_years_says_the_server_asks_for_longer(now: float) -> None:
    # Whatever a datetime's microseconds make of the retry time, a capped hint is told as one
    # (times of a clock as it reads, where rounding to microseconds lands just short).
    with pytest.raises(OctopodsRateLimitError) as info:
        _call().receive(429, {"Retry-After": "999999999999"}, b"{}", now=now)
    assert "no sooner than 7 days from now (the server asks for longer)" in str(info.value)


def test_a_429_wait_past_the_deadline_is_not_started() -> None:
    call = _call(RetryPolicy(max_rate_limit_wait=300.0), deadline=NOW + 5)
    with pytest.raises(OctopodsRateLimitError) as info:
        call.receive(429, {}, json.dumps({"retry_at": NOW + 10}).encode(), now=NOW)
    assert "deadline" in str(info.value)
    with pytest.raises(OctopodsRateLimitError):  # at a gate another call closed, likewise
        call.waiting_for_rate_limit(6.0, now=NOW)
    call.waiting_for_rate_limit(4.0, now=NOW)  # one that ends in time is waited
