"""The Test button's probe: the status path with no id, read as the Octopods API answers it."""

from __future__ import annotations

import time
from collections.abc import Mapping

from airflow_provider_octopods.errors import OctopodsAuthError, OctopodsRateLimitError
from airflow_provider_octopods.protocol.answers import MAX_BODY_BYTES, oversized
from airflow_provider_octopods.protocol.failures import error_for


def probe_outcome(
    http_status: int, headers: Mapping[str, str], body: bytes, conn_id: str, secret: str | None = None
) -> tuple[bool, str]:
    """Read the answer to the probe (the status path with no id) for ``test_connection``."""
    if len(body) > MAX_BODY_BYTES:
        return False, f"The host answered, but not as the Octopods API does: {oversized(http_status, None)}"
    error = error_for(
        http_status, headers, body, message_id=None, conn_id=conn_id, now=time.time(), secret=secret
    )
    if isinstance(error, OctopodsAuthError):
        return False, str(error)
    if isinstance(error, OctopodsRateLimitError):
        return False, f"Octopods API reached, but the key is rate limited; test again later. {error}"
    if http_status == 400 and error.error_code is not None:
        return True, (
            f"Octopods API reached and the API key accepted (the probe got error code "
            f"{error.error_code}, request_id {error.request_id})"
        )
    return False, f"The host answered, but not as the Octopods API does: {error}"
