"""The Delivery view as the API server serves it: Airflow's own app (``create_app``, the plugin
loaded from its entry point), its auth manager, and snapshots published by ``airflow dags test``
runs against the emulator. Who may see which day, and the figures of a day."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from airflow_provider_octopods.analytics import delivery_report, read_snapshot
from airflow_provider_octopods.delivery_view.figures import figures
from airflow_provider_octopods.emulator import Emulator
from tests.conftest import _DAGS
from tests.dag_runs import load_dag
from tests.snapshots import DAY
from tests.view_cases import ANALYST, HIDDEN_DAG, SHOWN_DAG

VIEW = "/octopods/delivery/"
DAG_FILE = "tests/dags/octopods_view_cases.py"
API_KEY = "view-test-key-Zq81"
USERS = f"admin:admin,{ANALYST}:viewer,nobody:"  # nobody: a user with no role at all


@dataclass
class Published:
    client: Any
    tokens: dict[str, str]
    root: Path
    runs: dict[str, Any]  # dag id -> its DagRun
    messages: int


def _auth(published: Published, user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {published.tokens[user]}"}


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory, airflow_db: str) -> Iterator[Published]:
    root = tmp_path_factory.mktemp("view")
    with Emulator(api_key=API_KEY) as emulator, pytest.MonkeyPatch.context() as patch:
        patch.setenv("OCTOPODS_VIEW_ROOT", f"file://{root}")
        patch.setenv("AIRFLOW_CONN_OCTOPODS_DEFAULT", emulator.connection_json(max_retries=1))
        patch.setenv("AIRFLOW__CORE__AUTH_MANAGER", "tests.view_cases.AnalystWithoutOneDag")
        patch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", USERS)
        ids = emulator.add_campaign(400, spread_hours=6)
        runs = {
            SHOWN_DAG: _run(SHOWN_DAG, DAY, ids),
            HIDDEN_DAG: _run(HIDDEN_DAG, DAY + timedelta(days=1), ids[:50]),
        }
        assert all(run.state == "success" for run in runs.values())
        yield _serve(root, runs, len(ids))


def _run(dag_id: str, day: datetime, ids: list[int]) -> Any:
    """``airflow dags test`` in a process of its own (on Airflow 3.2, a DAG run by dag.test()
    after other snapshot DAGs in the same process published no Asset event): its DagRun."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    command = ["dags", "test", dag_id, day.isoformat(), "--dagfile-path", str(_DAGS / Path(DAG_FILE).name)]
    command += ["--conf", json.dumps({"messages": ids})]
    done = subprocess.run([sys.executable, "-m", "airflow", *command], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    with create_session() as session:
        run = session.scalars(select(DagRun).where(DagRun.dag_id == dag_id, DagRun.logical_date == day)).one()
        session.expunge(run)
    run.dag = load_dag(dag_id, file=DAG_FILE)
    return run


def _serve(root: Path, runs: dict[str, Any], messages: int) -> Published:
    from airflow.api_fastapi.app import create_app, get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from fastapi.testclient import TestClient

    client = TestClient(create_app())
    manager = get_auth_manager()
    tokens = {
        name: manager.generate_jwt(SimpleAuthManagerUser(username=name, role=role))
        for name, role in (entry.split(":") for entry in USERS.split(","))
    }
    return Published(client, tokens, root, runs, messages)


def _asset(published: Published) -> str:
    """The Asset both runs published (the case DAGs share one root)."""
    [asset] = {o.uri for run in published.runs.values() for o in run.dag.get_task("snapshot").outlets}
    return str(asset)


def _report(published: Published, user: str, dag_id: str) -> Any:
    run = published.runs[dag_id]
    query = {"asset": _asset(published), "run_id": run.run_id}
    return published.client.get(VIEW + "api/report", params=query, headers=_auth(published, user))


@pytest.mark.parametrize("path", ["", "delivery.js", "api/snapshots", "api/report?asset=x"])
def test_every_route_needs_a_user(published: Published, path: str) -> None:
    assert published.client.get(VIEW + path).status_code == 401
    forged = {"Authorization": "Bearer not-a-token"}
    assert published.client.get(VIEW + path, headers=forged).status_code == 403


def test_each_user_sees_the_days_of_the_dags_they_may_read(published: Published) -> None:
    def days(user: str) -> list[tuple[str, str]]:
        answer = published.client.get(VIEW + "api/snapshots", headers=_auth(published, user))
        assert answer.status_code == 200
        [mine] = [s for s in answer.json() if s["uri"] == _asset(published)] or [{"days": []}]
        return [(d["day"], d["dag_id"]) for d in mine["days"]]

    assert days("admin") == [("2026-11-27", HIDDEN_DAG), ("2026-11-26", SHOWN_DAG)]
    assert days(ANALYST) == [("2026-11-26", SHOWN_DAG)]
    assert days("nobody") == []


def test_a_day_of_a_dag_the_user_may_not_read_is_refused(published: Published) -> None:
    for user in (ANALYST, "nobody"):
        answer = _report(published, user, HIDDEN_DAG)
        assert answer.status_code == 403
        assert str(published.root) not in answer.text and "messages" not in answer.text
    assert _report(published, "nobody", SHOWN_DAG).status_code == 403
    assert _report(published, ANALYST, SHOWN_DAG).status_code == 200


def test_the_days_figures_are_the_reports(published: Published) -> None:
    answer = _report(published, ANALYST, SHOWN_DAG)
    body = answer.json()
    assert (body["day"], body["dag_id"]) == ("2026-11-26", SHOWN_DAG)
    folder = published.root / SHOWN_DAG / "snapshot_date=2026-11-26"
    expected = figures(delivery_report(read_snapshot(folder)))
    assert {k: body[k] for k in expected} == expected
    headline = {h["name"]: h["text"] for h in body["headline"]}
    assert headline["messages"] == f"{published.messages:,}"
    assert sum(stage["messages"] for stage in body["funnel"]) == published.messages
    assert sum(hour["messages"] for hour in body["hourly"]) == published.messages - int(
        headline["error_rows"]
    )
    assert API_KEY not in answer.text


def test_a_day_whose_files_are_gone_says_so(published: Published) -> None:
    """The API server cannot read the partition (moved away): the day and the run are named,
    the cause in one line, and nothing is kept (the next request reads again)."""
    folder = published.root / HIDDEN_DAG / "snapshot_date=2026-11-27"
    away = folder.with_name("moved")
    folder.rename(away)
    try:
        answer = _report(published, "admin", HIDDEN_DAG)
    finally:
        away.rename(folder)
    assert answer.status_code == 502
    detail = answer.json()["detail"]
    assert detail.startswith(
        f"the snapshot of 2026-11-27 (run {published.runs[HIDDEN_DAG].run_id}) cannot be read"
    )
    assert "\n" not in detail and "Traceback" not in detail
    assert _report(published, "admin", HIDDEN_DAG).status_code == 200


def test_the_snapshot_tasks_link_opens_its_day(published: Published) -> None:
    run = published.runs[HIDDEN_DAG]
    instance = f"/api/v2/dags/{HIDDEN_DAG}/dagRuns/{run.run_id}/taskInstances/snapshot"
    answer = published.client.get(instance + "/links", headers=_auth(published, "admin"))
    link = urlsplit(answer.json()["extra_links"]["Delivery report"])  # as the UI's button has it
    assert link.path == VIEW
    answer = published.client.get(VIEW + "api/report?" + link.query, headers=_auth(published, "admin"))
    assert answer.status_code == 200, answer.text
    assert (answer.json()["day"], answer.json()["run_id"]) == ("2026-11-27", run.run_id)
