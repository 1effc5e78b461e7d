"""The protocol rules with no server: inputs refused, bodies read, errors typed, waits decided."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email.utils import formatdate

import pytest

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
from airflow_provider_octopods.protocol import answers, failures, probe, rate_limit, refs, text
from airflow_provider_octopods.protocol.call import RetryPolicy, StatusCall, Wait
from airflow_provider_octopods.status import MessageStatus

BASE = "https://app.octopods.io"
NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (3851828, 3851828),
        ("3851828", 3851828),
        ("0042", 42),
        (f"{BASE}/api/v1/whatsapp/messages/3851828", 3851828),
        ("https://APP.octopods.io:443/api/v1/whatsapp/messages/7", 7),
    ],
)
def test_message_references_accepted(message: object, expected: int) -> None:
    assert refs.message_id_of(message, BASE) == expected


@pytest.mark.parametrize(
    "message",
    [
        True,
        0,
        -5,
        2**63,
        "abc",
        "12a",
        " 12",
        "١٢٣",  # Arabic-Indic digits: str.isdigit() says yes, the API would not
        "../../admin",
        3.0,
        None,
        "https://evil.example/api/v1/whatsapp/messages/1",
        "http://app.octopods.io/api/v1/whatsapp/messages/1",  # scheme differs
        "https://app.octopods.io:8443/api/v1/whatsapp/messages/1",  # port differs
        "https://app.octopods.io@evil.example/api/v1/whatsapp/messages/1",  # userinfo trick
        "https://app.octopods.io/api/v2/whatsapp/messages/1",  # path prefix differs
        "https://app.octopods.io/api/v1/whatsapp/messages/1/../../x",
        "https://app.octopods.io/api/v1/whatsapp/messages/1?redirect=evil",
        "https://app.octopods.io/api/v1/whatsapp/messages/",
        "https://[/api/v1/whatsapp/messages/1",  # urlsplit raises on it (found by hypothesis)
    ],
)
def test_message_references_refused(message: object) -> None:
    with pytest.raises(InvalidMessageReference):
        refs.message_id_of(message, BASE)


def test_url_must_keep_the_base_path_prefix() -> None:
    base = "https://proxy.example/octopods"
    assert refs.message_id_of(f"{base}/api/v1/whatsapp/messages/9", base) == 9
    with pytest.raises(InvalidMessageReference):
        refs.message_id_of("https://proxy.example/api/v1/whatsapp/messages/9", base)


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        (None, "https://app.octopods.io"),
        ("", "https://app.octopods.io"),
        ("app.octopods.io", "https://app.octopods.io"),
        ("http://127.0.0.1:8765/", "http://127.0.0.1:8765"),
        ("https://Proxy.Example/octopods/", "https://proxy.example/octopods"),
    ],
)
def test_base_url_normalised(host: str | None, expected: str) -> None:
    assert refs.normalize_base_url(host) == expected


@pytest.mark.parametrize("host", ["ftp://x", "https://user:pw@x", "https://x/?q=1"])
def test_base_url_refused(host: str) -> None:
    with pytest.raises(ValueError, match="base URL"):
        refs.normalize_base_url(host)


def parse_status(body: bytes, message_id: int) -> MessageStatus:
    """A 200 body read as the call reads it."""
    return answers.status_of(answers.Answer.read({}, body, None), message_id)


def _body(**fields: object) -> bytes:
    data = {
        "request_id": "r-1",
        "message_id": 7,
        "status": "delivered",
        "phone_number": "+15551234567",
        "channel_message_id": "wamid.X",
        "sent_at": "2026-04-24T10:23:45Z",
        "delivered_at": "2026-04-24T10:23:48+00:00",
        "read_at": None,
        "failure_reason": None,
    }
    data.update(fields)
    return json.dumps(data).encode()


def test_parse_status_reads_the_documented_body() -> None:
    status = parse_status(_body(), 7)
    assert status == MessageStatus(
        message_id=7,
        status="delivered",
        phone_number="+15551234567",
        channel_message_id="wamid.X",
        sent_at=datetime(2026, 4, 24, 10, 23, 45, tzinfo=UTC),
        delivered_at=datetime(2026, 4, 24, 10, 23, 48, tzinfo=UTC),
        read_at=None,
        failure_reason=None,
        request_id="r-1",
    )


def test_parse_status_keeps_unknown_values_and_extra_fields() -> None:
    status = parse_status(_body(status="queued", campaign="spring", message_id="7"), 7)
    assert status.status == "queued"
    assert not status.is_known
    assert status.raw["campaign"] == "spring"


def test_parse_status_converts_offsets_and_reads_naive_as_utc() -> None:
    status = parse_status(_body(sent_at="2026-04-24T12:23:45+02:00", delivered_at="2026-04-24T10:23:48"), 7)
    assert status.sent_at == datetime(2026, 4, 24, 10, 23, 45, tzinfo=UTC)
    assert status.delivered_at == datetime(2026, 4, 24, 10, 23, 48, tzinfo=UTC)


@pytest.mark.parametrize(
    "body",
    [
        b"<html>login</html>",
        b'{"request_id": "r-1", "message_id": 7, "sta',
        b"[1, 2]",
        _body(status=None),
        _body(message_id=8),
        _body(sent_at="yesterday"),
        _body(sent_at=12),
    ],
)
def test_parse_status_refuses_what_is_not_the_documented_json(body: bytes) -> None:
    with pytest.raises(OctopodsResponseError) as info:
        parse_status(body, 7)
    assert info.value.retryable
    assert info.value.http_status == 200


def _error(status: int, body: dict[str, object] | bytes, headers: dict[str, str] | None = None):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return failures.error_for(status, headers or {}, raw, message_id=7, conn_id="my_conn", now=NOW)


def test_code_6_is_an_auth_error_whatever_the_status() -> None:
    for status in (400, 403, 422):
        err = _error(status, {"request_id": "r-6", "error_code": 6, "error": "revoked"})
        assert isinstance(err, OctopodsAuthError)
        assert "my_conn" in str(err)
        assert (err.http_status, err.error_code, err.error, err.request_id, err.message_id) == (
            status,
            6,
            "revoked",
            "r-6",
            7,
        )
        assert not err.retryable


@pytest.mark.parametrize("status", [401, 403])
def test_401_and_403_are_auth_errors(status: int) -> None:
    assert isinstance(_error(status, b"Forbidden"), OctopodsAuthError)


def test_other_400_is_a_request_error_with_the_server_fields() -> None:
    err = _error(400, {"request_id": "r-2", "error_code": 17, "error": "Message not found."})
    assert isinstance(err, OctopodsRequestError)
    assert (err.error_code, err.error, err.request_id) == (17, "Message not found.", "r-2")
    assert "r-2" in str(err)
    assert "17" in str(err)


def test_server_error_keeps_a_snippet_of_an_html_body() -> None:
    err = _error(502, b"<html>" + b"x" * 1000 + b"</html>")
    assert isinstance(err, OctopodsServerError)
    assert err.retryable
    assert err.error is not None
    assert err.error.startswith("<html>")
    assert len(err.error) < 300


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
    assert isinstance(call.fail(failures.DROPPED, "reset"), Wait)
    with pytest.raises(OctopodsConnectionError) as info:
        call.fail(failures.TIMEOUT, "slow")
    assert info.value.kind == failures.TIMEOUT
    with pytest.raises(OctopodsTLSError):
        _call().fail(failures.TLS, "certificate verify failed")


@pytest.mark.parametrize("status", [400, 401, 403])
def test_refusals_are_never_retried(status: int) -> None:
    with pytest.raises((OctopodsAuthError, OctopodsRequestError)):
        _call().receive(status, {}, json.dumps({"error_code": 2}).encode(), now=NOW)


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


def test_time_at_a_gate_another_call_closed_counts_against_the_longest_wait() -> None:
    call = _call(RetryPolicy(max_rate_limit_wait=4.0))
    call.waiting_for_rate_limit(3.0, now=NOW)  # this call never met a 429 itself
    with pytest.raises(OctopodsRateLimitError) as info:
        call.waiting_for_rate_limit(3.0, now=NOW)
    assert info.value.message_id == 7
    assert info.value.retry_at == datetime.fromtimestamp(NOW + 3.0, UTC)
    assert "max_rate_limit_wait=4" in str(info.value)


def test_a_past_retry_time_backs_off_with_jitter_instead_of_retrying_at_once() -> None:
    draws = iter([0.0, 1.0, 0.5])
    request = refs.build_request(refs.status_url(BASE, 7), "k")
    call = StatusCall(request, message_id=7, conn_id="c", policy=RetryPolicy(), rand=lambda: next(draws))
    past = json.dumps({"retry_at": NOW - 60}).encode()
    waits = [call.receive(429, {}, past, now=NOW) for _ in range(3)]
    # Equal jitter over 0.5, 1, 2 s: half fixed, half drawn; never the 50 ms margin alone.
    assert [(w.seconds, w.rate_limited) for w in waits] == [(0.25, True), (1.0, True), (1.5, True)]


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


def test_a_wait_carries_what_the_try_met_for_the_driver_to_report() -> None:
    call = _call(RetryPolicy(max_retries=2))
    busy = call.receive(503, {}, b"busy", now=NOW)
    assert isinstance(busy, Wait) and isinstance(busy.cause, OctopodsServerError)
    refused = call.fail(failures.UNREACHABLE, "[Errno 111] Connection refused")
    assert isinstance(refused.cause, OctopodsConnectionError)
    assert f"({BASE})" in str(refused.cause)  # where it went, in the connection's own terms
    limited = _call().receive(429, {}, json.dumps({"retry_at": NOW + 1}).encode(), now=NOW)
    assert isinstance(limited, Wait) and isinstance(limited.cause, OctopodsRateLimitError)


def test_tls_to_a_plain_http_server_says_so() -> None:
    for detail in ("[SSL: WRONG_VERSION_NUMBER] wrong version number", "[SSL] record layer failure"):
        error = failures.transport_error(failures.TLS, detail, 7)
        assert "plain HTTP" in str(error) and "https://" in str(error)
    assert "plain HTTP" not in str(failures.transport_error(failures.TLS, "certificate verify failed", 7))


def test_a_long_text_is_cut_after_a_whole_word() -> None:
    text = "word " * 100
    error = failures.transport_error(failures.DROPPED, text, 7)
    assert error.summary.endswith(" word...")


def test_401_says_the_key_was_refused_whatever_the_reason() -> None:
    text = str(_error(401, b'{"error": "Invalid API key."}'))
    assert "mistyped" in text and "rotated or revoked" in text
    assert "mistyped" not in str(_error(400, json.dumps({"error_code": 6}).encode()))


def test_429_without_a_hint_backs_off() -> None:
    wait = _call(RetryPolicy(backoff_base=2.0)).receive(429, {}, b"{}", now=NOW)
    assert isinstance(wait, Wait) and (wait.seconds, wait.rate_limited) == (2.0, True)


def test_probe_outcomes() -> None:
    ok, text = probe.probe_outcome(400, {}, json.dumps({"request_id": "p", "error_code": 1}).encode(), "c")
    assert ok
    assert "accepted" in text
    ok, text = probe.probe_outcome(400, {}, json.dumps({"error_code": 6}).encode(), "c")
    assert not ok
    assert "revoked" in text
    ok, text = probe.probe_outcome(404, {}, b"<html>Not Found</html>", "c")
    assert not ok
    assert "not as the Octopods API" in text
    ok, text = probe.probe_outcome(200, {}, b"<html>hello</html>", "c")
    assert not ok
    assert "not as the Octopods API" in text


def test_rate_limit_delay_keeps_our_precision_while_the_clocks_agree() -> None:
    headers = {"Date": formatdate(NOW, usegmt=True)}
    assert rate_limit.rate_limit_delay(headers, {"retry_at": NOW + 1.0}, NOW + 0.4) == pytest.approx(0.6)
    # Our clock behind the server's Date: measured from the Date, never early.
    assert rate_limit.rate_limit_delay(headers, {"retry_at": NOW + 1.0}, NOW - 5) == pytest.approx(1.0)


# --- whatever a server sends: a status, a Wait, or a typed error -------------------------

SECRET = "octo-KEY-" + "5e1f" * 6


def _secret_call(policy: RetryPolicy | None = None) -> StatusCall:
    request = refs.build_request(refs.status_url(BASE, 7), SECRET)
    return StatusCall(
        request, message_id=7, conn_id="c", policy=policy or RetryPolicy(max_retries=0), rand=lambda: 0.5
    )


def _raised(http_status: int, body: bytes, headers: dict[str, str] | None = None) -> Exception:
    with pytest.raises(OctopodsError) as info:
        _secret_call().receive(http_status, headers or {}, body, now=NOW)
    return info.value


@pytest.mark.parametrize("status", [200, 400, 500])
def test_json_nested_deeper_than_the_parser_allows_is_a_garbled_body(status: int) -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    error = _raised(status, deep)
    assert isinstance(error, (OctopodsResponseError, OctopodsServerError, OctopodsRequestError))
    assert error.http_status == status


def test_nesting_within_the_parsers_limit_is_read_and_refused_typed() -> None:
    nested = b'{"status": "sent", "message_id": 7, "phone_number": ' + b"[" * 900 + b"]" * 900 + b"}"
    error = _raised(200, nested)
    assert isinstance(error, OctopodsResponseError)
    assert "list or object" in str(error)


@pytest.mark.parametrize(
    "stamp", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "2026-13-01T00:00:00Z", "x" * 5000]
)
def test_a_timestamp_that_does_not_exist_in_utc_is_a_garbled_body(stamp: str) -> None:
    error = _raised(200, _body(sent_at=stamp))
    assert isinstance(error, OctopodsResponseError)
    assert "unreadable timestamp" in str(error)
    assert len(str(error)) < 1000


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (17, 17),
        ("17", 17),
        ("\u0661\u0667", None),  # Arabic-Indic digits: isdigit() and int() say yes, the API does not
        ("\u00b2", None),  # superscript two: isdigit() says yes, int() raises
        (2**31 - 1, 2**31 - 1),
        (2**31, None),  # past the int32 Parquet column: no code
        ("9" * 5000, None),  # past Python's int digit limit
        (-1, None),
        (True, None),
        (17.0, None),
        ([17], None),
    ],
)
def test_error_code_is_an_int32_code_or_none(code: object, expected: int | None) -> None:
    error = _error(400, {"error_code": code, "error": "x"})
    assert error.error_code == expected
    assert error.error == "x"


def test_the_api_key_echoed_by_the_server_is_redacted_everywhere_it_is_kept() -> None:
    from urllib.parse import quote

    echoes = [
        (400, json.dumps({"error_code": 3, "error": f"bad key {SECRET}", "request_id": SECRET}).encode()),
        (502, f"<html>upstream refused X-Octopods-Auth: {SECRET}</html>".encode()),
        (500, f"key={quote(SECRET, safe='')}".encode()),
        (200, _body(status=SECRET, failure_reason=SECRET, sent_at=SECRET)),
        (200, _body(message_id=SECRET)),
    ]
    texts = []
    for status, body in echoes:
        error = _raised(status, body, {"X-Request-Id": SECRET})
        texts += [str(error), repr(error), json.dumps(error.to_dict())]  # type: ignore[attr-defined]
    status = _secret_call().receive(
        200, {"X-Request-Id": SECRET}, _body(failure_reason=f"{SECRET}!"), now=NOW
    )
    assert isinstance(status, MessageStatus)
    texts += [repr(status), json.dumps(status.to_dict()), json.dumps(dict(status.raw))]
    with pytest.raises(OctopodsConnectionError) as info:
        _secret_call().fail(failures.DROPPED, f"Invalid header value b'{SECRET}\\n'")
    texts.append(str(info.value))
    everything = "\n".join(texts)
    assert text.REDACTED in everything
    assert SECRET not in everything and quote(SECRET, safe="") not in everything


def test_a_body_over_the_cap_is_a_response_error() -> None:
    over = b"x" * (answers.MAX_BODY_BYTES + 1)
    for status in (200, 400, 429):
        error = _raised(status, over)
        assert isinstance(error, OctopodsResponseError)
        assert error.http_status == status
        assert "over 1048576 bytes" in str(error)
    ok, text = probe.probe_outcome(400, {}, over, "c")
    assert not ok
    assert "over 1048576 bytes" in text


def test_lone_surrogates_are_replaced_before_anything_keeps_them() -> None:
    status = _secret_call().receive(200, {}, _body(failure_reason="\ud800 x"), now=NOW)
    assert isinstance(status, MessageStatus)
    assert status.failure_reason == "\ufffd x"
    status.failure_reason.encode("utf-8")


@pytest.mark.parametrize(
    "message",
    [
        "9" * 5000,  # past Python's int digit limit
        "0" * 5000 + "1" * 20,
        pytest.param(10**5000, id="an-int-of-5000-digits"),
        f"{BASE}/api/v1/whatsapp/messages/{'9' * 5000}",
    ],
)
def test_ids_of_thousands_of_digits_are_refused_typed(message: object) -> None:
    with pytest.raises(InvalidMessageReference) as info:
        refs.message_id_of(message, BASE)
    assert len(str(info.value)) < 400


def test_leading_zeros_do_not_count_against_the_id_length() -> None:
    assert refs.message_id_of("0" * 5000 + "42", BASE) == 42
