"""Helpers for the Iceberg tests: a catalog on SQLite with a local warehouse, as the
``iceberg_default`` connection; running a case of tests/dags/octopods_iceberg_cases.py."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.dag_runs import load_dag
from tests.snapshots import DAY

TABLE = "octopods.message_statuses"


def catalog_connection(folder: Path) -> str:
    return json.dumps(
        {
            "conn_type": "iceberg",
            "host": f"sqlite:///{folder}/catalog.db",
            "extra": {"type": "sql", "warehouse": f"file://{folder}/warehouse"},
        }
    )


def use_catalog(monkeypatch: pytest.MonkeyPatch, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    monkeypatch.setenv("AIRFLOW_CONN_ICEBERG_DEFAULT", catalog_connection(folder))
    return folder


def load_catalog(folder: Path) -> Any:
    from pyiceberg.catalog.sql import SqlCatalog

    return SqlCatalog(
        "iceberg_default", uri=f"sqlite:///{folder}/catalog.db", warehouse=f"file://{folder}/warehouse"
    )


def duckdb_iceberg() -> Any:
    """A DuckDB connection with DuckDB's own Iceberg reader, loaded from the extension wheels."""
    import duckdb
    import duckdb_extension_avro
    import duckdb_extension_iceberg

    connection = duckdb.connect()
    for extension in (duckdb_extension_avro, duckdb_extension_iceberg):
        [path] = Path(extension.__file__).parent.glob("extensions/*/*.duckdb_extension")
        connection.execute(f"LOAD '{path}'")
    return connection


def run_case(dag_id: str, day: datetime = DAY, **conf: Any) -> Any:
    dag = load_dag(dag_id, file="tests/dags/octopods_iceberg_cases.py")
    return dag.test(run_conf={"case": dag_id, **conf}, logical_date=day)
