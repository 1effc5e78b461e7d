"""From a snapshot task to its day's report: an extra link on both snapshot operators (the
task instance's "Delivery report" button), and the same address in the Asset event's extra,
which the Asset's page lists."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode, urlsplit

from airflow.sdk import BaseOperatorLink

PREFIX = "/octopods"  # the view's app, mounted by the API server here
PAGE = "/delivery/"  # the view's page in the app


def view_path() -> str:
    """The view's page under the API server's base URL (``[api] base_url``, which may put
    Airflow under a sub-path)."""
    from airflow.configuration import conf

    base = urlsplit(conf.get("api", "base_url", fallback="") or "/").path.rstrip("/")
    return f"{base}{PREFIX}{PAGE}"


def report_url(asset_uri: str, run_id: str) -> str:
    """The address of the report of ``run_id``'s snapshot of the Asset ``asset_uri``."""
    return view_path() + "?" + urlencode({"asset": asset_uri, "run_id": run_id})


class DeliveryReportLink(BaseOperatorLink):
    """The report of the day this task published, opened in the Delivery view."""

    name = "Delivery report"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        from airflow_provider_octopods.operators.last_snapshot import snapshot_asset

        asset = snapshot_asset(getattr(operator, "outlets", None) or [])
        return report_url(asset.uri, ti_key.run_id) if asset is not None else ""
