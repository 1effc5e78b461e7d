"""Both drivers against a hostile server (tests/hostile.py): what the emulator never sends ends
typed, within the connection's time, in bounded memory, and without the key."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from airflow.sdk import ObjectStoragePath

from airflow_provider_octopods.clients.async_client import AsyncOctopodsClient
from airflow_provider_octopods.clients.sync_client import OctopodsClient
from airflow_provider_octopods.connection.settings import OctopodsSettings
from airflow_provider_octopods.errors import (
    OctopodsConnectionError,
    OctopodsError,
    OctopodsRateLimitError,
    OctopodsRequestError,
    OctopodsResponseError,
)
from airflow_provider_octopods.parquet.schema import RowBuffer
from airflow_provider_octopods.snapshot.checkpoint import Progress
from airflow_provider_octopods.snapshot.fetch import fetch_into
from airflow_provider_octopods.status import MessageStatus
from tests.hostile import (
    Conn,
    HostileServer,
    Received,
    answer_with,
    compressed_bomb,
    endless_chunks,
    huge_body,
    response,
    silent,
    trickle,
)

KEY = "octo-HOSTILE-" + "a1b2" * 6
MiB = 1 << 20


def settings(server: HostileServer, **extra: Any) -> OctopodsSettings:
    extra.setdefault("max_retries", 0)
    return OctopodsSettings.from_connection_fields("hostile", server.base_url, KEY, extra)


def sync_status(server: HostileServer, **extra: Any) -> MessageStatus:
    with OctopodsClient(settings(server, **extra)) as client:
        return client.get_message_status(7)


def async_status(server: HostileServer, **extra: Any) -> MessageStatus:
    async def main() -> MessageStatus:
        async with AsyncOctopodsClient(settings(server, **extra), requests_per_second=float("inf")) as client:
            return await client.get_message_status(7)

    return asyncio.run(main())


PATHS: dict[str, Callable[..., MessageStatus]] = {"sync": sync_status, "async": async_status}


def raised(path: str, server: HostileServer, **extra: Any) -> OctopodsError:
    with pytest.raises(OctopodsError) as info:
        PATHS[path](server, **extra)
    return info.value


def wait_for(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


# --- bounded memory ---------------------------------------------------------------------


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(
    "answer",
    [huge_body(128 * MiB), endless_chunks, compressed_bomb(256 * MiB)],
    ids=["128MiB", "endless", "gzip-bomb"],
)
def test_a_body_over_the_cap_is_a_response_error_and_the_rest_is_not_read(
    path: str, answer: Callable[[Conn, Received], None]
) -> None:
    with HostileServer(answer) as server:
        tracemalloc.start()
        try:
            error = raised(path, server, timeout=30)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        wait_for(lambda: server.answers_ended == 1)  # the client dropped the connection
    assert isinstance(error, OctopodsResponseError)
    assert "over 1048576 bytes" in str(error)
    assert peak < 8 * MiB
    # What the kernel's socket buffers took in, not the 128 MiB or the endless stream.
    assert server.bytes_sent < 32 * MiB


# --- bounded time -----------------------------------------------------------------------

DOCUMENTED = response(200, {"message_id": 7, "status": "sent", "request_id": "r"})
# A bound, not a speed target: a 1 s timeout (1.5 s deadline) ends well inside it even on a
# loaded machine, while the trickle would take a minute, the 429 storm 20 s, silence 60 s.
BOUND = 10.0
assert len(DOCUMENTED) * 0.5 > 3 * BOUND


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("part", ["head", "body"])
def test_a_trickle_cannot_hold_a_request_past_its_timeout(path: str, part: str) -> None:
    head, body = DOCUMENTED.split(b"\r\n\r\n", 1)
    fast, slow = (b"", DOCUMENTED) if part == "head" else (head + b"\r\n\r\n", body)

    def answer(conn: Conn, request: Received) -> None:
        conn.send(fast)
        trickle(slow, every=0.5)(conn, request)

    with HostileServer(answer) as server:
        started = time.monotonic()
        error = raised(path, server, timeout=1.0)
        elapsed = time.monotonic() - started
    assert isinstance(error, OctopodsConnectionError)
    assert error.kind == "timeout"
    assert elapsed < BOUND  # one timeout, not a byte every half second for ever


def test_the_test_button_is_bounded_by_the_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow_provider_octopods.hooks.octopods import OctopodsHook

    with HostileServer(trickle(DOCUMENTED, every=0.5)) as server:
        monkeypatch.setenv("AIRFLOW_CONN_HOSTILE", json.dumps(server.connection(timeout=1.0)))
        started = time.monotonic()
        ok, text = OctopodsHook(octopods_conn_id="hostile").test_connection()
        elapsed = time.monotonic() - started
    assert not ok
    assert "did not answer in time" in text
    assert elapsed < BOUND


def test_a_poke_is_bounded_by_the_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow_provider_octopods.sensors.message_status import MessageStatusSensor

    with HostileServer(trickle(DOCUMENTED, every=0.5)) as server:
        monkeypatch.setenv(
            "AIRFLOW_CONN_OCTOPODS_DEFAULT", json.dumps(server.connection(timeout=1.0, max_retries=0))
        )
        sensor = MessageStatusSensor(task_id="wait", message_id=7, mode="poke", deferrable=False)
        started = time.monotonic()
        result = sensor.poke({})
        elapsed = time.monotonic() - started
    assert not result.is_done  # the timeout is a passing failure: the next poke tries again
    assert elapsed < BOUND


# --- what the emulator never sends ------------------------------------------------------

PAST = datetime.fromtimestamp(time.time() - 120, UTC).isoformat()


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (answer_with(200, b"[" * 200_000 + b"]" * 200_000), OctopodsResponseError),
        (answer_with(400, b'{"error_code": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"), OctopodsRequestError),
        (
            answer_with(200, {"message_id": 7, "status": "sent", "sent_at": "0001-01-01T00:00:00+01:00"}),
            OctopodsResponseError,
        ),
        (
            answer_with(200, {"message_id": 7, "status": "sent", "read_at": "9999-12-31T23:59:59-01:00"}),
            OctopodsResponseError,
        ),
        (answer_with(400, {"error_code": "\u00b2", "error": "superscript"}), OctopodsRequestError),
        (answer_with(400, {"error_code": 2**40, "error": "past int32"}), OctopodsRequestError),
        (answer_with(400, b'{"error_code": ' + b"9" * 5000 + b"}"), OctopodsRequestError),
        (answer_with(429, {"retry_at": 1e300}, {"Retry-After": "NaN"}), OctopodsRateLimitError),
        (answer_with(429, b'{"retry_after": ' + b"9" * 5000 + b"}"), OctopodsRateLimitError),
        (
            answer_with(429, {"retry_at": "9999-12-31T23:59:59-23:59"}, {"Retry-After": "1e999"}),
            OctopodsRateLimitError,
        ),
        (answer_with(429, {"retry_at": 10**30}), OctopodsRateLimitError),
    ],
    ids=[
        "200-nested",
        "400-nested",
        "year-1-plus-offset",
        "year-9999-minus-offset",
        "code-superscript",
        "code-past-int32",
        "code-5000-digits",
        "retry-1e300-nan",
        "retry-5000-digits",
        "retry-overflow",
        "retry-10e30",
    ],
)
def test_absurd_answers_end_typed(
    path: str, answer: Callable[[Conn, Received], None], expected: type
) -> None:
    with HostileServer(answer) as server:
        error = raised(path, server, max_rate_limit_wait=0.3)
    assert type(error) is expected
    assert error.error_code is None


@pytest.mark.parametrize("path", PATHS)
def test_a_retry_time_in_the_past_backs_off_instead_of_hammering(path: str) -> None:
    """A server clock behind ours and no Date: the hint is already past when it arrives."""
    with HostileServer(answer_with(429, {"retry_at": PAST})) as server:
        error = raised(path, server, max_rate_limit_wait=3)
        arrivals = [r.at for r in server.requests]
    assert isinstance(error, OctopodsRateLimitError)
    # Backoff with jitter (0.25-0.5 s, then 0.5-1, 1-2): a handful, not one every 50 ms.
    assert 2 <= len(arrivals) <= 6
    assert min(b - a for a, b in itertools.pairwise(arrivals)) >= 0.2


# --- the key echoed back ----------------------------------------------------------------


def echo(status: int) -> Callable[[Conn, Received], None]:
    def answer(conn: Conn, request: Received) -> None:
        key = request.headers.get("X-Octopods-Auth", "")
        body = {"error_code": 2, "error": f"Key {key} may not read this", "request_id": key}
        conn.send(response(status, body, {"X-Request-Id": key}))

    return answer


@pytest.mark.parametrize("path", PATHS)
def test_an_echoed_key_is_redacted_in_the_error(path: str) -> None:
    with HostileServer(echo(400)) as server:
        error = raised(path, server)
        assert server.requests[0].headers["X-Octopods-Auth"] == KEY  # it was echoed
    for text in (str(error), repr(error), json.dumps(error.to_dict())):
        assert KEY not in text
    assert "***" in str(error)


def test_an_echoed_key_is_redacted_in_the_parquet_error_column(tmp_path: Path) -> None:
    buffer = RowBuffer()
    progress = Progress(ObjectStoragePath(f"file://{tmp_path}"), "0" * 16, 1, buffer.schema)

    async def main() -> None:
        async with AsyncOctopodsClient(settings(server), requests_per_second=float("inf")) as client:
            await fetch_into(client, [7, 8, 9], progress, buffer, total=3, log=logging.getLogger("test"))

    with HostileServer(echo(400)) as server:
        asyncio.run(main())
    [piece] = progress.pieces()
    errors = pq.read_table(piece).column("error").to_pylist()
    assert len(errors) == 3
    assert all("***" in e and KEY not in e for e in errors)
    assert KEY.encode() not in Path(piece).read_bytes()


def test_an_echoed_key_is_redacted_in_the_trigger_log(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    from tests.test_trigger import run, trigger

    with HostileServer(echo(500)) as server:
        monkeypatch.setenv("AIRFLOW_CONN_OCTOPODS_DEFAULT", json.dumps(server.connection(KEY, max_retries=0)))
        event = run(trigger([7], timeout=1.0))
        assert len(server.requests) >= 2
    assert event["status"] == "timeout"
    logged = caplog.text + "".join(capfd.readouterr())
    assert "failed since the last warning" in logged
    assert KEY not in logged and KEY not in json.dumps(event)


# --- the trigger's deadline -------------------------------------------------------------


@pytest.mark.parametrize(
    "answer",
    [silent, answer_with(429, {"error": "slow down"}, {"Retry-After": "20"}), trickle(DOCUMENTED, 0.5)],
    ids=["never-answers", "429-storm", "trickle"],
)
def test_the_trigger_deadline_cuts_what_is_in_progress(
    monkeypatch: pytest.MonkeyPatch, answer: Callable[[Conn, Received], None]
) -> None:
    from tests.test_trigger import run, trigger

    with HostileServer(answer) as server:
        monkeypatch.setenv("AIRFLOW_CONN_OCTOPODS_DEFAULT", json.dumps(server.connection(KEY, timeout=60)))
        started = time.monotonic()
        event = run(trigger([7], timeout=1.5))
        elapsed = time.monotonic() - started
        assert server.requests  # a request was in progress when the deadline came
    assert event["status"] == "timeout"
    assert event["result"]["pending"] == 1
    assert elapsed < BOUND
