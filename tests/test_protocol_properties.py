"""Property-based tests of the protocol core: whatever a server sends and whatever a user
passes, the answer is a status, a Wait, a typed error or a refused input, never anything else."""

from __future__ import annotations

import json
import math
from typing import Any
from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_octopods.errors import InvalidMessageReference, OctopodsError, OctopodsRateLimitError
from airflow_provider_octopods.protocol import answers, failures, rate_limit, refs
from airflow_provider_octopods.protocol.call import RetryPolicy, StatusCall, Wait
from airflow_provider_octopods.snapshot import inputs
from airflow_provider_octopods.status import MessageStatus

BASE = "https://app.octopods.io"
NOW = 1_800_000_000.0
MESSAGE_ID = 7
SECRET = "octo-PROP-" + "9c4e" * 6
POLICY = RetryPolicy(max_retries=3, max_rate_limit_wait=60.0)
PROPERTY_SETTINGS = settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)

odd_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=40) | st.sampled_from(
    [SECRET, f"key {SECRET}", quote(SECRET, safe=""), "\ud800", "\x00", "١٢٣", "²", "NaN"]
)
huge_numbers = st.sampled_from(
    [10**400, -(10**400), 2**31, 2**63, 2**64, 1e308, -1e308, 1.8e12, 1.8e15, 5e-324, 0, -1]
)
numbers = st.integers() | st.floats(allow_nan=True, allow_infinity=True) | huge_numbers
timestamps = st.sampled_from(
    [
        "2026-04-24T10:23:45Z",
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-01:00",
        "2026-04-24T10:23:45",
        "Mon, 01 Jan 2026 00:00:00 GMT",
        "Mon, 01 Jan 99999 00:00:00 GMT",
        "1800000010",
        "1800000010000",
        "-5",
        "1e999",
    ]
)
scalars = st.none() | st.booleans() | numbers | odd_text | timestamps
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(odd_text, inner, max_size=4),
    max_leaves=12,
)
FIELDS = ("request_id", "message_id", "status", "phone_number", "channel_message_id", "failure_reason")
documented_like = st.fixed_dictionaries(
    {
        "message_id": st.just(MESSAGE_ID) | st.just(str(MESSAGE_ID)) | json_values,
        "status": st.sampled_from(["sent", "delivered", "read", "failed"]) | json_values,
    },
    optional={
        **{
            name: json_values
            for name in ("request_id", "phone_number", "channel_message_id", "failure_reason")
        },
        **{name: timestamps | json_values for name in ("sent_at", "delivered_at", "read_at")},
        **{name: timestamps | numbers | json_values for name in ("retry_at", "retry_after", "reset_at")},
        "error_code": numbers | odd_text | st.sampled_from(["6", "17", "٦", "9" * 5000]) | json_values,
        "error": json_values,
    },
)


def _dump(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["documented", "json", "truncated", "nested", "bytes", "huge_number"]))
    if kind == "documented":
        return _dump(draw(documented_like))
    if kind == "json":
        return _dump(draw(json_values))
    if kind == "truncated":
        whole = _dump(draw(documented_like))
        return whole[: draw(st.integers(0, max(len(whole) - 1, 0)))]
    if kind == "nested":
        depth = draw(st.integers(1, 200_000))
        opener, closer = draw(st.sampled_from([(b"[", b"]"), (b'{"a":', b"}")]))
        return opener * depth + b"1" + closer * depth
    if kind == "huge_number":
        digits = "9" * draw(st.integers(300, 6000))
        return f'{{"message_id": 7, "status": "sent", "error_code": {digits}, "retry_at": {digits}}}'.encode()
    return draw(st.binary(max_size=300))


header_values = odd_text | timestamps | numbers.map(str)
headers = st.dictionaries(
    st.sampled_from(["Retry-After", "Date", "X-Request-Id", "Content-Type"]), header_values, max_size=4
)
statuses = st.sampled_from([200, 400, 401, 403, 404, 429, 500, 502, 503]) | st.integers(0, 999)


def _call() -> StatusCall:
    request = refs.build_request(refs.status_url(BASE, MESSAGE_ID), SECRET)
    return StatusCall(request, message_id=MESSAGE_ID, conn_id="c", policy=POLICY)


def _no_secret(*texts: str) -> None:
    for text in texts:
        assert SECRET not in text and quote(SECRET, safe="") not in text


def _check_error(error: OctopodsError) -> None:
    assert error.error_code is None or 0 <= error.error_code <= answers.MAX_ERROR_CODE
    _no_secret(str(error), repr(error), json.dumps(error.to_dict()))
    str(error).encode("utf-8")
    if isinstance(error, OctopodsRateLimitError) and error.retry_at is not None:
        assert error.retry_at.timestamp() <= NOW + rate_limit.MAX_RATE_LIMIT_HINT + 1


def _check_status(status: MessageStatus) -> None:
    assert status.message_id == MESSAGE_ID
    assert isinstance(status.status, str) and status.status
    as_json = json.dumps(status.to_dict())
    as_json.encode("utf-8")
    _no_secret(as_json, repr(status))


@PROPERTY_SETTINGS
@given(answers=st.lists(st.tuples(statuses, headers, bodies()), min_size=1, max_size=6))
def test_any_answers_end_in_a_status_a_wait_or_a_typed_error(
    answers: list[tuple[int, dict[str, str], bytes]],
) -> None:
    call = _call()
    for http_status, answer_headers, body in answers:
        try:
            step = call.receive(http_status, answer_headers, body, now=NOW)
        except OctopodsError as exc:
            _check_error(exc)
            return
        if isinstance(step, MessageStatus):
            _check_status(step)
            return
        assert isinstance(step, Wait)
        assert math.isfinite(step.seconds) and 0 < step.seconds <= POLICY.max_rate_limit_wait
        if step.rate_limited:
            call.waiting_for_rate_limit(step.seconds, now=NOW)


@PROPERTY_SETTINGS
@given(
    kind=st.sampled_from(
        [
            failures.NoAnswer.TIMEOUT,
            failures.NoAnswer.UNREACHABLE,
            failures.NoAnswer.DROPPED,
            failures.NoAnswer.TLS,
        ]
    ),
    detail=odd_text,
    times=st.integers(1, 6),
)
def test_any_transport_failure_ends_in_a_wait_or_a_typed_error(kind: str, detail: str, times: int) -> None:
    call = _call()
    try:
        for _ in range(times):
            assert isinstance(call.fail(kind, detail), Wait)
    except OctopodsError as exc:
        _check_error(exc)


references = (
    st.integers()
    | huge_numbers
    | st.just(10**5000)
    | st.from_regex(r"\A[0-9]{1,6000}\Z")
    | odd_text
    | st.builds(
        lambda tail: f"{BASE}/api/v1/whatsapp/messages/{tail}", st.from_regex(r"\A[0-9]{0,5000}\Z") | odd_text
    )
    | st.builds(lambda host, tail: f"https://{host}/api/v1/whatsapp/messages/{tail}", odd_text, odd_text)
    | json_values
)


@PROPERTY_SETTINGS
@given(reference=references)
def test_any_user_reference_is_an_id_or_refused_typed(reference: object) -> None:
    try:
        message_id: int | str = refs.message_id_of(reference, BASE)
    except InvalidMessageReference as exc:
        message_id = str(exc)
    if isinstance(message_id, int):
        assert 0 < message_id <= refs.MAX_MESSAGE_ID
    else:
        assert len(message_id) < 500


@PROPERTY_SETTINGS
@given(references=st.lists(references, max_size=20))
def test_any_snapshot_input_is_counted_as_an_id_or_an_invalid_input(references: list[object]) -> None:
    got = inputs.collect(references, BASE)
    assert got.received == len(references)
    assert len(got.ids) + got.invalid + got.duplicates == got.received
    assert all(len(sample) <= 110 for sample in got.invalid_samples)


@st.composite
def encoded_bodies(draw: st.DrawFn) -> bytes:
    """Bodies as a server may spell them: escaped or not, in any encoding json reads."""
    value = draw(documented_like | json_values)
    text = json.dumps(value, ensure_ascii=draw(st.booleans()))
    return text.encode(draw(st.sampled_from(["utf-8", "utf-16", "utf-32", "utf-8-sig"])), "surrogatepass")


@PROPERTY_SETTINGS
@given(body=encoded_bodies() | bodies(), secret=st.sampled_from([SECRET, "a/b c", None]))
def test_reading_an_answer_cleans_as_a_walk_of_every_string_would(body: bytes, secret: str | None) -> None:
    """The walk over every decoded string is skipped only where it could change nothing, and
    the faster decoder of strict bodies reads what json reads, the same."""
    try:
        walked = answers._cleaned(json.loads(body), secret)
    except (ValueError, UnicodeDecodeError, RecursionError):
        walked = None
    read = answers.Answer.read({}, body, secret).data
    assert json.dumps(read) == json.dumps(walked)
