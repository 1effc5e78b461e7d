"""The emulator as users run it for offline DAG tests: its own process, scripted over HTTP."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from airflow_provider_octopods.clients.sync_client import OctopodsClient
from airflow_provider_octopods.connection.settings import OctopodsSettings
from airflow_provider_octopods.emulator.process import emulator_process as run_emulator_process
from airflow_provider_octopods.emulator.send import simulate_send
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


HALF_FAIL = {
    "name": "half fail",
    "outcomes": {"delivered": 0.5, "failed": 0.5},
    "deliver_delay_s": {"fixed": 0},
    "fail_delay_s": {"fixed": 0},
    "read_share_of_delivered": 1.0,
    "read_delay_s": {"fixed": 0},
}


def _statuses(ready: dict[str, Any], ids: list[int]) -> Counter[str]:
    with _client(ready) as client:
        return Counter(client.get_message_status(m).status for m in ids)


def test_started_with_a_model_its_messages_follow_it(tmp_path: Path) -> None:
    model = tmp_path / "half_fail.json"
    model.write_text(json.dumps(HALF_FAIL))
    with run_emulator_process("--model", str(model), "--messages", "200", "--deliver-after", "0") as ready:
        assert ready["model"] == "half fail" and ready["messages"] == 200
        first = ready["first_message_id"]
        statuses = _statuses(ready, list(range(first, first + 200)))
        assert set(statuses) == {"read", "failed"}
        assert 60 < statuses["failed"] < 140
        # Sends follow the model too.
        sent = simulate_send(ready["base_url"], ready["api_key"], 100)
        assert set(_statuses(ready, [m["message_id"] for m in sent])) == {"read", "failed"}


def test_a_built_in_model_by_name_and_none_without() -> None:
    with run_emulator_process("--model", "campaigns", "--messages", "300") as ready:
        assert ready["model"] == "campaigns"
        first = ready["first_message_id"]
        statuses = _statuses(ready, list(range(first, first + 300)))
        # Sent over the last 24 hours: every delivery has come, most reads too.
        assert {"delivered", "read", "failed"} <= set(statuses)
        assert statuses["delivered"] > 100 and statuses["read"] > 100
    with run_emulator_process() as ready:
        assert ready["model"] is None
