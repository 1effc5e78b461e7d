"""The ``octopods`` connection type: its fields, their labels and defaults.

``EXTRA_FIELDS`` is the single definition of the connection's extras: the connection form in
the UI (``conn-fields`` in the provider info) is generated from it, and so is the parsing.
This module imports nothing from Airflow: Airflow reads it while it is still starting up.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from airflow_provider_octopods.connection import proxy

DEFAULT_BASE_URL = "https://app.octopods.io"
CONN_TYPE = "octopods"


@dataclass(frozen=True)
class ExtraField:
    name: str
    label: str
    description: str
    type: str  # JSON-schema type: "number", "integer", "boolean" or "string"
    default: float | int | bool | None
    minimum: float | None = None
    # A secret field is a password input in the form, and its value is never quoted in an error.
    secret: bool = False

    def conn_field(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": [self.type, "null"], "default": self.default}
        if self.minimum is not None:
            schema["minimum"] = self.minimum
        if self.secret:
            schema["format"] = "password"
        return {"label": self.label, "description": self.description, "schema": schema}

    def read(self, extra: Mapping[str, Any], conn_id: str) -> Any:
        # The Airflow 2 form stored extras as extra__<type>__<name>; accept both spellings.
        value = extra.get(self.name, extra.get(f"extra__{CONN_TYPE}__{self.name}"))
        if value is None or value == "":
            return self.default
        try:
            parsed = _PARSERS[self.name if self.name in _PARSERS else self.type](value)
        except (TypeError, ValueError) as exc:
            got = f"({exc})" if self.secret else f"got {value!r}"
            raise ValueError(
                f"Connection {conn_id!r}: extra {self.name!r} must be a {self.type}, {got}"
            ) from None
        if self.minimum is not None and isinstance(parsed, int | float) and parsed < self.minimum:
            raise ValueError(f"Connection {conn_id!r}: extra {self.name!r} must be >= {self.minimum}")
        return parsed


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    raise ValueError(value)


def _integer(value: Any) -> int:
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ValueError(value)
    return int(value)


def _conn_id(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(value)
    return value.strip()


# By type, or by field name where one field needs more than its type.
_PARSERS: dict[str, Callable[[Any], float | int | bool | str]] = {
    "number": float,
    "integer": _integer,
    "boolean": _boolean,
    "string": str,
    "proxy": proxy.check_url,
    "rate_limit_redis_conn_id": _conn_id,
}

EXTRA_FIELDS: tuple[ExtraField, ...] = (
    ExtraField("timeout", "Request timeout (seconds)", "How long one request may take.", "number", 10.0, 0.1),
    ExtraField(
        "max_retries",
        "Retry limit",
        "Retries after a 5xx, a timeout, a dropped connection or a garbled body. "
        "A refused key or an unknown message is never retried.",
        "integer",
        5,
        0,
    ),
    ExtraField(
        "max_rate_limit_wait",
        "Longest wait on HTTP 429 (seconds)",
        "Total time one request may wait for the rate limit to reopen before it fails.",
        "number",
        300.0,
        0,
    ),
    ExtraField(
        "requests_per_second",
        "Status-query rate budget (requests per second)",
        "The share of the API key's rate limit that status queries may use. Sends use the "
        "same limit, so leave them headroom.",
        "number",
        5.0,
        0.01,
    ),
    ExtraField(
        "verify_tls",
        "Verify TLS certificates",
        "Leave on. Turn off only for a test server with a self-signed certificate.",
        "boolean",
        True,
    ),
    ExtraField(
        "proxy",
        "Proxy URL",
        "http://[user:password@]host:port of a forward proxy for this connection only. Empty: "
        "HTTPS_PROXY / HTTP_PROXY / NO_PROXY decide, as for curl. An https base URL is tunnelled "
        "(CONNECT): the proxy never sees the key.",
        "string",
        None,
        secret=True,
    ),
    ExtraField(
        "rate_limit_redis_conn_id",
        "Shared rate budget: Redis connection id",
        "Several workers or triggerers use this key? The id of a `redis` connection: every "
        "process then takes its requests from one budget per API key kept there, and a 429 "
        "met by one pauses all. Empty: each process keeps its own budget.",
        "string",
        None,
    ),
)
