"""The table operator with a broken set-up, through dag.test() against the emulator: what can
never succeed fails at once, before the first request and without retries, naming the
connection and the table; a catalog that cannot be reached fails before any request too, and
is retried; the keys of the warehouse never show."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from pyiceberg.schema import Schema
from pyiceberg.types import LongType, NestedField, StringType

from airflow_provider_octopods.emulator import Emulator
from tests.folder_cases import read_only
from tests.iceberg_cases import load_catalog, run_case, use_catalog
from tests.test_snapshot_failures import try_numbers


@pytest.fixture
def warehouse(root: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return use_catalog(monkeypatch, root / "iceberg")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _failure(out: str) -> str:
    return out.split("Task failed with exception")[-1]


def test_a_missing_catalog_connection_fails_once_before_any_request(
    root: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_ICEBERG_DEFAULT", raising=False)
    dag_run = run_case("iceberg_retried", messages=emulator.add_messages(5, deliver_after=0))
    out = _failure(capfd.readouterr().out)
    assert dag_run.state == "failed" and try_numbers(dag_run, "table") == 1
    assert emulator.requests() == []
    assert "Iceberg table octopods.message_statuses of connection 'iceberg_default' cannot be opened" in out
    assert "iceberg_default" in out and "isn't defined" in out


def test_an_unreachable_catalog_fails_before_any_request_and_is_retried(
    root: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    rest = {"conn_type": "iceberg", "host": f"http://127.0.0.1:{_closed_port()}", "extra": {"type": "rest"}}
    monkeypatch.setenv("AIRFLOW_CONN_ICEBERG_DEFAULT", json.dumps(rest))
    dag_run = run_case("iceberg_retried", messages=emulator.add_messages(5, deliver_after=0))
    out = _failure(capfd.readouterr().out)
    assert dag_run.state == "failed" and try_numbers(dag_run, "table") == 3  # retries=2
    assert emulator.requests() == []
    assert "OctopodsTableError" in out and "connection 'iceberg_default' cannot be reached" in out


def test_a_table_of_another_schema_is_refused_naming_the_difference(
    warehouse: Path, emulator: Emulator, capfd: pytest.CaptureFixture[str]
) -> None:
    catalog = load_catalog(warehouse)
    catalog.create_namespace_if_not_exists("octopods")
    schema = Schema(
        NestedField(1, "message_id", LongType(), required=True), NestedField(2, "status", LongType())
    )
    catalog.create_table(("octopods", "other"), schema=schema)
    dag_run = run_case("iceberg_other_table", messages=emulator.add_messages(5, deliver_after=0))
    out = _failure(capfd.readouterr().out)
    assert dag_run.state == "failed" and try_numbers(dag_run, "table") == 1
    assert emulator.requests() == []
    assert "octopods.other of connection 'iceberg_default' exists with another schema" in out
    assert f"column 'status' is long, not {StringType()}" in out and "no column 'sent_at'" in out


@pytest.fixture
def read_only_data(warehouse: Path) -> Iterator[Path]:
    """The table, made, with its data folder on a read-only filesystem."""
    catalog = load_catalog(warehouse)
    from airflow_provider_octopods.iceberg.catalog import TableRef, _load_or_create

    table = _load_or_create(catalog, TableRef.parse("octopods.message_statuses"))
    with read_only(Path(table.location().removeprefix("file://")) / "data") as data:
        yield data


def test_a_warehouse_that_cannot_be_written_is_refused_before_fetching(
    read_only_data: Path, emulator: Emulator, capfd: pytest.CaptureFixture[str]
) -> None:
    dag_run = run_case("iceberg_retried", messages=emulator.add_messages(5, deliver_after=0))
    out = _failure(capfd.readouterr().out)
    assert dag_run.state == "failed" and try_numbers(dag_run, "table") == 1
    assert emulator.requests() == []
    assert "The warehouse of Iceberg table octopods.message_statuses" in out and "cannot be written" in out
    assert "Read-only file system" in out


def test_the_warehouse_keys_never_show(
    warehouse: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    secret = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY"
    port = _closed_port()
    catalog = {
        "conn_type": "iceberg",
        "host": f"sqlite:///{warehouse}/catalog.db",
        "extra": {"type": "sql", "warehouse": "s3://bucket/warehouse"},
    }
    aws = {
        "conn_type": "aws",
        "login": "AKIAEXAMPLE",
        "password": secret,
        "extra": {"endpoint_url": f"http://127.0.0.1:{port}", "region_name": "us-east-1"},
    }
    monkeypatch.setenv("AIRFLOW_CONN_ICEBERG_DEFAULT", json.dumps(catalog))
    monkeypatch.setenv("AIRFLOW_CONN_AWS_WAREHOUSE", json.dumps(aws))
    dag_run = run_case("iceberg_s3", messages=emulator.add_messages(5, deliver_after=0))
    out = capfd.readouterr()
    assert dag_run.state == "failed" and emulator.requests() == []
    assert "Iceberg table octopods.message_statuses of connection 'iceberg_default'" in out.out
    assert secret not in out.out + out.err
