"""The aiohttp client against the emulator: same rules as the sync one, plus shared pauses,
pacing and bounded fetching of many statuses."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from contextlib import aclosing
from typing import Any, TypeVar

import pytest

from airflow_provider_octopods.clients.async_client import AsyncOctopodsClient, StatusResult
from airflow_provider_octopods.emulator import Emulator
from airflow_provider_octopods.errors import (
    InvalidMessageReference,
    OctopodsAuthError,
    OctopodsRateLimitError,
    OctopodsRequestError,
    OctopodsServerError,
)
from tests.conftest import settings_for

T = TypeVar("T")
UNPACED = float("inf")


def run(emulator: Emulator, body: Callable[[AsyncOctopodsClient], Awaitable[T]], **kwargs: Any) -> T:
    extra = kwargs.pop("extra", {})
    api_key = kwargs.pop("api_key", None)
    kwargs.setdefault("requests_per_second", UNPACED)

    async def main() -> T:
        async with AsyncOctopodsClient(settings_for(emulator, api_key=api_key, **extra), **kwargs) as client:
            return await body(client)

    return asyncio.run(main())


def test_statuses_and_message_status_urls(emulator: Emulator) -> None:
    delivered, read_only = emulator.add_messages(deliver_after=0)[0], emulator.add_messages(read_after=0)[0]

    async def body(client: AsyncOctopodsClient) -> list[str]:
        return [
            (await client.get_message_status(delivered)).status,
            (await client.get_message_status(emulator.message_status_url(read_only))).status,
        ]

    assert run(emulator, body) == ["delivered", "read"]


@pytest.mark.parametrize("fault", ["server_error", "truncated", "drop", "html_200"])
def test_faults_are_retried(emulator: Emulator, fault: str) -> None:
    [message] = emulator.add_messages(deliver_after=0)
    emulator.inject(fault, times=1)

    async def body(client: AsyncOctopodsClient) -> str:
        return (await client.get_message_status(message)).status

    assert run(emulator, body) == "delivered"
    assert [r.fault for r in emulator.requests(message)] == [fault, None]


def test_retries_spent_and_refusals_are_typed(emulator: Emulator) -> None:
    [message] = emulator.add_messages(deliver_after=0)
    emulator.inject("server_error", times=5)

    async def body(client: AsyncOctopodsClient) -> None:
        await client.get_message_status(message)

    with pytest.raises(OctopodsServerError):
        run(emulator, body, extra={"max_retries": 1})
    assert len(emulator.requests(message)) == 2
    with pytest.raises(OctopodsAuthError):
        run(emulator, body, api_key=emulator.revoked_key)
    assert len(emulator.requests(message)) == 3  # one more request, no retry


def test_a_429_pauses_every_request_in_flight(emulator: Emulator) -> None:
    ids = emulator.add_messages(40, deliver_after=0)
    emulator.set_rate_limit(per_second=20, burst=5)

    async def body(client: AsyncOctopodsClient) -> list[StatusResult]:
        return [r async for r in client.iter_message_statuses(ids)]

    results = run(emulator, body, max_concurrency=10)
    assert sorted(r.status.message_id for r in results if r.status) == ids
    log = emulator.requests()
    limited = [r for r in log if r.http_status == 429]
    assert limited, "the rate limit was never met: the test proves nothing"
    # After a 429, a request that reached the server before the time it allowed can only be
    # one that was already on the wire: at most max_concurrency - 1 of them. Without the
    # shared pause the other workers would go on sending, hundreds in that window.
    for record in limited:
        assert record.retry_at is not None
        early = [r for r in log if record.at < r.at < record.retry_at]
        assert len(early) < 10


def test_pacing_keeps_to_the_rate_budget(emulator: Emulator) -> None:
    ids = emulator.add_messages(12, deliver_after=0)

    async def body(client: AsyncOctopodsClient) -> int:
        return len([r async for r in client.iter_message_statuses(ids)])

    assert run(emulator, body, requests_per_second=20, max_concurrency=8) == 12
    arrivals = [r.at for r in emulator.requests()]
    # 12 requests spaced 1/20 s apart span 11/20 s (unpaced: a few ms; at twice the rate: half).
    # Measured at the server, a first request that a loaded machine delays shortens the span
    # by that delay, since the later ones left on their reserved slots: a margin, not a tie.
    assert arrivals[-1] - arrivals[0] >= 0.8 * 11 / 20


def test_iter_many_bounded_with_per_message_errors(emulator: Emulator) -> None:
    good = emulator.add_messages(300, deliver_after=0)
    failed = emulator.add_messages(20, fail_after=0)
    inputs: list[object] = [*good, *failed, 999, "abc", "https://evil.example/api/v1/whatsapp/messages/1"]
    emulator.set_latency(0.01)  # so that concurrent requests overlap at the server

    async def body(client: AsyncOctopodsClient) -> list[StatusResult]:
        return [r async for r in client.iter_message_statuses(inputs)]

    results = run(emulator, body, max_concurrency=16)
    assert len(results) == len(inputs)
    by_input = {str(r.message): r for r in results}
    assert {by_input[str(m)].status.status for m in good} == {"delivered"}  # type: ignore[union-attr]
    assert {by_input[str(m)].status.status for m in failed} == {"failed"}  # type: ignore[union-attr]
    assert isinstance(by_input["999"].error, OctopodsRequestError)
    assert isinstance(by_input["abc"].error, InvalidMessageReference)
    assert isinstance(
        by_input["https://evil.example/api/v1/whatsapp/messages/1"].error, InvalidMessageReference
    )
    assert emulator.state.max_in_flight == 16
    assert len(emulator.requests()) == 321  # invalid references never left the process


def test_iter_fetches_no_further_ahead_of_a_slow_consumer_than_its_bound(emulator: Emulator) -> None:
    ids = emulator.add_messages(300, deliver_after=0)
    emulator.set_latency(0.005)

    async def body(client: AsyncOctopodsClient) -> tuple[int, int]:
        async with aclosing(client.iter_message_statuses(ids)) as results:
            async for _ in results:
                await asyncio.sleep(0.3)  # the slow consumer under test: unbounded workers fetch all 300
                ahead = len(emulator.requests())
                break
        return ahead, len(emulator.requests())

    ahead, after_close = run(emulator, body, max_concurrency=4)
    # one result taken; the queue holds 2 x 4; 4 workers each hold one more, and 4 are in flight
    assert ahead <= 1 + 8 + 4 + 4
    assert after_close <= ahead + 4  # closing stops the workers: what was in flight, nothing new


def test_iter_stops_everything_on_a_revoked_key(emulator: Emulator) -> None:
    ids = emulator.add_messages(200, deliver_after=0, api_key=emulator.revoked_key)

    async def body(client: AsyncOctopodsClient) -> list[StatusResult]:
        return [r async for r in client.iter_message_statuses(ids)]

    with pytest.raises(OctopodsAuthError):
        run(emulator, body, api_key=emulator.revoked_key, max_concurrency=4)
    assert len(emulator.requests()) <= 8  # the in-flight ones at most, not the 200


def test_clients_of_one_key_share_its_budget_on_a_loop(emulator: Emulator) -> None:
    """As in a triggerer running many sensors on one connection: their requests together keep
    to the connection's budget, not each its own."""
    ids = emulator.add_messages(20, deliver_after=0)
    settings = settings_for(emulator)

    async def main() -> None:
        async def one_client(part: list[int]) -> None:
            async with AsyncOctopodsClient(settings, requests_per_second=20) as client:
                for message in part:
                    await client.get_message_status(message)

        await asyncio.gather(one_client(ids[:10]), one_client(ids[10:]))

    asyncio.run(main())
    arrivals = sorted(r.at for r in emulator.requests())
    assert len(arrivals) == 20
    # One budget of 20/s spans 19/20 s, two would span 9/20 s; the margin is for a first request
    # a loaded machine delays (see test_pacing_keeps_to_the_rate_budget).
    assert arrivals[-1] - arrivals[0] >= 0.8 * 19 / 20


def test_time_at_a_gate_another_429_closed_counts_against_the_longest_wait(emulator: Emulator) -> None:
    """A call that never met a 429 itself still may not wait past max_rate_limit_wait."""
    [message] = emulator.add_messages(deliver_after=0)

    async def body(client: AsyncOctopodsClient) -> float:
        client.gate.pause(30)  # another call's 429 closed the gate for 30 s
        started = time.monotonic()
        with pytest.raises(OctopodsRateLimitError) as info:
            await asyncio.wait_for(client.get_message_status(message), timeout=10)
        assert "max_rate_limit_wait=2" in str(info.value)
        return time.monotonic() - started

    assert run(emulator, body, extra={"max_rate_limit_wait": 2}) < 1.0  # told at once, not after 30 s
    assert emulator.requests() == []


def test_a_429_storm_ends_every_call_within_its_longest_wait(emulator: Emulator) -> None:
    ids = emulator.add_messages(30, deliver_after=0)
    emulator.set_rate_limit(per_second=2, burst=1)

    async def body(client: AsyncOctopodsClient) -> list[StatusResult]:
        return [r async for r in client.iter_message_statuses(ids)]

    started = time.monotonic()
    results = run(emulator, body, max_concurrency=10, extra={"max_rate_limit_wait": 2})
    elapsed = time.monotonic() - started
    limited = [r for r in results if isinstance(r.error, OctopodsRateLimitError)]
    assert limited, "no call outlasted its wait: the test proves nothing"
    # Each call waits 2 s at most in all; the 30 run 10 at a time, so well under 3 rounds of 2 s.
    assert elapsed < 3 * 2 + 2
