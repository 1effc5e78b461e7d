"""What the protocol tests share: the base URL, a fixed now, a documented 200 body, a key a
server may echo, and the ways to meet the rules with them (an error for an answer, a call that
must raise)."""

from __future__ import annotations

import json

import pytest

from airflow_provider_octopods.errors import OctopodsError
from airflow_provider_octopods.protocol import failures, refs
from airflow_provider_octopods.protocol.call import RetryPolicy, StatusCall

BASE = "https://app.octopods.io"
NOW = 1_800_000_000.0


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


def _error(status: int, body: dict[str, object] | bytes, headers: dict[str, str] | None = None):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return failures.error_for(status, headers or {}, raw, message_id=7, conn_id="my_conn", now=NOW)


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
