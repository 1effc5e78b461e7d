"""The runners of the clients' steps: the blocking one and the one on asyncio carry out the same
steps in the same order and give the same result, so the logic written once as steps means the
same in both clients."""

from __future__ import annotations

import asyncio
from collections.abc import Generator
from typing import Any

import pytest

from airflow_provider_octopods.clients.pacing import Reserve
from airflow_provider_octopods.clients.steps import IO, run, run_blocking
from airflow_provider_octopods.protocol.refs import Request


def _steps() -> Generator[Any, Any, str]:
    """A sleep, a request and a question to the budget store, each answer used in the result."""
    slept = yield 0.25
    answer = yield Request("https://octopods.test/api/v1/whatsapp/messages/7", {})
    granted = yield Reserve()
    return f"{slept}/{answer}/{granted}"


def _recording(done: list[str]) -> dict[str, Any]:
    return {
        "sleep": lambda seconds: done.append(f"sleep {seconds}") or "woke",
        "send": lambda request: done.append(f"send {request.url.rsplit('/', 1)[-1]}") or 200,
        "ask": lambda call: done.append(f"ask {type(call).__name__}") or "yes",
    }


def _awaitable(operation: Any) -> Any:
    """``operation`` as the async client's I/O is: a call that returns an awaitable of its result."""

    async def carried_out(argument: Any) -> Any:
        return operation(argument)

    return carried_out


def test_the_blocking_and_the_async_runner_do_the_same() -> None:
    blocking: list[str] = []
    result = run_blocking(_steps(), IO(**_recording(blocking)))

    on_loop: list[str] = []
    sync = _recording(on_loop)

    io = IO(**{name: _awaitable(operation) for name, operation in sync.items()})
    assert asyncio.run(run(_steps(), io)) == result == "woke/200/yes"
    assert on_loop == blocking == ["sleep 0.25", "send 7", "ask Reserve"]


def test_a_step_the_runner_cannot_carry_out_is_a_bug_said_at_once() -> None:
    with pytest.raises(RuntimeError, match="not given"):
        run_blocking(_steps(), IO(sleep=lambda seconds: None))
