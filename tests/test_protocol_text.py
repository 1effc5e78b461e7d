"""protocol.text: what a server sent, cut after a whole word and without the API key wherever
it is kept (an error, its dict, a status, a transport failure)."""

from __future__ import annotations

import json

import pytest

from airflow_provider_octopods.errors import OctopodsConnectionError
from airflow_provider_octopods.protocol import failures, text
from airflow_provider_octopods.status import MessageStatus
from tests.protocol_cases import NOW, SECRET, _body, _raised, _secret_call


def test_a_long_text_is_cut_after_a_whole_word() -> None:
    text = "word " * 100
    error = failures.transport_error(failures.NoAnswer.DROPPED, text, 7)
    assert error.summary.endswith(" word...")


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
        _secret_call().fail(failures.NoAnswer.DROPPED, f"Invalid header value b'{SECRET}\\n'")
    texts.append(str(info.value))
    everything = "\n".join(texts)
    assert text.REDACTED in everything
    assert SECRET not in everything and quote(SECRET, safe="") not in everything
