"""protocol.answers: a 200's body read into a status, or a typed error for what is not the
documented JSON (garbled, too deep, too large, unreadable timestamps); error codes as int32."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from airflow_provider_octopods.errors import OctopodsRequestError, OctopodsResponseError, OctopodsServerError
from airflow_provider_octopods.protocol import answers, probe
from airflow_provider_octopods.status import MessageStatus
from tests.protocol_cases import NOW, _body, _error, _raised, _secret_call


def parse_status(body: bytes, message_id: int) -> MessageStatus:
    """A 200 body read as the call reads it."""
    return answers.status_of(answers.Answer.read({}, body, None), message_id)


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
