"""Pytest fixture for DAG tests against a local Octopods API.

Opt-in, so that installing the provider adds nothing to unrelated test suites:
``pytest -p airflow_provider_octopods.emulator.pytest_plugin``, or in the root ``conftest.py``:
``pytest_plugins = ["airflow_provider_octopods.emulator.pytest_plugin"]``.

def test_my_dag(octopods_emulator, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_OCTOPODS_DEFAULT", octopods_emulator.connection_json())
    [message_id] = octopods_emulator.add_messages(deliver_after=2)
    ...

To rehearse with your own sender's timings, give a sender model (docs/sender-models.md): a
JSON file or a built-in name, on the command line ``pytest --octopods-model my_sender.json``
or in the ini file ``octopods_model = my_sender.json`` (a path there is relative to the
rootdir). The fixture's ``add_campaign`` and the sends of ``simulate_send`` then follow it;
without one they follow the built-in campaigns, as before.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from airflow_provider_octopods.emulator import Emulator

MODEL_HELP = "sender model for the octopods_emulator fixture: a JSON file or a built-in name"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--octopods-model", dest="octopods_model", help=MODEL_HELP)
    parser.addini("octopods_model", MODEL_HELP)


def _model(config: pytest.Config) -> str | None:
    given: str | None = config.getoption("octopods_model")
    if given:
        return given
    ini: str = config.getini("octopods_model")
    if not ini:
        return None
    in_root = config.rootpath / ini
    return str(in_root) if in_root.is_file() else ini


@pytest.fixture
def octopods_emulator(request: pytest.FixtureRequest) -> Iterator[Emulator]:
    """A fresh emulator on a free loopback port, stopped after the test."""
    with Emulator(model=_model(request.config)) as emulator:
        yield emulator
