"""The snapshot as a new user meets it at scale and with a broken set-up, through dag.test()
against the emulator or the hostile server: what can never succeed fails at once, before the
first request and without retries, naming the user's own path or input; an outage is told
within seconds and named at the end; a 429 that asks for years ends at once; SIGTERM stops a
try within seconds and its retry resumes."""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_provider_octopods.emulator import Emulator
from tests.dag_runs import task_state, task_xcom
from tests.folder_cases import read_only
from tests.hostile import HostileServer, answer_with
from tests.snapshots import files_under, partition, progress_root, read_back, rows_by_id, run_case


def try_numbers(dag_run: object, task_id: str = "snapshot") -> int:
    """How many tries the task instance ran."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    query = select(TaskInstance.try_number).where(
        TaskInstance.dag_id == dag_run.dag_id,  # type: ignore[attr-defined]
        TaskInstance.run_id == dag_run.run_id,  # type: ignore[attr-defined]
        TaskInstance.task_id == task_id,
    )
    with create_session() as session:
        return int(session.scalar(query) or 0)


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Iterator[Path]:
    """A folder on a read-only filesystem (a tmpfs mounted ro: root writes anywhere else)."""
    with read_only(tmp_path / "read-only") as mount:
        yield mount


def test_a_read_only_output_fails_at_once_with_no_request_and_no_retry(
    root: Path,
    emulator: Emulator,
    read_only_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("OCTOPODS_TEST_SNAPSHOT_ROOT", f"file://{read_only_dir}/statuses")
    ids = emulator.add_messages(50, deliver_after=0)
    dag_run = run_case("snapshot_retried", messages=ids)
    out = capfd.readouterr().out
    assert dag_run.state == "failed"
    assert try_numbers(dag_run) == 1  # retries=2, and one try
    assert emulator.requests() == []
    assert f"output_path file://{read_only_dir}/statuses/snapshot_retried/snapshot_date=2026-11-26" in out
    assert "Read-only file system" in out and "nothing was fetched" in out


def test_an_output_under_a_regular_file_names_the_output_path(
    root: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    (root / "a-file").write_text("not a folder")
    monkeypatch.setenv("OCTOPODS_TEST_SNAPSHOT_ROOT", f"file://{root}/a-file/statuses")
    dag_run = run_case("snapshot_retried", messages=emulator.add_messages(5, deliver_after=0))
    out = capfd.readouterr().out
    assert dag_run.state == "failed" and try_numbers(dag_run) == 1
    assert emulator.requests() == []
    assert f"output_path file://{root}/a-file/statuses/snapshot_retried" in out
    assert "octopods-progress" not in out.split("Task failed with exception")[-1].split("\n")[0]


def test_a_missing_ids_file_fails_once_naming_the_parameter(
    root: Path, emulator: Emulator, capfd: pytest.CaptureFixture[str]
) -> None:
    missing = root / "no-such-send-log.csv"
    dag_run = run_case("snapshot_file_retried", path=f"file://{missing}")
    out = capfd.readouterr().out
    assert dag_run.state == "failed" and try_numbers(dag_run) == 1  # retries=2, and one try
    assert emulator.requests() == []
    assert f"OctopodsInputError: message_ids_path file://{missing} is not a file" in out


def test_a_file_without_the_message_id_column_fails_once_saying_so(
    root: Path, emulator: Emulator, capfd: pytest.CaptureFixture[str]
) -> None:
    sent = root / "sent.csv"
    sent.write_text("id,phone\n1,+1\n")
    dag_run = run_case("snapshot_file", path=f"file://{sent}")
    out = capfd.readouterr().out
    assert dag_run.state == "failed" and try_numbers(dag_run) == 1
    assert "OctopodsInputError" in out and "has no 'message_id' column" in out and str(sent) in out


def test_invalid_inputs_count_towards_the_error_ratio(
    root: Path, emulator: Emulator, capfd: pytest.CaptureFixture[str]
) -> None:
    [message] = emulator.add_messages(deliver_after=0)
    dag_run = run_case("snapshot_retried", messages=["abc", message, -5])
    out = capfd.readouterr().out
    assert dag_run.state == "failed" and try_numbers(dag_run) == 1  # the same inputs fail again
    assert "2 of 3 inputs are not message ids (e.g. 'abc', -5)" in out
    assert rows_by_id(read_back(partition(root, "snapshot_retried"))).keys() == {message}


def test_an_outage_is_told_within_seconds_and_named_at_the_end(
    root: Path, emulator: Emulator, capfd: pytest.CaptureFixture[str]
) -> None:
    ids = emulator.add_messages(100, deliver_after=0)
    warned: list[float] = []

    class Stamp(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "failed since the last warning" in record.getMessage():
                warned.append(time.monotonic())

    down: list[float] = []

    def outage() -> None:  # the API goes away 20 requests in (about a second at 20/s)
        deadline = time.monotonic() + 60
        while len(emulator.requests()) < 20 and time.monotonic() < deadline:
            time.sleep(0.01)
        emulator.stop()
        down.append(time.monotonic())

    handler = Stamp()
    logging.getLogger("airflow_provider_octopods.reporting.tally").addHandler(handler)
    threading.Thread(target=outage, daemon=True).start()
    try:
        dag_run = run_case("snapshot_outage", messages=ids)
    finally:
        logging.getLogger("airflow_provider_octopods.reporting.tally").removeHandler(handler)
    out = capfd.readouterr().out
    assert dag_run.state == "failed"
    assert down, "the outage never started"
    after = [at for at in warned if at >= down[0]]
    assert after and after[0] - down[0] < 15  # the first warning after the outage, within seconds
    assert "could not be reached (http://127.0.0.1:" in out or "dropped" in out
    final = out[out.index("more than max_error_ratio") - 600 :]
    assert "OctopodsConnectionError x" in final  # the kind of error, counted, with a sample
    rows = rows_by_id(read_back(partition(root, "snapshot_outage")))
    assert sorted(rows) == ids  # one row per id, fetched or error


def test_a_429_asking_for_years_ends_each_request_at_once(
    root: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    years = answer_with(429, {"error": "slow down"}, {"Retry-After": "999999999999"})
    ids = list(range(1, 10))
    with HostileServer(years) as server:
        monkeypatch.setenv("AIRFLOW_CONN_OCTOPODS_DEFAULT", json.dumps(server.connection("k3y-for-429")))
        started = time.monotonic()
        dag_run = run_case("snapshot_ids", messages=ids)
        took = time.monotonic() - started
        assert len(server.requests) == len(ids)  # one request each: no wait, no retry
    assert took < 60
    rows = rows_by_id(read_back(partition(root, "snapshot_ids")))
    assert sorted(rows) == ids and all(r["error_code"] == -1 or r["error"] for r in rows.values())
    assert "not waiting" in rows[1]["error"] and "max_rate_limit_wait=300 s" in rows[1]["error"]
    assert "no sooner than 7 days from now (the server asks for longer)" in rows[1]["error"]
    assert dag_run.state == "failed"  # 9 error rows of 9
    assert "OctopodsRateLimitError x9" in capfd.readouterr().out


def test_sigterm_stops_a_snapshot_within_seconds_and_its_retry_resumes(
    root: Path, emulator: Emulator
) -> None:
    ids = emulator.add_messages(6_000, deliver_after=0)
    ids_file = root / "ids.csv"
    ids_file.write_text("message_id\n" + "".join(f"{m}\n" for m in ids))
    emulator.set_latency(0.02)  # slow enough to be stopped mid-fetch
    stopped: list[float] = []

    def terminate_once_pieces_exist() -> None:
        deadline = time.monotonic() + 120
        while len(files_under(progress_root(root), "piece-*")) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        # What a worker does to a task marked failed in the UI: SIGTERM to the task's process,
        # here this one, where dag.test() runs the try under Airflow's task runner.
        assert signal.getsignal(signal.SIGTERM) not in (signal.SIG_DFL, None), "no handler installed"
        stopped.append(time.monotonic())
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=terminate_once_pieces_exist, daemon=True).start()
    dag_run = run_case("snapshot_durable", path=f"file://{ids_file}")
    emulator.set_latency(0.0)
    assert stopped, "no piece within 120 s"
    assert task_state(dag_run, "snapshot") == "success" and try_numbers(dag_run) == 2
    first_try_end = first_try_ended_at(dag_run)
    assert first_try_end - stopped[0] < 15
    rows = rows_by_id(read_back(partition(root, "snapshot_durable")))
    assert sorted(rows) == ids
    # The retry resumed from what the stopped try committed (at least the 2 pieces seen, and
    # the rows buffered when it stopped), and asked only for the rest.
    summary = task_xcom(dag_run, "snapshot")
    assert summary["resumed_rows"] >= 1000
    assert summary["requests"] == len(ids) - summary["resumed_rows"]


def first_try_ended_at(dag_run: object) -> float:
    """When the first try ended, on the monotonic clock of this process."""
    from airflow.models.taskinstancehistory import TaskInstanceHistory
    from airflow.utils.session import create_session
    from sqlalchemy import select

    query = select(TaskInstanceHistory.end_date).where(
        TaskInstanceHistory.dag_id == dag_run.dag_id,  # type: ignore[attr-defined]
        TaskInstanceHistory.run_id == dag_run.run_id,  # type: ignore[attr-defined]
        TaskInstanceHistory.try_number == 1,
    )
    with create_session() as session:
        ended = session.scalar(query)
    assert ended is not None, "no record of the first try"
    return time.monotonic() - (time.time() - ended.timestamp())
