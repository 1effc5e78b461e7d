"""OctopodsHook: the ``octopods`` connection, and sync and async access to message statuses."""

from __future__ import annotations

import asyncio
import importlib.util
import logging
from collections.abc import AsyncIterator, Generator, Iterable, Iterator
from contextlib import aclosing, asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from airflow.providers.common.compat.connection import get_async_connection, get_async_extra_dejson
from airflow.sdk import BaseHook
from airflow.sdk.exceptions import AirflowNotFoundException
from airflow.sdk.log import mask_secret

from airflow_provider_octopods.clients.async_client import (
    DEFAULT_MAX_CONCURRENCY,
    AsyncOctopodsClient,
    StatusResult,
)
from airflow_provider_octopods.clients.redis_budget import RedisAddress
from airflow_provider_octopods.clients.steps import Done, advance
from airflow_provider_octopods.clients.sync_client import OctopodsClient
from airflow_provider_octopods.connection.fields import CONN_TYPE
from airflow_provider_octopods.connection.proxy import proxy_password
from airflow_provider_octopods.connection.settings import OctopodsSettings
from airflow_provider_octopods.errors import OctopodsConfigError
from airflow_provider_octopods.status import MessageStatus

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class _Read:
    """A step of the hook's reading: the connection ``conn_id``, answered with it and its extras;
    ``missing``: raised instead of Airflow's error when there is no such connection."""

    conn_id: str
    missing: OctopodsConfigError | None = None

    @contextmanager
    def found(self) -> Iterator[None]:
        try:
            yield
        except AirflowNotFoundException:
            if self.missing is None:
                raise
            raise self.missing from None


@dataclass(frozen=True)
class _Mask:
    """A step of the hook's reading: mask ``secret`` in every log."""

    secret: str


# The hook's reading of its connections as steps (the way the clients' logic is written, see
# ``clients/steps.py``), carried out by ``_blocking`` or ``_on_loop``.
_Reading = Generator[_Read | _Mask, Any, T]


class OctopodsHook(BaseHook):
    """Reads WhatsApp message statuses from the Octopods API.

    :param octopods_conn_id: an ``octopods`` connection: the API key in the password, the
        API base URL in the host (default ``https://app.octopods.io``), tuning in the extras.
    """

    conn_name_attr = "octopods_conn_id"
    default_conn_name = "octopods_default"
    conn_type = CONN_TYPE
    hook_name = "Octopods"

    def __init__(self, octopods_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.octopods_conn_id = octopods_conn_id
        self._settings: OctopodsSettings | None = None
        self._client: OctopodsClient | None = None
        self._budget_store: RedisAddress | None = None
        self._budget_store_read = False

    def get_settings(self) -> OctopodsSettings:
        return self._blocking(self._reading_settings())

    async def aget_settings(self) -> OctopodsSettings:
        """Like ``get_settings``, safe inside the triggerer's event loop on every supported Airflow."""
        return await self._on_loop(self._reading_settings())

    def get_budget_store(self) -> RedisAddress | None:
        """Where the rate budget shared across processes lives (``rate_limit_redis_conn_id``), if
        set; ``OctopodsConfigError`` when it is set but cannot be used (no such connection, no
        ``redis`` package). Redis being down is not an error: see ``redis_budget``."""
        return self._blocking(self._reading_budget_store())

    async def aget_budget_store(self) -> RedisAddress | None:
        """Like ``get_budget_store``, inside an event loop."""
        return await self._on_loop(self._reading_budget_store())

    def _reading_settings(self) -> _Reading[OctopodsSettings]:
        if self._settings is None:
            conn, extra = yield _Read(self.octopods_conn_id)
            # Airflow masks the password in a task, but not in a script or a test: do it
            # ourselves, as the key will be sent (stripped), and before it is checked.
            if conn.password and conn.password.strip():
                yield _Mask(conn.password.strip())
            settings = OctopodsSettings.from_connection_fields(
                self.octopods_conn_id, conn.host, conn.password, extra
            )
            if secret := proxy_password(settings.route_proxy):
                yield _Mask(secret)
            self._settings = settings
        return self._settings

    def _reading_budget_store(self) -> _Reading[RedisAddress | None]:
        settings = yield from self._reading_settings()
        if not self._budget_store_read:
            redis_conn_id = self._shared_budget_id(settings)
            if redis_conn_id is not None:
                missing = self._unusable_budget(redis_conn_id, "names no connection")
                conn, extra = yield _Read(redis_conn_id, missing)
                if conn.password:
                    yield _Mask(conn.password)
                self._budget_store = RedisAddress.from_connection(
                    conn.host, conn.port, conn.login, conn.password, extra
                )
            self._budget_store_read = True
        return self._budget_store

    def _blocking(self, reading: _Reading[T]) -> T:
        answer = None
        while not isinstance(step := advance(reading, answer), Done):
            answer = None
            if isinstance(step, _Mask):
                mask_secret(step.secret)
            else:
                with step.found():
                    conn = self.get_connection(step.conn_id)
                answer = conn, conn.extra_dejson
        return step.value

    async def _on_loop(self, reading: _Reading[T]) -> T:
        answer = None
        while not isinstance(step := advance(reading, answer), Done):
            answer = None
            if isinstance(step, _Mask):
                # mask_secret may tell the supervisor synchronously: keep it off the event loop.
                await asyncio.to_thread(mask_secret, step.secret)
            else:
                with step.found():
                    conn = await get_async_connection(step.conn_id, hook=self)
                answer = conn, await get_async_extra_dejson(conn)
        return step.value

    def _unusable_budget(self, redis_conn_id: str, why: str) -> OctopodsConfigError:
        return OctopodsConfigError(
            f"Connection {self.octopods_conn_id!r}: its rate_limit_redis_conn_id {redis_conn_id!r} "
            f"{why}. Every process would keep to its own budget and together pass the key's rate "
            f"limit: fix it, or empty rate_limit_redis_conn_id to keep a budget per process"
        )

    def _shared_budget_id(self, settings: OctopodsSettings) -> str | None:
        """The Redis connection id of the shared budget, once the ``redis`` package is there."""
        redis_conn_id = settings.rate_limit_redis_conn_id
        if redis_conn_id is not None and importlib.util.find_spec("redis") is None:
            raise self._unusable_budget(
                redis_conn_id,
                "needs the redis package, which is not installed here: pip install "
                "'airflow-provider-octopods[redis]' wherever tasks and triggers run",
            )
        return redis_conn_id

    def get_conn(self) -> OctopodsClient:
        """The blocking client, kept for the hook's life (one keep-alive session)."""
        if self._client is None:
            self._client = OctopodsClient(self.get_settings(), budget_store=self.get_budget_store())
        return self._client

    def get_message_status(self, message: int | str) -> MessageStatus:
        """The status of one message, by id (int or digits) or by its ``message_status_url``."""
        return self.get_conn().get_message_status(message)

    @asynccontextmanager
    async def async_client(
        self, *, max_concurrency: int = DEFAULT_MAX_CONCURRENCY, requests_per_second: float | None = None
    ) -> AsyncIterator[AsyncOctopodsClient]:
        """An aiohttp client with a keep-alive pool, paced at the connection's rate budget
        unless ``requests_per_second`` says otherwise."""
        settings = await self.aget_settings()
        client = AsyncOctopodsClient(
            settings,
            max_concurrency=max_concurrency,
            requests_per_second=requests_per_second,
            budget_store=await self.aget_budget_store(),
        )
        async with client:
            yield client

    async def aget_message_status(self, message: int | str) -> MessageStatus:
        """Async ``get_message_status``. Polling many? Keep one ``async_client()`` open instead."""
        async with self.async_client(max_concurrency=1) as client:
            return await client.get_message_status(message)

    async def aiter_message_statuses(
        self,
        messages: Iterable[int | str],
        *,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        requests_per_second: float | None = None,
    ) -> AsyncIterator[StatusResult]:
        """Statuses of many messages as they arrive; see ``AsyncOctopodsClient.iter_message_statuses``."""
        client_context = self.async_client(
            max_concurrency=max_concurrency, requests_per_second=requests_per_second
        )
        # aclosing: a caller that stops early cancels the client's workers at once.
        async with client_context as client, aclosing(client.iter_message_statuses(messages)) as results:
            async for result in results:
                yield result

    def test_connection(self) -> tuple[bool, str]:
        """One request, to the status path with no message id (documented answer: error code 1).

        The key is checked first, so the answer tells apart an accepted key (code 1), a
        rotated or revoked one (code 6, 401, 403), an unreachable host, a TLS failure and a
        host that is not the Octopods API.
        """
        try:
            settings = self.get_settings()
            self.get_budget_store()
        except OctopodsConfigError as exc:
            return False, str(exc)
        with OctopodsClient(settings) as client:
            return client.probe()
