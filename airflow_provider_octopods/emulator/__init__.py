"""A local Octopods API: a real HTTP server on loopback, scripted from Python or over HTTP.

    with Emulator() as emulator:
        [message_id] = emulator.add_messages(deliver_after=5)
        conn_uri = emulator.connection_uri()   # for AIRFLOW_CONN_OCTOPODS_DEFAULT

Also ``python -m airflow_provider_octopods.emulator`` (a separate process, scripted through
``/_emulator/*``) and the pytest fixture ``octopods_emulator``.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import threading
from os import PathLike
from types import TracebackType
from typing import Any
from urllib.parse import quote

from aiohttp import web

from airflow_provider_octopods.emulator.model import SenderModel, as_model
from airflow_provider_octopods.emulator.server import STATUS_PREFIX, make_app
from airflow_provider_octopods.emulator.state import (
    FAILURE_REASONS,
    FAULTS,
    RETRY_HINTS,
    EmulatorState,
    RequestRecord,
    lifecycle,
)

__all__ = [
    "FAILURE_REASONS",
    "FAULTS",
    "RETRY_HINTS",
    "Emulator",
    "RequestRecord",
    "SenderModel",
    "serve",
]


async def serve(
    state: EmulatorState, host: str, port: int, ssl_context: ssl.SSLContext | None = None
) -> tuple[web.AppRunner, int]:
    """Start serving ``state`` (over TLS with ``ssl_context``); returns the runner (to clean up)
    and the bound port."""
    runner = web.AppRunner(make_app(state), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=1024, ssl_context=ssl_context)
    await site.start()
    [address] = runner.addresses
    return runner, int(address[1])


class Emulator:
    """The emulator in a background thread of this process; an https one with ``ssl_context``.
    ``model`` (a ``SenderModel``, a model file's path or a built-in model's name) times the
    messages of ``add_campaign`` and of ``simulate_send``."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | None = None,
        seed: int = 0,
        ssl_context: ssl.SSLContext | None = None,
        model: SenderModel | str | PathLike[str] | None = None,
    ):
        self.state = EmulatorState(api_key=api_key, seed=seed, model=as_model(model))
        self.host = host
        self.port = port
        self.ssl_context = ssl_context
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle of the server ----------------------------------------------------------

    def start(self) -> Emulator:
        started = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                runner, self.port = loop.run_until_complete(
                    serve(self.state, self.host, self.port, self.ssl_context)
                )
            except BaseException as exc:  # reported to start()'s caller below
                failure.append(exc)
                started.set()
                return
            started.set()
            loop.run_forever()
            loop.run_until_complete(runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=run, name="octopods-emulator", daemon=True)
        self._thread.start()
        started.wait()
        if failure:
            raise failure[0]
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._loop = self._thread = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # --- where it is ----------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        scheme = "http" if self.ssl_context is None else "https"
        return f"{scheme}://{self.host}:{self.port}"

    @property
    def api_key(self) -> str:
        return self.state.api_key

    @property
    def revoked_key(self) -> str:
        return self.state.revoked_key

    def message_status_url(self, message_id: int) -> str:
        return f"{self.base_url}{STATUS_PREFIX}/{message_id}"

    def connection(self, *, api_key: str | None = None, **extra: Any) -> dict[str, Any]:
        """An ``octopods`` connection to this emulator, in Airflow's JSON form."""
        return {
            "conn_type": "octopods",
            "host": self.base_url,
            "password": api_key or self.api_key,
            "extra": extra,
        }

    def connection_json(self, *, api_key: str | None = None, **extra: Any) -> str:
        """For ``AIRFLOW_CONN_<ID>`` in JSON form."""
        return json.dumps(self.connection(api_key=api_key, **extra))

    def connection_uri(self, *, api_key: str | None = None) -> str:
        """For ``AIRFLOW_CONN_<ID>`` in URI form (the host carries the http:// base URL)."""
        return f"octopods://:{quote(api_key or self.api_key, safe='')}@{quote(self.base_url, safe='')}"

    # --- scripting ------------------------------------------------------------------------

    def add_messages(
        self,
        count: int = 1,
        *,
        deliver_after: float | None = None,
        read_after: float | None = None,
        fail_after: float | None = None,
        status: str | None = None,
        failure_reason: str | None = None,
        api_key: str | None = None,
        after_polls: tuple[int, str] | None = None,
    ) -> list[int]:
        """Messages sent now: ``sent`` at once, then delivered / read / failed after so many
        seconds (scenario time). ``read_after`` alone: read with no delivery ever reported.
        ``status`` alone: a message already at that value, unknown ones too.
        ``after_polls=(2, "delivered")``: answered as above for 2 polls, delivered from the
        3rd; a change that comes while the client waits, however long it took to start."""
        steps = lifecycle(deliver_after, read_after, fail_after, status)
        return self.state.add_messages(
            steps, count, key=api_key, failure_reason=failure_reason, after_polls=after_polls
        )

    def add_campaign(
        self, count: int, *, spread_hours: float = 6.0, unconfirmed: bool = True, time_scale: float = 1.0
    ) -> list[int]:
        """A campaign with a realistic mix of outcomes and delays: see ``EmulatorState.add_campaign``."""
        return self.state.add_campaign(
            count, spread_hours=spread_hours, unconfirmed=unconfirmed, time_scale=time_scale
        )

    def script_sends(self, **script: Any) -> None:
        """How ``simulate_send`` (``POST /_emulator/send``) makes messages: ``add_campaign``
        arguments (default ``unconfirmed=False``; ``time_scale=0.1`` for a ten times faster
        campaign), or ``after_polls=(2, "delivered")`` for a scripted change."""
        self.state.send_script = {"unconfirmed": False, **script}

    def set_status(self, message_id: int, status: str, failure_reason: str | None = None) -> None:
        self.state.set_status(message_id, status, failure_reason)

    def advance(self, seconds: float) -> None:
        """Move the scenario clock: lifecycles jump ahead, real time and rate limits do not."""
        self.state.advance(seconds)

    def inject(
        self, fault: str, times: int = 1, *, message_id: int | None = None, seconds: float = 30.0
    ) -> None:
        """The next ``times`` status requests (for ``message_id``, or any) meet ``fault``: one of
        ``FAULTS``. ``seconds``: how slow ``slow`` is, how long ``rate_limit`` asks to wait."""
        self.state.inject(fault, times, message_id=message_id, seconds=seconds)

    def set_rate_limit(
        self, per_second: float | None, burst: float | None = None, hint: str = "body_iso"
    ) -> None:
        """Per-key limit; ``hint`` is where a 429 says when to retry (one of ``RETRY_HINTS``)."""
        self.state.set_rate_limit(per_second, burst, hint)

    def set_latency(self, seconds: float) -> None:
        self.state.latency = seconds

    def requests(self, message_id: int | None = None) -> list[RequestRecord]:
        """Status requests received (all, or for one message), in arrival order."""
        return self.state.requests_for(message_id)

    def reset_requests(self) -> None:
        self.state.reset_log()
