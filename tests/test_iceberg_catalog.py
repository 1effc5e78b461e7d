"""Opening the table through Airflow connections: the table's name checked when the DAG is
parsed, the warehouse's S3 keys taken from an Amazon connection, a table made elsewhere opened
with this provider's commit settings, a table of this schema created on first use."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airflow_provider_octopods.iceberg import schema
from airflow_provider_octopods.iceberg.catalog import TABLE_PROPERTIES, TableRef, open_table, s3_properties
from tests.iceberg_cases import load_catalog, use_catalog


@pytest.mark.parametrize("text", ["statuses", "", ".statuses", "octopods.", "a..b", None, 3])
def test_a_table_name_without_a_namespace_is_refused(text: object) -> None:
    with pytest.raises(ValueError, match=r"table must be 'namespace\.name'"):
        TableRef.parse(text)  # type: ignore[arg-type]


def test_a_namespace_may_have_levels() -> None:
    ref = TableRef.parse("lake.octopods.statuses")
    assert (ref.namespace, ref.name, str(ref)) == (("lake", "octopods"), "statuses", "lake.octopods.statuses")


def test_the_warehouse_keys_come_from_an_amazon_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    aws = {
        "conn_type": "aws",
        "login": "AKIA-ID",
        "password": "the-secret",
        "extra": {"endpoint_url": "http://127.0.0.1:9000", "region_name": "eu-west-1"},
    }
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", json.dumps(aws))
    assert s3_properties("warehouse") == {
        "s3.access-key-id": "AKIA-ID",
        "s3.secret-access-key": "the-secret",
        "s3.endpoint": "http://127.0.0.1:9000",
        "s3.region": "eu-west-1",
    }


def test_a_table_is_created_on_first_use_and_a_table_made_elsewhere_gets_our_commit_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, airflow_db: str
) -> None:
    use_catalog(monkeypatch, tmp_path)
    made = open_table("iceberg_default", None, TableRef.parse("octopods.ours"))
    assert schema.differences(made) == [] and made.properties["commit.retry.num-retries"] == "0"
    catalog = load_catalog(tmp_path)
    catalog.create_table(
        ("octopods", "theirs"), schema=schema.table_schema(), partition_spec=schema.partition_spec()
    )
    assert "commit.retry.num-retries" not in catalog.load_table("octopods.theirs").properties
    theirs = open_table("iceberg_default", None, TableRef.parse("octopods.theirs"))
    assert theirs.properties["commit.retry.num-retries"] == TABLE_PROPERTIES["commit.retry.num-retries"]
