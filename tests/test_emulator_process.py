"""The emulator as users run it for offline DAG tests: its own process, scripted over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from airflow_provider_octopods.clients.sync_client import OctopodsClient
from airflow_provider_octopods.connection.settings import OctopodsSettings
from airflow_provider_octopods.emulator.process import emulator_process as run_emulator_process
from airflow_provider_octopods.errors import OctopodsServerError


@pytest.fixture
def emulator_process() -> Iterator[dict[str, Any]]:
    with run_emulator_process("--messages", "3", "--deliver-after", "0") as ready:
        yield ready


def _client(ready: dict[str, Any], **extra: object) -> OctopodsClient:
    settings = OctopodsSettings.from_connection_fields("emu", ready["base_url"], ready["api_key"], extra)
    return OctopodsClient(settings, sleep=lambda _: None)


def test_scripted_over_http(emulator_process: dict[str, Any]) -> None:
    base = emulator_process["base_url"]
    first = emulator_process["first_message_id"]
    with _client(emulator_process) as client:
        assert client.get_message_status(first).status == "delivered"
        [later] = requests.post(f"{base}/_emulator/messages", json={"deliver_after": 60}, timeout=5).json()[
            "message_ids"
        ]
        assert client.get_message_status(later).status == "sent"
        requests.post(f"{base}/_emulator/config", json={"advance": 61}, timeout=5).raise_for_status()
        assert client.get_message_status(later).status == "delivered"
        requests.post(
            f"{base}/_emulator/messages/{later}", json={"status": "read"}, timeout=5
        ).raise_for_status()
        assert client.get_message_status(later).status == "read"
        faults = {"faults": [{"kind": "server_error", "times": 9}]}
        requests.post(f"{base}/_emulator/config", json=faults, timeout=5).raise_for_status()
    with _client(emulator_process, max_retries=1) as client, pytest.raises(OctopodsServerError):
        client.get_message_status(first)
    stats = requests.get(f"{base}/_emulator/stats", timeout=5).json()
    assert stats["by_http_status"] == {"200": 4, "500": 2}
    assert stats["messages"] == 4
