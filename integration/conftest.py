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
from integration.browser import browser  # noqa: F401  (a fixture of the UI tests)
from integration.deployment import HERE, Airflow, Postgres, RedisServer, S3Server

ARTIFACTS = HERE.parent / ".artifacts"
BUDGET = 250.0  # octopods_default's requests_per_second
SCALE_BUDGET = 400.0  # octopods_scale's: 100,000 requests in about 250 s
WAREHOUSE_BUCKET = "octopods-warehouse"


@dataclass
class Deployment:
    airflow: Airflow
    emulator: Emulator
    root: Path
    redis: RedisServer
    s3: S3Server
    iceberg_catalog_url: str  # the Iceberg SQL catalog's database, beside Airflow's


@pytest.fixture(scope="session")
def deployment() -> Iterator[Deployment]:
    root = Path(tempfile.mkdtemp(prefix="octopods-it-"))
    postgres = Postgres(root)
    redis = RedisServer(root)
    s3 = S3Server(root)
    emulator = Emulator().start()
    airflow: Airflow | None = None
    try:
        database = postgres.start()
        redis.start()
        s3.start(WAREHOUSE_BUCKET)
        catalog_url = postgres.create_database("iceberg")
        # The Celery broker and the shared rate budget: two databases of one Redis.
        airflow = Airflow(root, database, HERE / "dags", broker_url=f"redis://127.0.0.1:{redis.port}/1")
        airflow.env["IT_SNAPSHOT_ROOT"] = f"file://{root}/statuses"
        airflow.start_all()
        yield Deployment(airflow, emulator, root, redis, s3, catalog_url)
    finally:
        if airflow is not None:
            airflow.stop_all()
            ARTIFACTS.mkdir(exist_ok=True)
            for log in airflow.logs.glob("*.log"):
                (ARTIFACTS / f"airflow-{log.name}").write_bytes(log.read_bytes()[-2_000_000:])
        emulator.stop()
        redis.stop()
        s3.stop()
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


def _create(deployment: Deployment, body: dict[str, Any]) -> str:
    answer = deployment.airflow.api("POST", "/api/v2/connections", json=body)
    assert answer.status_code in (201, 409), answer.text
    return str(body["connection_id"])


@pytest.fixture(scope="session")
def budget_store(deployment: Deployment) -> str:
    """``octopods_budget``: the suite's Redis as a ``redis`` connection, the shared budget's store."""
    return _create(deployment, deployment.redis.connection("octopods_budget"))


def _octopods(deployment: Deployment, conn_id: str, budget: float, store: str) -> str:
    """A connection to the emulator whose budget every process shares through ``store``."""
    body = connection_body(
        deployment.emulator,
        conn_id,
        requests_per_second=budget,
        max_retries=3,
        rate_limit_redis_conn_id=store,
    )
    return _create(deployment, body)


@pytest.fixture(scope="session")
def octopods_connection(deployment: Deployment, budget_store: str) -> str:
    """``octopods_default``, created through the REST API, pointing at the emulator."""
    return _octopods(deployment, "octopods_default", BUDGET, budget_store)


@pytest.fixture(scope="session")
def scale_connection(deployment: Deployment, budget_store: str) -> str:
    """``octopods_scale``: the scale-out tests' connection, at ``SCALE_BUDGET``."""
    return _octopods(deployment, "octopods_scale", SCALE_BUDGET, budget_store)


@pytest.fixture(scope="session")
def iceberg_connections(deployment: Deployment) -> tuple[str, str]:
    """``it_iceberg``, pyiceberg's SQL catalog on the deployment's PostgreSQL with its
    warehouse on the S3 server, and ``it_s3``, the Amazon connection with the server's keys."""
    catalog = {
        "connection_id": "it_iceberg",
        "conn_type": "iceberg",
        "host": deployment.iceberg_catalog_url,
        "extra": json.dumps({"type": "sql", "warehouse": f"s3://{WAREHOUSE_BUCKET}/warehouse"}),
    }
    return _create(deployment, catalog), _create(deployment, deployment.s3.connection("it_s3"))
