"""Pytest fixture for DAG tests against a local Octopods API.

Opt-in, so that installing the provider adds nothing to unrelated test suites:
``pytest -p airflow_provider_octopods.emulator.pytest_plugin``, or in the root ``conftest.py``:
``pytest_plugins = ["airflow_provider_octopods.emulator.pytest_plugin"]``.

def test_my_dag(octopods_emulator, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_OCTOPODS_DEFAULT", octopods_emulator.connection_json())
    [message_id] = octopods_emulator.add_messages(deliver_after=2)
    ...
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from airflow_provider_octopods.emulator import Emulator


@pytest.fixture
def octopods_emulator() -> Iterator[Emulator]:
    """A fresh emulator on a free loopback port, stopped after the test."""
    with Emulator() as emulator:
        yield emulator
