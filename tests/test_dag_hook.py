"""The hook used from real Airflow tasks: the example DAG run by dag.test() with an env-var
connection to the emulator."""

from __future__ import annotations

import pytest

from airflow_provider_octopods.emulator import Emulator
from tests.dag_runs import load_dag, task_xcom


def test_read_status_dag_under_dag_test(
    airflow_db: str, octopods_conn: str, emulator: Emulator, capfd: pytest.CaptureFixture[str]
) -> None:
    delivered = emulator.add_messages(2, deliver_after=0)
    [failed] = emulator.add_messages(fail_after=0)
    messages = [delivered[0], str(delivered[1]), emulator.message_status_url(failed)]

    dag_run = load_dag("octopods_read_status").test(run_conf={"messages": messages})

    assert dag_run.state == "success"
    assert task_xcom(dag_run, "summarize") == {"delivered": 2, "failed": 1}
    assert [len(emulator.requests(m)) for m in (*delivered, failed)] == [1, 1, 1]
    out, err = capfd.readouterr()
    assert emulator.api_key not in out + err
