"""Helpers for tests that run DAGs with dag.test(): load a DAG from its file, read the run."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

from tests.conftest import REPO


def load_module(path: Path, name: str) -> ModuleType:
    """The module of a file outside the package (a script, a benchmark, a DAG file)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def load_dag(dag_id: str, file: str | None = None) -> Any:
    """A DAG loaded from its file as the DAG processor would: ``file`` relative to the
    repository, by default the example ``dags/<dag_id>.py``."""
    path = REPO / (file or f"dags/{dag_id}.py")
    module = load_module(path, f"dag_file_{path.stem}")
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


def _task_instance(session: Any, dag_id: str, task_id: str, map_index: int = -1) -> Any:
    from airflow.models.taskinstance import TaskInstance
    from sqlalchemy import select

    query = select(TaskInstance).where(
        TaskInstance.dag_id == dag_id, TaskInstance.task_id == task_id, TaskInstance.map_index == map_index
    )
    return session.scalars(query).one()


def next_try_after(dag: Any, task_id: str, what: str) -> Any:
    """Run the next try of the one run of ``dag`` whose worker was killed mid-try, as Airflow
    would: ``what`` is ``"worker died"`` (the scheduler finds no heartbeat and fails the try:
    up for retry, the retries permitting) or ``"cleared"`` (a user clears the task, as the UI
    does); then the next try runs in process, as dag.test() runs tries. Returns the task
    instance's state, try number, dag id and run id after that try."""
    from airflow.models.taskinstance import clear_task_instances
    from airflow.sdk.definitions.dag import _run_task
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState, TaskInstanceState

    task = dag.task_dict[task_id]
    with create_session() as session:
        ti = _task_instance(session, dag.dag_id, task_id)
        assert ti.state == TaskInstanceState.RUNNING  # what the killed worker left
        ti.task = task
        if what == "worker died":
            ti.handle_failure("the worker stopped heartbeating", session=session)
            assert ti.state == TaskInstanceState.UP_FOR_RETRY
        else:
            clear_task_instances([ti], session, dag_run_state=DagRunState.QUEUED)
        session.commit()
    with create_session() as session:
        ti = _task_instance(session, dag.dag_id, task_id)
        ti.try_number += 1
        ti.state = TaskInstanceState.SCHEDULED
        session.commit()
        _run_task(ti=ti, task=task)
        return SimpleNamespace(state=ti.state, try_number=ti.try_number, dag_id=ti.dag_id, run_id=ti.run_id)
