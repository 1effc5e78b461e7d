"""The Delivery view's tests: an auth manager of Airflow's kind that keeps one DAG from one
user, as a deployment's real auth manager (FAB, Keycloak) restricts DAGs per role."""

from __future__ import annotations

from typing import Any

from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager

ANALYST, SHOWN_DAG, HIDDEN_DAG = "analyst", "view_days", "view_hidden_days"


class AnalystWithoutOneDag(SimpleAuthManager):
    """Airflow's simple auth manager, except that ``ANALYST`` may not read ``HIDDEN_DAG``."""

    def is_authorized_dag(
        self, *, method: Any, user: Any, access_entity: Any = None, details: Any = None
    ) -> bool:
        if user.username == ANALYST and details is not None and details.id == HIDDEN_DAG:
            return False
        return bool(
            super().is_authorized_dag(method=method, user=user, access_entity=access_entity, details=details)
        )
