"""The clients' logic is written once, as generators of steps; this module carries steps out.

A step asks for I/O: a number is seconds to sleep, a ``Request`` a request to send, a
``pacing.Reserve`` or ``pacing.Publish`` a question to the budget store shared by processes.
Its answer is sent back into the generator, and what the generator returns is the result. The
steps are the gate's (``RequestGate.steps``) and a status query's (``query.status_steps``);
``run_blocking`` carries them out for the blocking client, ``run`` on asyncio for the async
one, and the two differ in nothing but the ``await``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from airflow_provider_octopods.protocol.refs import Request

if TYPE_CHECKING:
    from typing import TypeAlias

    from airflow_provider_octopods.clients.pacing import BudgetStore, StoreCall

    Step: TypeAlias = float | StoreCall | Request

R = TypeVar("R")
T = TypeVar("T")
Y = TypeVar("Y")
F = TypeVar("F")


@dataclass(frozen=True)
class Done(Generic[T]):
    """Steps that ended, with their result."""

    value: T


def advance(steps: Generator[Y, Any, T], answer: Any) -> Y | Done[T]:
    """The next step of ``steps`` once ``answer`` (to the last step; None at first) is sent in, or
    their result. A value, not a StopIteration: that cannot cross a thread's future."""
    try:
        return steps.send(answer)
    except StopIteration as stop:
        return Done(stop.value)


@dataclass(frozen=True)
class IO(Generic[R]):
    """The I/O of steps, one way: blocking (``R``: what each operation returns) or on asyncio
    (``R``: an awaitable of it). ``ask``: the budget store's, where the gate has one; ``send``:
    a client's, for a status query's steps."""

    sleep: Callable[[float], R]
    ask: Callable[[StoreCall], R] | None = None
    send: Callable[[Request], R] | None = None

    def do(self, step: Step) -> R:
        """Carry out ``step``: sleep its seconds, send its request, or ask the store."""
        if isinstance(step, (int, float)):
            return self.sleep(step)
        if isinstance(step, Request):
            return _given(self.send)(step)
        return _given(self.ask)(step)


def _given(operation: F | None) -> F:
    if operation is None:  # steps that the wrong caller runs: a bug, not a condition
        raise RuntimeError("a step asks for I/O that its runner was not given")
    return operation


def blocking_io(
    sleep: Callable[[float], None], store: BudgetStore | None, send: Callable[[Request], Any] | None = None
) -> IO[Any]:
    """The blocking client's I/O: ``sleep``, the store's ``call``, ``send``."""
    return IO(sleep, None if store is None else store.call, send)


def async_io(
    store: BudgetStore | None, send: Callable[[Request], Awaitable[Any]] | None = None
) -> IO[Awaitable[Any]]:
    """The I/O on asyncio: ``asyncio.sleep``, the store's ``acall``, ``send``."""
    return IO(asyncio.sleep, None if store is None else store.acall, send)


def run_blocking(steps: Generator[Step, Any, T], io: IO[Any]) -> T:
    """``steps`` carried out to their result, blocking."""
    answer = None
    while not isinstance(step := advance(steps, answer), Done):
        answer = io.do(step)
    return step.value


async def run(steps: Generator[Step, Any, T], io: IO[Awaitable[Any]]) -> T:
    """``steps`` carried out to their result on asyncio."""
    answer = None
    while not isinstance(step := advance(steps, answer), Done):
        answer = await io.do(step)
    return step.value
