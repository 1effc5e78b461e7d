"""The deployment under test, started once for the whole suite and stopped after it."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_octopods.emulator import Emulator
from integration.deployment import HERE, Airflow, Postgres

ARTIFACTS = HERE.parent / ".artifacts"
BUDGET = 250.0  # the connection's requests_per_second


@dataclass
class Deployment:
    airflow: Airflow
    emulator: Emulator
    root: Path


@pytest.fixture(scope="session")
def deployment() -> Iterator[Deployment]:
    root = Path(tempfile.mkdtemp(prefix="octopods-it-"))
    postgres = Postgres(root)
    emulator = Emulator().start()
    airflow: Airflow | None = None
    try:
        database = postgres.start()
        airflow = Airflow(root, database, HERE / "dags")
        airflow.env["IT_SNAPSHOT_ROOT"] = f"file://{root}/statuses"
        airflow.start_all()
        yield Deployment(airflow, emulator, root)
    finally:
        if airflow is not None:
            airflow.stop_all()
            ARTIFACTS.mkdir(exist_ok=True)
            for log in airflow.logs.glob("*.log"):
                (ARTIFACTS / f"airflow-{log.name}").write_bytes(log.read_bytes()[-2_000_000:])
        emulator.stop()
        postgres.stop()


def connection_body(
    emulator: Emulator, conn_id: str, api_key: str | None = None, **extra: Any
) -> dict[str, Any]:
    """A connection to the emulator as the REST API takes it."""
    conn = emulator.connection(api_key=api_key, **extra)
    return {
        "connection_id": conn_id,
        "conn_type": "octopods",
        "host": conn["host"],
        "password": conn["password"],
        "extra": json.dumps(conn["extra"]),
    }


@pytest.fixture(scope="session")
def octopods_connection(deployment: Deployment) -> str:
    """``octopods_default`` created through the REST API, pointing at the emulator."""
    body = connection_body(deployment.emulator, "octopods_default", requests_per_second=BUDGET, max_retries=3)
    answer = deployment.airflow.api("POST", "/api/v2/connections", json=body)
    assert answer.status_code in (201, 409), answer.text
    return "octopods_default"
