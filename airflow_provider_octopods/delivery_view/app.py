"""The Delivery view's FastAPI app, served by Airflow's API server under ``links.PREFIX``.

Every route needs an authenticated user (401 without a token, 403 with a bad one: the API
server's own check), and a day's data needs read access to the DAG that published it (403).
The page itself holds no data: it asks ``/api/snapshots`` for the days the user may read, then
``/api/report`` for one day's figures."""

from __future__ import annotations

import contextlib
import importlib
import json
import threading
from importlib.resources import files
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query
from fastapi.responses import HTMLResponse, Response

from airflow_provider_octopods.delivery_view import published
from airflow_provider_octopods.delivery_view.access import get_user, may_read
from airflow_provider_octopods.delivery_view.figures import Cache, figures
from airflow_provider_octopods.delivery_view.links import PAGE

PAGE_FILES = files("airflow_provider_octopods.delivery_view") / "page"

User = Annotated[Any, Depends(get_user)]
app = FastAPI(title="Octopods delivery view", docs_url=None, redoc_url=None, openapi_url=None)
_reports = Cache()


@app.get(PAGE, response_class=HTMLResponse)
def page(user: User) -> str:
    return (PAGE_FILES / "delivery.html").read_text(encoding="utf-8")


@app.get(PAGE + "delivery.js")
def script(user: User) -> Response:
    return Response((PAGE_FILES / "delivery.js").read_text(encoding="utf-8"), media_type="text/javascript")


@app.get(PAGE + "api/snapshots")
def snapshots(user: User) -> list[dict[str, Any]]:
    """The snapshot Assets and their days, as far as the user may read them."""
    from airflow.utils.session import create_session

    with create_session() as session:
        found = published.snapshots(session, may_read(user))
    return [
        {
            "uri": s.uri,
            "name": s.name,
            "days": [{"day": d.day, "dag_id": d.dag_id, "run_id": d.run_id} for d in s.days],
        }
        for s in found
    ]


@app.get(PAGE + "api/report")
def report(
    user: User, asset: Annotated[str, Query()], run_id: Annotated[str | None, Query()] = None
) -> dict[str, Any]:
    """One day's figures: the run ``run_id`` of ``asset`` (the newest when not given)."""
    from airflow.utils.session import create_session

    with create_session() as session:
        day = published.find_day(session, may_read(user), asset, run_id)
        hidden = day is None and published.find_day(session, lambda _: True, asset, run_id) is not None
    if hidden:
        raise HTTPException(403, "reading this report takes read access to the DAG that published it")
    if day is None:
        raise HTTPException(404, f"no snapshot of {asset} published by run {run_id or '(any)'}")
    key = json.dumps([*day.rows, day.run_id])  # a later run of a partition replaces its rows
    return {
        "asset": asset,
        "day": day.day,
        "dag_id": day.dag_id,
        "run_id": day.run_id,
        **_reports.get(key, lambda: _compute(day)),
    }


def _compute(day: published.Day) -> dict[str, Any]:
    try:
        from airflow_provider_octopods.analytics import delivery_report
    except ImportError as exc:  # the API server's install lacks the analytics extra
        raise HTTPException(501, str(exc)) from None
    try:
        rows = day.read()
    except Exception as exc:
        raise HTTPException(
            502, f"the snapshot of {day.day} (run {day.run_id}) cannot be read: {_first_line(exc)}"
        ) from None
    return figures(delivery_report(rows))


def _import_analytics() -> None:
    with contextlib.suppress(ImportError):  # the report's route says which extra is missing
        importlib.import_module("airflow_provider_octopods.analytics")


# pandas and pyarrow take a second or more to import in a fresh API server: begin while the
# browser loads the page and the list of days, not when it asks for the first report.
threading.Thread(target=_import_analytics, name="octopods-analytics-import", daemon=True).start()


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:300] if text else ''}"
