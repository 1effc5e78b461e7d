"""Blocking driver of the status protocol, on requests: for tasks, pokes and the Test button."""

from __future__ import annotations

import time
from collections.abc import Callable
from types import TracebackType

import requests
from urllib3.exceptions import NewConnectionError, ReadTimeoutError

from airflow_provider_octopods.clients.deadline import DeadlineAdapter, deadline
from airflow_provider_octopods.clients.pacing import RequestGate
from airflow_provider_octopods.clients.query import Failure, Reply, connection_gate, status_steps
from airflow_provider_octopods.clients.redis_budget import RedisAddress
from airflow_provider_octopods.clients.steps import blocking_io, run_blocking
from airflow_provider_octopods.connection.settings import OctopodsSettings
from airflow_provider_octopods.protocol import answers, failures, probe, refs
from airflow_provider_octopods.reporting.tally import Tally
from airflow_provider_octopods.status import MessageStatus


def _failure_kind(exc: requests.RequestException) -> failures.NoAnswer:
    if isinstance(exc, requests.exceptions.SSLError):
        return failures.NoAnswer.TLS
    # requests reports a read timeout in the body as a ConnectionError: look at the cause too.
    if isinstance(exc, requests.Timeout) or isinstance(exc.__context__, ReadTimeoutError):
        return failures.NoAnswer.TIMEOUT
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    if isinstance(exc, requests.ConnectionError) and isinstance(reason, NewConnectionError):
        return failures.NoAnswer.UNREACHABLE
    return failures.NoAnswer.DROPPED


def _detail(exc: requests.RequestException) -> str:
    """What went wrong, in the socket's own words where there are some: requests wraps an
    ``[Errno 111] Connection refused`` in two hundred characters of pool and object reprs."""
    cause: BaseException | None = exc
    seen = 0
    while cause is not None and seen < 10:
        if isinstance(cause, OSError) and cause.strerror and not isinstance(cause, requests.RequestException):
            return f"[Errno {cause.errno}] {cause.strerror}" if cause.errno else cause.strerror
        reason = getattr(cause.args[0], "reason", None) if cause.args else None
        cause = reason if isinstance(reason, BaseException) else (cause.__cause__ or cause.__context__)
        seen += 1
    return str(exc)


class OctopodsClient:
    """Status queries over one keep-alive ``requests.Session``, paced by the rules of the async
    client (``RequestGate``): the connection's budget, shared by the clients of one process
    that use the same key (every process's, with ``budget_store``), and a 429 pauses them all.
    The query's logic is ``query.status_steps``; this client only sends and sleeps."""

    def __init__(
        self,
        settings: OctopodsSettings,
        *,
        sleep: Callable[[float], None] = time.sleep,
        gate: RequestGate | None = None,
        budget_store: RedisAddress | None = None,
    ) -> None:
        self.settings = settings
        self.gate = gate or connection_gate(
            settings, settings.requests_per_second, budget_store, blocking=True
        )
        self.tally = Tally(settings.conn_id)
        self._sleep = sleep
        self._session = requests.Session()
        for scheme in ("http://", "https://"):
            self._session.mount(scheme, DeadlineAdapter())
        # Our proxy decision, not requests' own: a None entry keeps requests from adding the
        # environment's proxy back (NO_PROXY and the connection's extra were applied already).
        route = settings.route_proxy
        self._proxies = {"http": route, "https": route, "all": route}

    def __enter__(self) -> OctopodsClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._session.close()
        self.tally.flush()

    def _send(self, request: refs.Request) -> tuple[int, requests.structures.CaseInsensitiveDict[str], bytes]:
        # The connection's timeout bounds the whole request, connect to last byte.
        with (
            deadline(self.settings.timeout),
            # Redirects are not followed: the key header would go wherever the redirect points.
            self._session.get(
                request.url,
                headers=dict(request.headers),
                timeout=self.settings.timeout,
                verify=self.settings.verify_tls,
                proxies=self._proxies,  # type: ignore[arg-type]
                allow_redirects=False,
                stream=True,
            ) as response,
        ):
            body = bytearray()
            # One byte past the cap is enough to refuse the body; the rest is never read, and
            # closing the response unread drops the connection instead of draining it.
            for chunk in response.iter_content(64 * 1024):
                body += chunk
                if len(body) > answers.MAX_BODY_BYTES:
                    break
            return response.status_code, response.headers, bytes(body)

    def _fetch(self, request: refs.Request) -> Reply:
        try:
            return self._send(request)
        except requests.RequestException as exc:
            return Failure(_failure_kind(exc), _detail(exc))

    def get_message_status(self, message: object, deadline: float | None = None) -> MessageStatus:
        """The current status of one message: an id, digits, or its ``message_status_url``;
        ``deadline`` (Unix time): no 429 wait that would end later is started."""
        call = self.settings.status_call(message, deadline)
        return run_blocking(
            status_steps(call, self.gate, self.tally), blocking_io(self._sleep, self.gate.store, self._fetch)
        )

    def probe(self) -> tuple[bool, str]:
        """One request to the status path with no id; see ``probe.probe_outcome``."""
        reply = self._fetch(self.settings.probe_request())
        if isinstance(reply, Failure):
            error = failures.transport_error(reply.kind, reply.detail, None, self.settings.api_key)
            return False, f"{error} ({self.settings.route()})"
        return probe.probe_outcome(*reply, conn_id=self.settings.conn_id, secret=self.settings.api_key)
