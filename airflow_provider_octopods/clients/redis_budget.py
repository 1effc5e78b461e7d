"""The budget of one API key shared by every process, kept in Redis (``rate_limit_redis_conn_id``).

The gate (``pacing.RequestGate``) decides when it needs the store; this module carries its two
questions to Redis, blocking or async. Each is one atomic Lua script on Redis's own clock, so
the processes' clocks need not agree: ``Reserve`` takes the next free slot of a GCRA schedule
(the time of the next slot is one key; a slot is reserved before the caller sleeps, so callers
queue up, never burst), ``Publish`` extends the pause every process keeps after a 429. Redis
holds a hash of the API key, never the key.

If Redis cannot be reached, one warning per outage, and the answer ``None``: the process keeps
to its own gate alone, and tries Redis again after ``RETRY_SECONDS``. A task never fails for it.
A shared budget that can never work (no such connection, no ``redis`` package) is refused by
the hook at task start instead (``OctopodsConfigError``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_octopods.clients.pacing import Publish, Reserve, Slot, StoreCall
from airflow_provider_octopods.connection.settings import key_digest

log = logging.getLogger(__name__)

RETRY_SECONDS = 30.0
# A Redis that answers slower than this counts as unreachable: the budget paces requests, it
# must never hold a task up.
REDIS_TIMEOUT = 2.0
KEY_PREFIX = "octopods:budget:"

# KEYS: the next free slot, the pause. ARGV: seconds between requests.
# Returns {'pause' | 'slot', seconds to wait}.
_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local paused = tonumber(redis.call('GET', KEYS[2]) or '0')
if paused > now then return {'pause', tostring(paused - now)} end
local interval = tonumber(ARGV[1])
local slot = math.max(now, tonumber(redis.call('GET', KEYS[1]) or '0'))
local keep = math.ceil((slot + interval - now) * 1000) + 60000
redis.call('SET', KEYS[1], string.format('%.6f', slot + interval), 'PX', keep)
return {'slot', tostring(slot - now)}
"""

# KEYS: the pause. ARGV: seconds. Extends the pause, never shortens it.
_PUBLISH = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local wanted = now + tonumber(ARGV[1])
if wanted > tonumber(redis.call('GET', KEYS[1]) or '0') then
  redis.call('SET', KEYS[1], string.format('%.6f', wanted), 'PX', math.ceil(tonumber(ARGV[1]) * 1000) + 1000)
end
return 0
"""


@dataclass(frozen=True)
class RedisAddress:
    """Where the budget lives: an Airflow ``redis`` connection, read as the Redis provider does."""

    host: str
    port: int
    db: int
    password: str | None = field(default=None, repr=False)
    username: str | None = None
    ssl: bool = False

    @classmethod
    def from_connection(
        cls,
        host: str | None,
        port: int | None,
        login: str | None,
        password: str | None,
        extra: Mapping[str, Any],
    ) -> RedisAddress:
        return cls(
            host=host or "localhost",
            port=int(port or 6379),
            db=int(extra.get("db") or 0),
            password=password or None,
            username=login or None,
            ssl=str(extra.get("ssl", "")).lower() in ("true", "1"),
        )

    def client_kwargs(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "port": self.port,
            "db": self.db,
            "password": self.password,
            "username": self.username,
            "ssl": self.ssl,
            "socket_timeout": REDIS_TIMEOUT,
            "socket_connect_timeout": REDIS_TIMEOUT,
        }


def budget_keys(api_key: str) -> tuple[str, str]:
    """The Redis keys of one API key's budget (next slot, pause): a hash of the key, never the key."""
    digest = key_digest(api_key)
    return f"{KEY_PREFIX}{digest}:next", f"{KEY_PREFIX}{digest}:paused"


class _Reachability:
    """When Redis last failed, per address: one warning per outage, a retry after a while."""

    def __init__(self) -> None:
        self._down_until: dict[tuple[str, int, int], float] = {}
        self._lock = threading.Lock()

    def usable(self, address: RedisAddress) -> bool:
        with self._lock:
            return time.monotonic() >= self._down_until.get((address.host, address.port, address.db), 0.0)

    def failed(self, address: RedisAddress, exc: BaseException, conn_id: str) -> None:
        where = (address.host, address.port, address.db)
        with self._lock:
            first = where not in self._down_until
            self._down_until[where] = time.monotonic() + RETRY_SECONDS
        if first:
            # The error's type only: a Redis error's text may carry the URL and its password.
            log.warning(
                "Connection %r: the shared rate budget in Redis at %s:%s (db %s) cannot be reached "
                "(%s); this process keeps to its own budget only, and tries Redis again in %.0f s",
                conn_id,
                address.host,
                address.port,
                address.db,
                type(exc).__name__,
                RETRY_SECONDS,
            )

    def succeeded(self, address: RedisAddress, conn_id: str) -> None:
        where = (address.host, address.port, address.db)
        with self._lock:
            was_down = self._down_until.pop(where, None) is not None
        if was_down:
            log.warning("Connection %r: the shared rate budget in Redis is reachable again", conn_id)


REACHABILITY = _Reachability()

try:  # the optional extra ``redis``
    from redis import RedisError

    _UNUSABLE: tuple[type[BaseException], ...] = (RedisError, OSError)
except ImportError:  # the hook refuses a shared budget without the package before any request
    _UNUSABLE = (OSError,)


class RedisBudget:
    """One API key's budget of ``rate`` requests per second in Redis: a ``pacing.BudgetStore``.

    The blocking client is made on first use and kept; the async one belongs to one event loop,
    so the async clients that share a gate ``hold`` it and the last to ``arelease`` closes it.
    """

    def __init__(self, address: RedisAddress, api_key: str, rate: float, conn_id: str) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be positive, got {rate}")
        self.address = address
        self.interval = 1.0 / rate
        self.conn_id = conn_id
        self._next, self._paused = budget_keys(api_key)
        self._sync: Any = None
        self._async: Any = None
        self._holders = 0

    def _script(self, step: StoreCall) -> tuple[str | int | float, ...]:
        """The arguments of Redis's ``EVAL`` that answer ``step``."""
        if isinstance(step, Reserve):
            return _RESERVE, 2, self._next, self._paused, self.interval
        return _PUBLISH, 1, self._paused, step.seconds

    def _answer(self, step: StoreCall, raw: Any) -> Slot | None:
        REACHABILITY.succeeded(self.address, self.conn_id)
        if isinstance(step, Publish):
            return None
        kind, seconds = (part.decode() if isinstance(part, bytes) else str(part) for part in raw)
        return Slot(max(0.0, float(seconds)), paused=kind == "pause")

    @contextmanager
    def _unless_unreachable(self) -> Iterator[None]:
        """Redis failing in the block is told (once per outage) and goes no further: the
        caller answers None, and the request keeps to its own process's gate."""
        try:
            yield
        except _UNUSABLE as exc:
            REACHABILITY.failed(self.address, exc, self.conn_id)

    def call(self, step: StoreCall) -> Slot | None:
        if REACHABILITY.usable(self.address):
            with self._unless_unreachable():
                return self._answer(step, self._blocking_client().eval(*self._script(step)))
        return None

    async def acall(self, step: StoreCall) -> Slot | None:
        if REACHABILITY.usable(self.address):
            with self._unless_unreachable():
                return self._answer(step, await self._async_client().eval(*self._script(step)))
        return None

    def _blocking_client(self) -> Any:
        if self._sync is None:
            import redis

            self._sync = redis.Redis(**self.address.client_kwargs())
        return self._sync

    def _async_client(self) -> Any:
        if self._async is None:
            import redis.asyncio

            self._async = redis.asyncio.Redis(**self.address.client_kwargs())
        return self._async

    def hold(self) -> None:
        self._holders += 1

    async def arelease(self) -> None:
        self._holders -= 1
        if self._holders <= 0 and self._async is not None:
            client, self._async = self._async, None
            await client.aclose()
