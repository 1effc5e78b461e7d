"""MessageStatusTrigger run with asyncio against the emulator, with a fast polling policy."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

from airflow_provider_octopods.emulator import Emulator
from airflow_provider_octopods.triggers.message_status import MessageStatusTrigger

FAST = {"first_delay": 0.05, "interval": 0.05, "backoff": 1.5, "max_interval": 0.2, "read_interval": 0.3}


def connect(
    monkeypatch: pytest.MonkeyPatch, emulator: Emulator, api_key: str | None = None, **extra: Any
) -> None:
    """octopods_default in the environment, at the emulator, with a rate budget fit for tests."""
    extra.setdefault("requests_per_second", 500)
    monkeypatch.setenv("AIRFLOW_CONN_OCTOPODS_DEFAULT", emulator.connection_json(api_key=api_key, **extra))


@pytest.fixture(autouse=True)
def _connection(monkeypatch: pytest.MonkeyPatch, emulator: Emulator) -> None:
    connect(monkeypatch, emulator)


def trigger(
    message_ids: list[int], target: str = "delivered", timeout: float = 20.0, **kwargs: Any
) -> MessageStatusTrigger:
    now = time.time()
    kwargs.setdefault("policy", FAST)
    return MessageStatusTrigger(
        message_ids=message_ids, target_status=target, deadline=now + timeout, started_at=now, **kwargs
    )


def run(trig: MessageStatusTrigger) -> dict[str, Any]:
    async def first_event() -> dict[str, Any]:
        events = [event.payload async for event in trig.run()]
        assert len(events) == 1  # exactly one event, always
        return events[0]

    event = asyncio.run(asyncio.wait_for(first_event(), timeout=60))
    assert len(json.dumps(event)) < 100_000
    return event


def test_delivered_after_a_delay(emulator: Emulator) -> None:
    [message] = emulator.add_messages(deliver_after=0.6)
    event = run(trigger([message], single=True))
    assert event["status"] == "success"
    result = event["result"]
    assert result["message_id"] == message
    assert result["status"] == "delivered" and result["delivered_at"]
    log = emulator.requests(message)
    assert [r.http_status for r in log] == [200] * len(log)
    assert 2 <= len(log) <= 8  # polled while sent, stopped once delivered


def test_read_without_a_reported_delivery_meets_delivered(emulator: Emulator) -> None:
    [message] = emulator.add_messages(read_after=0.2)
    event = run(trigger([message], single=True))
    assert event["status"] == "success"
    assert event["result"]["status"] == "read" and event["result"]["delivered_at"] is None


def test_waiting_for_read(emulator: Emulator) -> None:
    [message] = emulator.add_messages(deliver_after=0, read_after=0.5)
    event = run(trigger([message], target="read", single=True))
    assert event["status"] == "success" and event["result"]["status"] == "read"


def test_failed_with_its_reason(emulator: Emulator) -> None:
    [message] = emulator.add_messages(
        fail_after=0.1, failure_reason="The recipient blocked your WhatsApp number."
    )
    event = run(trigger([message]))
    assert event["status"] == "failed"
    assert [f["message_id"] for f in event["result"]["failed"]] == [message]
    assert "blocked your WhatsApp number" in event["message"] and str(message) in event["message"]


def test_failed_as_an_outcome(emulator: Emulator) -> None:
    [message] = emulator.add_messages(fail_after=0)
    event = run(trigger([message], max_failed=None, single=True))
    assert event["status"] == "success" and event["result"]["status"] == "failed"


def test_batch_with_mixed_outcomes_polls_each_pending_message_once_a_round(emulator: Emulator) -> None:
    fast = emulator.add_messages(50, deliver_after=0)
    slow = emulator.add_messages(20, deliver_after=0.8)
    failed = emulator.add_messages(5, fail_after=0)
    event = run(trigger([*fast, *slow, *failed], max_failed=5))
    assert event["status"] == "success"
    summary = event["result"]
    assert summary["counts"] == {"delivered": 70, "failed": 5} and summary["pending"] == 0
    assert [f["message_id"] for f in summary["failed"]] == failed
    # Settled messages were never polled again.
    assert {len(emulator.requests(m)) for m in [*fast, *failed]} == {1}
    assert all(len(emulator.requests(m)) >= 2 for m in slow)


def test_too_many_failures_end_the_wait_early(emulator: Emulator) -> None:
    failed = emulator.add_messages(2, fail_after=0)
    pending = emulator.add_messages(500, deliver_after=3600)
    event = run(trigger([*failed, *pending], max_failed=1, max_concurrency=4))
    assert event["status"] == "failed"
    assert [f["message_id"] for f in event["result"]["failed"]] == failed
    assert event["result"]["pending"] == len(pending)
    # Decided after the first few answers: the rest of the round was not polled.
    assert len(emulator.requests()) < 50


def test_unknown_status_keeps_waiting_until_the_deadline(
    emulator: Emulator, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    [message] = emulator.add_messages(status="queued")
    started = time.monotonic()
    event = run(trigger([message], timeout=0.8))
    assert event["status"] == "timeout" and event["result"]["pending"] == 1
    assert time.monotonic() - started < 5
    assert len(emulator.requests(message)) > 2
    logged = caplog.text + capfd.readouterr().out  # Airflow's structlog writes to stdout
    assert logged.count("'queued' is not documented") == 1


def test_429_during_the_wait_is_waited_out(emulator: Emulator) -> None:
    ids = emulator.add_messages(20, deliver_after=0.3)
    emulator.set_rate_limit(per_second=40, burst=5)
    event = run(trigger(ids))
    assert event["status"] == "success"
    log = emulator.requests()
    limited = [r for r in log if r.http_status == 429]
    assert limited, "no 429 was met: the test proves nothing"
    for record in limited:
        assert record.retry_at is not None
        assert len([r for r in log if record.at < r.at < record.retry_at]) < 10


@pytest.mark.parametrize("fault", ["server_error", "drop", "truncated", "bad_gateway_html"])
def test_faults_do_not_fail_the_wait(emulator: Emulator, fault: str) -> None:
    [message] = emulator.add_messages(deliver_after=0.2)
    emulator.inject(fault, times=3)
    event = run(trigger([message]))
    assert event["status"] == "success"
    assert [r.fault for r in emulator.requests(message)][:3] == [fault] * 3


def test_retries_spent_are_postponed_not_fatal(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    connect(monkeypatch, emulator, max_retries=0)
    [message] = emulator.add_messages(deliver_after=0)
    emulator.inject("server_error", times=2)
    event = run(trigger([message]))
    assert event["status"] == "success"
    assert [r.http_status for r in emulator.requests(message)] == [500, 500, 200]


def test_revoked_key_is_an_error_event_at_once(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    connect(monkeypatch, emulator, api_key=emulator.revoked_key)
    [message] = emulator.add_messages(deliver_after=0)
    event = run(trigger([message]))
    assert event["status"] == "error"
    assert event["error"]["type"] == "OctopodsAuthError" and event["error"]["error_code"] == 6
    assert "octopods_default" in event["message"]
    assert len(emulator.requests(message)) == 1


def test_unknown_message_settles_as_failed_with_the_servers_fields(emulator: Emulator) -> None:
    """The error policy: a refused query concerns that message; it fails, not the whole wait."""
    [known] = emulator.add_messages(deliver_after=0)
    event = run(trigger([known, 123], max_failed=1))
    assert event["status"] == "success"
    summary = event["result"]
    assert summary["counts"] == {"delivered": 1, "failed": 1}
    [failed] = summary["failed"]
    assert failed["message_id"] == 123 and failed["request_id"]
    assert "error_code=2" in failed["failure_reason"] and failed["request_id"] in failed["failure_reason"]
    assert len(emulator.requests(123)) == 1


def test_missing_connection_is_an_error_event(emulator: Emulator) -> None:
    event = run(trigger([1], octopods_conn_id="no_such_connection"))
    assert event["status"] == "error" and "no_such_connection" in event["message"]


def test_serde_round_trip_rebuilds_the_same_trigger() -> None:
    from airflow.sdk import serde

    original = trigger([5, 6], target="read", max_failed=None)
    classpath, kwargs = original.serialize()
    rebuilt_kwargs = serde.deserialize(serde.serialize(kwargs))
    assert rebuilt_kwargs == kwargs
    rebuilt = MessageStatusTrigger(**rebuilt_kwargs)
    assert rebuilt.serialize() == (classpath, kwargs)
    assert classpath == "airflow_provider_octopods.triggers.message_status.MessageStatusTrigger"


def test_rebuilt_mid_wait_keeps_the_deadline_and_the_schedule(emulator: Emulator) -> None:
    """As after a triggerer restart: same kwargs, later. No fresh clock, no burst of polls."""
    [message] = emulator.add_messages(deliver_after=3600)
    now = time.time()
    slow = {"first_delay": 1.0, "interval": 1.0, "backoff": 1.0, "max_interval": 1.0, "read_interval": 1.0}
    _, kwargs = MessageStatusTrigger(
        message_ids=[message],
        target_status="delivered",
        deadline=now + 2.5,
        started_at=now - 10.4,
        policy=slow,
    ).serialize()
    started = time.monotonic()
    event = run(MessageStatusTrigger(**kwargs))
    assert event["status"] == "timeout"
    assert time.monotonic() - started < 4  # the original deadline, not restart + timeout
    arrivals = [r.at - now for r in emulator.requests(message)]
    # On the original schedule (every 1 s from started_at + 1): at +0.6, +1.6 and +2.6 would be
    # due; the first is not sent at once on rebuild.
    assert arrivals and arrivals[0] > 0.4
    assert len(arrivals) <= 3


def test_cancellation_stops_polling_cleanly(emulator: Emulator) -> None:
    [message] = emulator.add_messages(deliver_after=3600)

    async def cancel_after_a_few_polls() -> None:
        task = asyncio.create_task(anext(trigger([message]).run()))
        deadline = time.monotonic() + 10
        # A poll with a deadline: the emulator's log is written by its own thread.
        while len(emulator.requests(message)) < 3 and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cancel_after_a_few_polls())
    count = len(emulator.requests(message))
    assert count >= 3
    time.sleep(0.5)  # a leaked poller would go on every 0.2 s: nothing may arrive now
    assert len(emulator.requests(message)) == count
