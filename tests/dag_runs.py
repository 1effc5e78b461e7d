"""Helpers for tests that run the example DAGs with dag.test()."""

from __future__ import annotations

import importlib.util
from typing import Any

from tests.conftest import REPO


def load_example_dag(dag_id: str) -> Any:
    """The DAG object of ``dags/<dag_id>.py``, loaded from the file as the DAG processor would."""
    path = REPO / "dags" / f"{dag_id}.py"
    spec = importlib.util.spec_from_file_location(f"example_dag_{dag_id}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, dag_id)()


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
