"""A simulated send step for example DAGs and demos: messages "sent" through the emulator
that an ``octopods`` connection points at, answered with send responses
(``message_id``, ``message_status_url``) as a real send step would return them."""

from __future__ import annotations

from typing import Any

import requests

from airflow_provider_octopods.protocol.refs import AUTH_HEADER


def simulate_send(base_url: str, api_key: str, count: int = 1) -> list[dict[str, Any]]:
    response = requests.post(
        f"{base_url}/_emulator/send", json={"count": count}, headers={AUTH_HEADER: api_key}, timeout=30
    )
    response.raise_for_status()
    messages: list[dict[str, Any]] = response.json()["messages"]
    return messages
