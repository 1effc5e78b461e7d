"""Asyncio driver of the status protocol, on aiohttp: for triggers and bulk fetches.

One client holds one keep-alive connection pool, a bound on requests in flight, and the
``RequestGate`` that paces requests and pauses all of them after a 429.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from types import TracebackType

import aiohttp
from yarl import URL

from airflow_provider_octopods.clients.pacing import RequestGate
from airflow_provider_octopods.clients.query import Failure, Reply, connection_gate, status_steps
from airflow_provider_octopods.clients.redis_budget import RedisAddress
from airflow_provider_octopods.clients.steps import async_io, run
from airflow_provider_octopods.connection.settings import OctopodsSettings
from airflow_provider_octopods.errors import ErrorAction, OctopodsError, error_action
from airflow_provider_octopods.protocol import answers, failures
from airflow_provider_octopods.protocol.refs import Request
from airflow_provider_octopods.reporting.tally import Tally
from airflow_provider_octopods.status import MessageStatus

DEFAULT_MAX_CONCURRENCY = 50
# A path of these needs no encoding or normalising (no dot segments): ids and the fixed
# segments the protocol puts after the base URL.
_PLAIN_PATH = re.compile(r"/[A-Za-z0-9/_~-]*")


def _failure_kind(exc: BaseException) -> failures.NoAnswer:
    # Order matters: the TLS errors are connector errors too, and timeouts are OSErrors.
    if isinstance(exc, aiohttp.ClientSSLError):
        return failures.NoAnswer.TLS
    if isinstance(exc, (asyncio.TimeoutError, aiohttp.ServerTimeoutError)):
        return failures.NoAnswer.TIMEOUT
    if isinstance(exc, aiohttp.ClientConnectorError):
        return failures.NoAnswer.UNREACHABLE
    return failures.NoAnswer.DROPPED


async def _answer(response: aiohttp.ClientResponse) -> tuple[int, Mapping[str, str], bytes]:
    """What the protocol reads of a response: its status, headers, and body or the body's first
    ``MAX_BODY_BYTES`` + 1 bytes (one byte past the cap is enough to refuse it, and the rest
    is never read)."""
    length = response.content_length
    # The usual answer: its whole length is known and small. A compressed length says nothing
    # of what the body inflates to, so a compressed body is read piece by piece.
    if length is not None and length <= answers.MAX_BODY_BYTES and "Content-Encoding" not in response.headers:
        return response.status, response.headers, await response.read()
    body = bytearray()
    while len(body) <= answers.MAX_BODY_BYTES:
        chunk = await response.content.read(answers.MAX_BODY_BYTES + 1 - len(body))
        if not chunk:
            break
        body += chunk
    else:
        response.close()  # drop the connection rather than drain it into the pool
    return response.status, response.headers, bytes(body)


@dataclass(frozen=True)
class StatusResult:
    """The outcome for one input of ``for_each_status`` and ``iter_message_statuses``: a status
    or a per-message error. ``message``: the input as given (an invalid one too)."""

    message: int | str
    status: MessageStatus | None = None
    error: OctopodsError | None = None


class AsyncOctopodsClient:
    """Use as ``async with AsyncOctopodsClient(settings) as client: ...``.

    ``requests_per_second`` defaults to the connection's rate budget; ``None`` there means
    the budget, pass ``float('inf')`` for no pacing (tests, the emulator). With ``budget_store``,
    requests also keep to the connection's budget shared by every process (``redis_budget``).
    The query's logic is ``query.status_steps``; this client only sends and sleeps.
    """

    def __init__(
        self,
        settings: OctopodsSettings,
        *,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        requests_per_second: float | None = None,
        budget_store: RedisAddress | None = None,
    ) -> None:
        if max_concurrency < 1:
            raise ValueError(f"max_concurrency must be at least 1, got {max_concurrency}")
        self.settings = settings
        self.max_concurrency = max_concurrency
        self.rate = requests_per_second or settings.requests_per_second
        self.budget_store = budget_store
        self._gate: RequestGate | None = None
        self.tally = Tally(settings.conn_id)
        self._slots = asyncio.Semaphore(max_concurrency)
        self._session: aiohttp.ClientSession | None = None
        self._proxy: str | None = None
        self._base_url = URL(settings.base_url)
        self._base_path = self._base_url.raw_path.rstrip("/")

    @property
    def gate(self) -> RequestGate:
        if self._gate is None:
            raise RuntimeError("use the client inside 'async with'")
        return self._gate

    async def __aenter__(self) -> AsyncOctopodsClient:
        self._gate = connection_gate(self.settings, self.rate, self.budget_store, blocking=False)
        if self._gate.store is not None:
            self._gate.store.hold()
        # ssl=True verifies certificates (aiohttp's default); False is the documented opt-out.
        connector = aiohttp.TCPConnector(limit=self.max_concurrency, ssl=self.settings.verify_tls)
        # The whole request (connect, send, read the body) within the connection's timeout;
        # _slots keeps it from including a wait for a pooled connection.
        timeout = aiohttp.ClientTimeout(total=self.settings.timeout)
        self._session = aiohttp.ClientSession(connector=connector, timeout=timeout, raise_for_status=False)
        # aiohttp reads no proxy variables by itself (trust_env=False): the decision is ours.
        self._proxy = self.settings.route_proxy
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._gate is not None and self._gate.store is not None:
            await self._gate.store.arelease()
        self.tally.flush()

    def _url(self, url: str) -> URL:
        """``url`` for aiohttp. A URL the protocol built (the base URL and a path of plain
        characters) joins the base URL parsed once: parsing each one again is a tenth of
        what a bulk fetch spends per request."""
        base = self.settings.base_url
        if url.startswith(base) and _PLAIN_PATH.fullmatch(url, len(base)):
            return self._base_url.with_path(self._base_path + url[len(base) :], encoded=True)
        return URL(url)

    async def _fetch(self, request: Request) -> Reply:
        if self._session is None:
            raise RuntimeError("use the client inside 'async with'")
        try:
            # Redirects are not followed: the key header would go wherever they point.
            async with (
                self._slots,
                self._session.get(
                    self._url(request.url), headers=request.headers, allow_redirects=False, proxy=self._proxy
                ) as response,
            ):
                return await _answer(response)
        except (TimeoutError, aiohttp.ClientError) as exc:
            return Failure(_failure_kind(exc), str(exc) or type(exc).__name__)

    async def get_message_status(self, message: object, deadline: float | None = None) -> MessageStatus:
        """The current status of one message: an id, digits, or its ``message_status_url``;
        ``deadline`` (Unix time): no 429 wait that would end later is started."""
        call = self.settings.status_call(message, deadline)
        return await run(status_steps(call, self.gate, self.tally), async_io(self.gate.store, self._fetch))

    async def for_each_status(
        self,
        messages: Iterable[int | str],
        handle: Callable[[StatusResult], Awaitable[None] | None],
        deadline: float | None = None,
    ) -> None:
        """Fetch many statuses, ``max_concurrency`` at a time, handing each to ``handle`` as it
        completes; an awaitable ``handle`` returns is awaited before that worker goes on.

        The input is read lazily, so a million ids never become a million pending tasks.
        Per-message errors (not found, retries spent, invalid id) are handed over, not raised;
        an error that ends any wait (``errors.error_action``: a refused key or certificate) is
        raised at once, since no other request can succeed. ``deadline`` as for
        ``get_message_status``.
        """
        pending = iter(messages)

        async def worker() -> None:
            for message in pending:  # shared iterator: each item is taken by exactly one worker
                try:
                    status = await self.get_message_status(message, deadline)
                    result = StatusResult(message, status=status)
                except OctopodsError as exc:
                    if error_action(exc) is ErrorAction.END_WAIT:
                        raise
                    result = StatusResult(message, error=exc)
                if (waiting := handle(result)) is not None:
                    await waiting

        workers = [asyncio.create_task(worker()) for _ in range(self.max_concurrency)]
        try:
            await asyncio.gather(*workers)
        finally:
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)

    async def iter_message_statuses(
        self, messages: Iterable[int | str], deadline: float | None = None
    ) -> AsyncGenerator[StatusResult]:
        """``for_each_status`` as an async generator: each result as it completes."""
        results: asyncio.Queue[StatusResult | Exception | None] = asyncio.Queue(
            maxsize=2 * self.max_concurrency
        )

        def handle(result: StatusResult) -> Awaitable[None] | None:
            if results.full():  # the consumer is behind: this worker waits for it
                return results.put(result)
            results.put_nowait(result)
            return None

        async def fetch() -> None:
            try:
                await self.for_each_status(messages, handle, deadline)
            except Exception as exc:  # a refused key, or a bug: the consumer re-raises it
                await results.put(exc)
            else:
                await results.put(None)

        fetching = asyncio.create_task(fetch())
        try:
            while (item := await results.get()) is not None:
                if isinstance(item, Exception):
                    raise item
                yield item
        finally:
            fetching.cancel()
            await asyncio.gather(fetching, return_exceptions=True)
