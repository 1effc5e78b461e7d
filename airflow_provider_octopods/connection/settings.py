"""What an ``octopods`` connection holds, read and checked once."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_octopods.connection.fields import EXTRA_FIELDS
from airflow_provider_octopods.connection.proxy import redacted, resolve
from airflow_provider_octopods.errors import OctopodsConfigError
from airflow_provider_octopods.protocol import refs
from airflow_provider_octopods.protocol.call import RetryPolicy, StatusCall
from airflow_provider_octopods.protocol.refs import Request


def key_digest(api_key: str) -> str:
    """What stands for an API key wherever things are keyed by it (the gates of one process, the
    budget shared in Redis): a hash, never the key. Redis key names are made of it, and every
    process of a deployment must name the same keys: change it and the budget splits in two."""
    return hashlib.sha256(api_key.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class OctopodsSettings:
    """A connection's settings. ``api_key`` never shows in a repr."""

    conn_id: str
    base_url: str
    api_key: str = field(repr=False)
    timeout: float
    max_retries: int
    max_rate_limit_wait: float
    requests_per_second: float
    verify_tls: bool
    proxy: str | None = field(repr=False)  # may hold the proxy's credentials
    rate_limit_redis_conn_id: str | None = None

    @classmethod
    def from_connection_fields(
        cls, conn_id: str, host: str | None, password: str | None, extra: Mapping[str, Any]
    ) -> OctopodsSettings:
        api_key = (password or "").strip()  # a key read from a file often ends in a newline
        if not api_key:
            raise OctopodsConfigError(
                f"Connection {conn_id!r} has no API key: put the WhatsApp Business API key in its password"
            )
        flaw = refs.header_value_flaw(api_key)
        if flaw:
            # Never the key, nor where in it: only what kind of character cannot be sent.
            raise OctopodsConfigError(
                f"Connection {conn_id!r}: the API key in its password contains {flaw}, which an HTTP "
                f"header cannot carry. Put the WhatsApp Business API key there exactly as Octopods "
                f"shows it; nothing was sent"
            )
        try:
            base_url = refs.normalize_base_url(host)
        except ValueError as exc:
            raise OctopodsConfigError(f"Connection {conn_id!r}: {exc}") from None
        try:
            values = {f.name: f.read(extra, conn_id) for f in EXTRA_FIELDS}
        except ValueError as exc:  # its text names the connection and the extra
            raise OctopodsConfigError(str(exc)) from None
        return cls(conn_id=conn_id, base_url=base_url, api_key=api_key, **values)

    @property
    def route_proxy(self) -> str | None:
        """The proxy both clients send through (None: direct), see ``proxy.resolve``."""
        return resolve(self.base_url, self.proxy)

    def route(self) -> str:
        """Where requests go, for messages: the base URL, and the proxy without credentials."""
        through = self.route_proxy
        return f"base URL {self.base_url}" + (f" via proxy {redacted(through)}" if through else "")

    @functools.cached_property
    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(max_retries=self.max_retries, max_rate_limit_wait=self.max_rate_limit_wait)

    def status_call(self, message: object, deadline: float | None = None) -> StatusCall:
        """A status query for ``message``, checked (id, or URL on this base) before anything is
        sent; ``deadline`` (Unix time): no 429 wait that would end later is started."""
        message_id = refs.message_id_of(message, self.base_url)
        request = refs.build_request(refs.status_url(self.base_url, message_id), self.api_key)
        return StatusCall(
            request, message_id=message_id, conn_id=self.conn_id, policy=self.retry_policy, deadline=deadline
        )

    def probe_request(self) -> Request:
        return refs.build_request(refs.probe_url(self.base_url), self.api_key)
