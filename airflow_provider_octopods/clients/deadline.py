"""A deadline on a whole blocking request, which requests does not have.

requests' ``timeout`` bounds each socket operation: a server that sends one byte every half
second never trips it, and holds a task, a poke or the Test button for as long as it likes.
Here every read of a response (status line, headers, body) may only take what is left of the
request's time, and none starts once it is spent. aiohttp has this built in (``total``).
"""

from __future__ import annotations

import http.client
import io
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import requests
from urllib3 import HTTPConnectionPool, HTTPSConnectionPool, PoolManager
from urllib3.connection import HTTPConnection, HTTPSConnection

_DEADLINE: ContextVar[float | None] = ContextVar("octopods_request_deadline", default=None)


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Every response read inside the block ends by ``seconds`` from now (monotonic clock)."""
    token = _DEADLINE.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


class _DeadlineReader(io.RawIOBase):
    """The socket's reader, each read bounded by what is left before the deadline."""

    def __init__(self, raw: io.RawIOBase, sock: socket.socket) -> None:
        self._raw = raw
        self._sock = sock
        self._per_read = sock.gettimeout()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int | None:
        end = _DEADLINE.get()
        if end is not None:
            left = end - time.monotonic()
            if left <= 0:
                raise TimeoutError("the request took longer than its timeout")
            self._sock.settimeout(left if self._per_read is None else min(left, self._per_read))
        return self._raw.readinto(buffer)

    def fileno(self) -> int:
        return self._raw.fileno()

    def close(self) -> None:
        self._raw.close()
        super().close()


class _DeadlineResponse(http.client.HTTPResponse):
    def __init__(self, sock: socket.socket, *args: Any, **kwargs: Any) -> None:
        super().__init__(sock, *args, **kwargs)
        self.fp = io.BufferedReader(_DeadlineReader(self.fp.detach(), sock))


class _HTTPConnection(HTTPConnection):
    response_class = _DeadlineResponse


class _HTTPSConnection(HTTPSConnection):
    response_class = _DeadlineResponse


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


def _bounded(manager: PoolManager) -> PoolManager:
    # Only urllib3's own pools: a SOCKS proxy manager brings pools of its own, left as they are.
    if manager.pool_classes_by_scheme.get("http") is HTTPConnectionPool:
        manager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}
    return manager


class DeadlineAdapter(requests.adapters.HTTPAdapter):
    """An ``HTTPAdapter`` whose responses keep to ``deadline()``."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        _bounded(self.poolmanager)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> PoolManager:
        return _bounded(super().proxy_manager_for(proxy, **proxy_kwargs))
