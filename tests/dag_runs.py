"""Helpers for tests that run DAGs with dag.test(): load a DAG from its file, read the run."""

from __future__ import annotations

import importlib.util
from typing import Any

from tests.conftest import REPO


def load_dag(dag_id: str, file: str | None = None) -> Any:
    """A DAG loaded from its file as the DAG processor would: ``file`` relative to the
    repository, by default the example ``dags/<dag_id>.py``."""
    path = REPO / (file or f"dags/{dag_id}.py")
    spec = importlib.util.spec_from_file_location(f"dag_file_{path.stem}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    found = getattr(module, dag_id)
    return found() if callable(found) else found


def task_state(dag_run: Any, task_id: str) -> str:
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    query = select(TaskInstance.state).where(
        TaskInstance.dag_id == dag_run.dag_id,
        TaskInstance.run_id == dag_run.run_id,
        TaskInstance.task_id == task_id,
    )
    with create_session() as session:
        return str(session.scalar(query))


def task_xcom(dag_run: Any, task_id: str) -> Any:
    """The return value a task of a finished run pushed."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    query = XComModel.get_many(
        run_id=dag_run.run_id, dag_ids=dag_run.dag_id, task_ids=task_id, key="return_value"
    )
    with create_session() as session:
        row = session.scalars(query).first()
        assert row is not None, f"{task_id} pushed no XCom"
        return XComModel.deserialize_value(row)
