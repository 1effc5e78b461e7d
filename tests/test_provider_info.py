"""The provider as Airflow discovers it: the info dict valid against Airflow's own schemas, and
the provider, hook and connection form visible to the installed Airflow."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from importlib import resources
from importlib.metadata import entry_points
from typing import Any

import jsonschema

from airflow_provider_octopods import __version__
from airflow_provider_octopods.provider_info import PACKAGE_NAME, get_provider_info


def _airflow_schema(name: str) -> dict[str, Any]:
    return json.loads(resources.files("airflow").joinpath(name).read_text())


def test_entry_point_is_registered() -> None:
    [ep] = [
        ep for ep in entry_points(group="apache_airflow_provider") if ep.dist and ep.dist.name == PACKAGE_NAME
    ]
    assert ep.load() is get_provider_info


def test_provider_info_is_valid_against_airflows_runtime_schema() -> None:
    jsonschema.validate(get_provider_info(), _airflow_schema("provider_info.schema.json"))


def test_connection_form_is_valid_against_the_provider_yaml_schema() -> None:
    schema = _airflow_schema("provider.yaml.schema.json")
    conn_type_schema = schema["properties"]["connection-types"]["items"]
    [conn_type] = get_provider_info()["connection-types"]
    jsonschema.validate(conn_type, {**conn_type_schema, "definitions": schema.get("definitions", {})})
    assert conn_type["connection-type"] == "octopods"
    assert {"timeout", "max_retries", "max_rate_limit_wait", "requests_per_second", "verify_tls"} <= set(
        conn_type["conn-fields"]
    )
    behaviour = conn_type["ui-field-behaviour"]
    assert set(behaviour["hidden-fields"]) == {"schema", "port", "login"}
    assert behaviour["relabeling"]["password"] == "WhatsApp Business API key"
    assert behaviour["placeholders"]["host"] == "https://app.octopods.io"


def test_airflow_builds_the_form_from_the_declaration() -> None:
    """What the UI's hook-meta endpoint reads: hook name, relabelled fields, typed extras."""
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    assert manager.providers[PACKAGE_NAME].data["package-name"] == PACKAGE_NAME
    behaviour = manager.field_behaviours["octopods"]
    assert behaviour["relabeling"] == {"host": "API base URL", "password": "WhatsApp Business API key"}
    widgets = manager.connection_form_widgets
    timeout = widgets["extra__octopods__timeout"]
    assert timeout.field["schema"]["title"] == "Request timeout (seconds)"
    assert timeout.field["value"] == 10.0
    assert not timeout.is_sensitive


def _airflow_providers(*args: str) -> Any:
    result = subprocess.run(
        [sys.executable, "-m", "airflow", "providers", *args, "--output", "json"],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout)


def test_airflow_cli_lists_the_provider_and_its_hook() -> None:
    assert PACKAGE_NAME in {row["package_name"] for row in _airflow_providers("list")}
    [row] = [r for r in _airflow_providers("hooks") if r.get("connection_type") == "octopods"]
    assert row["class"] == "airflow_provider_octopods.hooks.octopods.OctopodsHook"


def test_airflow_providers_triggers_lists_the_trigger() -> None:
    rows = [r for r in _airflow_providers("triggers") if r["package_name"] == PACKAGE_NAME]
    assert rows == [
        {
            "package_name": PACKAGE_NAME,
            "class": "airflow_provider_octopods.triggers.message_status",
            "integration_name": "Octopods",
        }
    ]


def test_airflow_providers_get_shows_the_modules_and_the_documentation_link() -> None:
    [info] = _airflow_providers("get", PACKAGE_NAME, "--full")
    # From the distribution's Project-URL: Airflow's providers page links it.
    # (Airflow before 3.3 keeps the blank after the label's comma.)
    assert info["documentation-url"].strip() == "https://octopods.github.io/airflow-provider-octopods/"
    assert info["versions"] == [__version__]
    declared = {
        kind: info[kind][0]["python-modules"] for kind in ("hooks", "operators", "sensors", "triggers")
    }
    assert declared == {
        "hooks": ["airflow_provider_octopods.hooks.octopods"],
        "operators": [
            "airflow_provider_octopods.operators.message_status",
            "airflow_provider_octopods.operators.message_status_iceberg",
        ],
        "sensors": ["airflow_provider_octopods.sensors.message_status"],
        "triggers": ["airflow_provider_octopods.triggers.message_status"],
    }
    # Every declared module imports and holds what its kind says.
    from airflow.sdk import BaseOperator, BaseSensorOperator
    from airflow.triggers.base import BaseTrigger

    for kind, base in (
        ("operators", BaseOperator),
        ("sensors", BaseSensorOperator),
        ("triggers", BaseTrigger),
    ):
        module = importlib.import_module(declared[kind][0])
        assert any(
            isinstance(v, type) and issubclass(v, base) and v.__module__ == module.__name__
            for v in vars(module).values()
        ), kind
