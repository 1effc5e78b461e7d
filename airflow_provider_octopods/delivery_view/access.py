"""Who may see what: the user of the request (Airflow's JWT, from the UI's cookie or an
``Authorization: Bearer`` header, checked by the API server's own dependency) and whether
Airflow's auth manager lets them read a DAG. A day's report shows what the DAG's snapshot task
fetched, so reading it takes what reading that DAG takes."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from airflow.api_fastapi.core_api.security import get_user

__all__ = ["get_user", "may_read"]


def may_read(user: Any) -> Callable[[str], bool]:
    """``readable(dag_id)`` for ``user``, asking the auth manager once per DAG."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import DagDetails

    manager = get_auth_manager()

    @cache
    def readable(dag_id: str) -> bool:
        details = DagDetails(id=dag_id, team_name=_team(dag_id))
        return bool(manager.is_authorized_dag(method="GET", details=details, user=user))

    return readable


def _team(dag_id: str) -> str | None:
    """The DAG's team (multi-team deployments), as Airflow's own DAG endpoints pass it."""
    from airflow.models.dag import DagModel

    return DagModel.get_team_name(dag_id)
