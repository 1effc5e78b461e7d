"""protocol.failures: the typed error of an answer other than a 200 (code 6, 401, 403, other
400s, 5xx) and of a request that got no answer (TLS to a plain-HTTP server)."""

from __future__ import annotations

import json

import pytest

from airflow_provider_octopods.errors import OctopodsAuthError, OctopodsRequestError, OctopodsServerError
from airflow_provider_octopods.protocol import failures
from tests.protocol_cases import _error


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


def test_401_says_the_key_was_refused_whatever_the_reason() -> None:
    text = str(_error(401, b'{"error": "Invalid API key."}'))
    assert "mistyped" in text and "rotated or revoked" in text
    assert "mistyped" not in str(_error(400, json.dumps({"error_code": 6}).encode()))


def test_tls_to_a_plain_http_server_says_so() -> None:
    for detail in ("[SSL: WRONG_VERSION_NUMBER] wrong version number", "[SSL] record layer failure"):
        error = failures.transport_error(failures.NoAnswer.TLS, detail, 7)
        assert "plain HTTP" in str(error) and "https://" in str(error)
    assert "plain HTTP" not in str(
        failures.transport_error(failures.NoAnswer.TLS, "certificate verify failed", 7)
    )
