"""Where the Delivery view's links point: under Airflow's base URL, with the Asset and the run
in the query, whatever characters they hold."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from airflow_provider_octopods.delivery_view.links import report_url, view_path


@pytest.mark.parametrize(
    ("base_url", "path"),
    [
        ("", "/octopods/delivery/"),
        ("http://localhost:8080", "/octopods/delivery/"),
        ("https://airflow.example.com/team-a/", "/team-a/octopods/delivery/"),
    ],
)
def test_the_view_is_under_airflows_base_url(
    monkeypatch: pytest.MonkeyPatch, base_url: str, path: str
) -> None:
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", base_url)
    assert view_path() == path


def test_a_reports_address_keeps_the_asset_and_the_run_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "https://airflow.example.com/team-a")
    asset, run_id = "s3://bucket/statuses & co/?x=1#y", "manual__2026-11-26T00:00:00+00:00"
    address = urlsplit(report_url(asset, run_id))
    assert address.path == "/team-a/octopods/delivery/"
    assert parse_qs(address.query) == {"asset": [asset], "run_id": [run_id]}
