"""The blocking client against the emulator over real HTTP on loopback."""

from __future__ import annotations

from datetime import timedelta

import pytest

from airflow_provider_octopods.clients.pacing import RequestGate
from airflow_provider_octopods.clients.sync_client import OctopodsClient
from airflow_provider_octopods.emulator import FAILURE_REASONS, RETRY_HINTS, Emulator
from airflow_provider_octopods.errors import (
    InvalidMessageReference,
    OctopodsAuthError,
    OctopodsConnectionError,
    OctopodsRateLimitError,
    OctopodsRequestError,
    OctopodsResponseError,
    OctopodsServerError,
    OctopodsTLSError,
)
from tests.conftest import settings_for


class RecordingSleep:
    """Stands in for time.sleep where only the decision to wait matters, not the wait: a
    virtual clock that the client's gate reads, with no pacing of its own."""

    def __init__(self) -> None:
        self.calls: list[float] = []
        self.now = 0.0
        self.gate = RequestGate(None, now=lambda: self.now)

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        self.now += seconds


def client(emulator: Emulator, sleep: RecordingSleep | None = None, **extra: object) -> OctopodsClient:
    settings = settings_for(emulator, **extra)
    return OctopodsClient(settings, sleep=sleep, gate=sleep.gate) if sleep else OctopodsClient(settings)


def test_each_status_with_its_timestamps(emulator: Emulator) -> None:
    sent, delivered, read, failed, read_only = (
        emulator.add_messages()[0],
        emulator.add_messages(deliver_after=0)[0],
        emulator.add_messages(deliver_after=0, read_after=0)[0],
        emulator.add_messages(fail_after=0, failure_reason=FAILURE_REASONS[1])[0],
        emulator.add_messages(read_after=0)[0],
    )
    with client(emulator) as c:
        got = {m: c.get_message_status(m) for m in (sent, delivered, read, failed, read_only)}
    assert [got[m].status for m in (sent, delivered, read, failed, read_only)] == [
        "sent",
        "delivered",
        "read",
        "failed",
        "read",
    ]
    assert got[sent].sent_at is not None
    assert got[sent].delivered_at is None
    assert got[sent].sent_at.utcoffset() == timedelta(0)
    assert got[read].read_at is not None
    assert got[read].delivered_at is not None
    assert got[failed].failure_reason == FAILURE_REASONS[1]
    assert got[failed].is_terminal
    # Read without a reported delivery: no delivered_at, yet the delivery stage is reached.
    assert got[read_only].delivered_at is None
    assert got[read_only].has_reached("delivered")
    assert all(s.request_id for s in got.values())


def test_status_moves_on_as_the_scenario_clock_advances(emulator: Emulator) -> None:
    [message] = emulator.add_messages(deliver_after=60, read_after=900)
    with client(emulator) as c:
        assert c.get_message_status(message).status == "sent"
        emulator.advance(61)
        assert c.get_message_status(message).status == "delivered"
        emulator.advance(900)
        assert c.get_message_status(message).status == "read"


def test_unknown_status_is_kept(emulator: Emulator) -> None:
    [message] = emulator.add_messages(status="queued_for_retry")
    with client(emulator) as c:
        status = c.get_message_status(message)
    assert status.status == "queued_for_retry"
    assert not status.is_known
    assert not status.is_terminal


def test_message_status_url_is_accepted(emulator: Emulator) -> None:
    [message] = emulator.add_messages(deliver_after=0)
    with client(emulator) as c:
        assert c.get_message_status(emulator.message_status_url(message)).message_id == message


@pytest.mark.parametrize("fault", ["server_error", "bad_gateway_html", "html_200", "truncated", "drop"])
def test_faults_are_retried_until_success(emulator: Emulator, fault: str) -> None:
    [message] = emulator.add_messages(deliver_after=0)
    emulator.inject(fault, times=2)
    sleep = RecordingSleep()
    with client(emulator, sleep) as c:
        assert c.get_message_status(message).status == "delivered"
    assert [r.fault for r in emulator.requests(message)] == [fault, fault, None]
    assert len(sleep.calls) == 2
    assert sleep.calls[1] > sleep.calls[0] / 2


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ("server_error", OctopodsServerError),
        ("truncated", OctopodsResponseError),
        ("drop", OctopodsConnectionError),
    ],
)
def test_retries_spent_end_in_a_typed_error(emulator: Emulator, fault: str, error: type[Exception]) -> None:
    [message] = emulator.add_messages(deliver_after=0)
    emulator.inject(fault, times=10)
    with client(emulator, RecordingSleep(), max_retries=2) as c, pytest.raises(error) as info:
        c.get_message_status(message)
    assert len(emulator.requests(message)) == 3
    assert info.value.message_id == message
    if fault == "server_error":
        assert info.value.request_id
        assert info.value.http_status == 500


def test_slow_reply_times_out_then_retries(emulator: Emulator) -> None:
    [message] = emulator.add_messages(deliver_after=0)
    emulator.inject("slow", times=1, seconds=2.0)
    with client(emulator, RecordingSleep(), timeout=0.3) as c:
        assert c.get_message_status(message).status == "delivered"
    assert [r.fault for r in emulator.requests(message)] == ["slow", None]


def test_revoked_key_fails_fast_without_retries(emulator: Emulator) -> None:
    [message] = emulator.add_messages(deliver_after=0)
    sleep = RecordingSleep()
    with client(emulator, sleep) as c_ok:
        settings = settings_for(emulator, api_key=emulator.revoked_key)
        revoked = OctopodsClient(settings, sleep=sleep, gate=sleep.gate)
        with revoked as c, pytest.raises(OctopodsAuthError) as info:
            c.get_message_status(message)
        c_ok.get_message_status(message)
    assert info.value.error_code == 6
    assert info.value.request_id
    assert "octopods_test" in str(info.value)
    assert len(emulator.requests(message)) == 2
    assert sleep.calls == []


def test_unknown_message_is_a_request_error_with_the_servers_fields(emulator: Emulator) -> None:
    with client(emulator, RecordingSleep()) as c, pytest.raises(OctopodsRequestError) as info:
        c.get_message_status(999)
    err = info.value
    assert (err.http_status, err.error_code, err.error) == (400, 2, "Message not found.")
    assert err.request_id
    assert err.request_id in str(err)
    assert len(emulator.requests(999)) == 1


def test_a_message_of_another_key_is_not_found(emulator: Emulator) -> None:
    emulator.state.keys.add("other-key")
    [message] = emulator.add_messages(deliver_after=0, api_key="other-key")
    with client(emulator) as c, pytest.raises(OctopodsRequestError):
        c.get_message_status(message)


@pytest.mark.parametrize("hint", [h for h in RETRY_HINTS if h != "none"])
def test_429_is_never_retried_before_the_retry_time(emulator: Emulator, hint: str) -> None:
    [message] = emulator.add_messages(deliver_after=0)
    emulator.set_rate_limit(per_second=2, burst=1, hint=hint)
    with client(emulator) as c:
        statuses = [c.get_message_status(message).status for _ in range(3)]
    assert statuses == ["delivered"] * 3
    log = emulator.requests(message)
    limited = [i for i, r in enumerate(log) if r.http_status == 429]
    assert limited, "the rate limit was never met: the test proves nothing"
    for i in limited:
        assert log[i + 1].at >= log[i].retry_at  # server-side clock on both sides


def test_429_past_the_longest_wait_fails_with_the_retry_time(emulator: Emulator) -> None:
    [message] = emulator.add_messages(deliver_after=0)
    emulator.inject("rate_limit", times=1, seconds=60)
    with (
        client(emulator, RecordingSleep(), max_rate_limit_wait=5) as c,
        pytest.raises(OctopodsRateLimitError) as info,
    ):
        c.get_message_status(message)
    assert info.value.retry_at is not None
    assert info.value.http_status == 429
    assert len(emulator.requests(message)) == 1


def test_foreign_status_url_is_refused_before_any_request(emulator: Emulator) -> None:
    with Emulator() as other:
        [message] = other.add_messages(deliver_after=0)
        with client(emulator) as c, pytest.raises(InvalidMessageReference):
            c.get_message_status(other.message_status_url(message))
        assert other.requests() == []
    assert emulator.requests() == []


@pytest.mark.parametrize("bad", ["abc", -5, 0, "12; DROP", "../1", True])
def test_bad_ids_are_refused_before_any_request(emulator: Emulator, bad: object) -> None:
    with client(emulator) as c, pytest.raises(InvalidMessageReference):
        c.get_message_status(bad)
    assert emulator.requests() == []


def test_after_polls_moves_a_message_once_polled_that_often(emulator: Emulator) -> None:
    [message] = emulator.add_messages(after_polls=(2, "delivered"))
    emulator.inject("drop", times=1, message_id=message)  # an unanswered poll does not count
    with client(emulator, RecordingSleep()) as c:
        assert [c.get_message_status(message).status for _ in range(3)] == ["sent", "sent", "delivered"]


def test_an_unreachable_host_is_told_in_the_sockets_own_words() -> None:
    from airflow_provider_octopods.connection.settings import OctopodsSettings

    settings = OctopodsSettings.from_connection_fields("c", "http://127.0.0.1:1", "key", {"max_retries": 0})
    with OctopodsClient(settings) as unreachable, pytest.raises(OctopodsConnectionError) as info:
        unreachable.get_message_status(7)
    text = str(info.value)
    assert "could not be reached (http://127.0.0.1:1): [Errno 111] Connection refused" in text
    assert "HTTPConnectionPool" not in text and "..." not in text  # whole, not cut mid-phrase


@pytest.mark.parametrize("driver", ["sync", "async"])
def test_https_to_a_plain_http_server_says_so(emulator: Emulator, driver: str) -> None:
    import asyncio

    from airflow_provider_octopods.clients.async_client import AsyncOctopodsClient
    from airflow_provider_octopods.connection.settings import OctopodsSettings

    host = emulator.base_url.replace("http://", "https://")
    settings = OctopodsSettings.from_connection_fields("c", host, emulator.api_key, {})

    async def fetch() -> None:
        async with AsyncOctopodsClient(settings) as client:
            await client.get_message_status(7)

    def sync_fetch() -> None:
        OctopodsClient(settings).get_message_status(7)

    with pytest.raises(OctopodsTLSError) as info:
        sync_fetch() if driver == "sync" else asyncio.run(fetch())
    assert "plain HTTP where TLS was expected" in str(info.value)
    assert emulator.requests() == []
