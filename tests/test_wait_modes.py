"""The three modes drive one engine: the same error policy, the same schedule, the same last
poll before the deadline, the same result. Each case runs in every mode against the emulator."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pyarrow.parquet as pq
import pytest
from airflow.sdk.exceptions import AirflowSensorTimeout

from airflow_provider_octopods.emulator import Emulator
from airflow_provider_octopods.errors import (
    OctopodsAuthError,
    OctopodsTLSError,
)
from airflow_provider_octopods.parquet.schema import snapshot_schema
from tests.wait_modes import MODES, JsonStore, run_sensor

UNKNOWN = 987_654  # a message id the emulator does not know


def connect(monkeypatch: pytest.MonkeyPatch, emulator: Emulator, **change: Any) -> None:
    conn = emulator.connection(requests_per_second=500, max_retries=0, timeout=0.5)
    conn["extra"].update(change.pop("extra", {}))
    conn.update(change)
    monkeypatch.setenv("AIRFLOW_CONN_OCTOPODS_DEFAULT", json.dumps(conn))


def outcome_of(mode: str, ids: list[int]) -> tuple[str, Any]:
    """What the task did: ("met", counts by status) or ("raised", the exception type)."""
    try:
        summary = run_sensor(mode, message_ids=ids, max_failed=1)
    except Exception as exc:
        return "raised", type(exc)
    return "met", summary["counts"]


# Each error kind, made by a real server (the emulator) or a real TLS handshake, and what it
# does to a batch of two (the other message is delivered), whatever the mode.
ERROR_KINDS: dict[str, tuple[dict[str, Any], tuple[str, Any]]] = {
    "refused key": ({"password": "revoked"}, ("raised", OctopodsAuthError)),
    "tls": ({"host": "https"}, ("raised", OctopodsTLSError)),
    "message not found": ({"unknown": True}, ("met", {"delivered": 1, "failed": 1})),
    "server error": ({"fault": "server_error"}, ("met", {"delivered": 2})),
    "garbled body": ({"fault": "truncated"}, ("met", {"delivered": 2})),
    "html instead of json": ({"fault": "html_200"}, ("met", {"delivered": 2})),
    "dropped connection": ({"fault": "drop"}, ("met", {"delivered": 2})),
    "timeout": ({"fault": "slow"}, ("met", {"delivered": 2})),
    "429 past the longest wait": ({"fault": "rate_limit"}, ("met", {"delivered": 2})),
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", list(ERROR_KINDS))
def test_error_policy_table(
    monkeypatch: pytest.MonkeyPatch, emulator: Emulator, kind: str, mode: str
) -> None:
    how, expected = ERROR_KINDS[kind]
    ids = emulator.add_messages(2, deliver_after=0)
    change: dict[str, Any] = {"extra": {"max_rate_limit_wait": 1}}
    if how.get("password"):
        change["password"] = emulator.revoked_key
    if how.get("host"):
        change["host"] = emulator.base_url.replace("http://", "https://")
    if how.get("unknown"):
        ids[0] = UNKNOWN
    if "fault" in how:
        emulator.inject(
            how["fault"], times=1, message_id=ids[0], seconds=2.0 if how["fault"] == "slow" else 60
        )
    connect(monkeypatch, emulator, **change)
    assert outcome_of(mode, ids) == expected
    if expected[1] == {"delivered": 2}:  # retried later: met the fault, then answered
        assert len(emulator.requests(ids[0])) == 2


@pytest.mark.parametrize("mode", MODES)
def test_no_false_timeout_waiting_for_read(
    monkeypatch: pytest.MonkeyPatch, emulator: Emulator, mode: str
) -> None:
    """The issue's case, ten times faster: delivered at 0.3 s, read at 4 s, timeout 12 s,
    polled every 30 s once delivered. The last poll before the deadline sees it read. (Read
    at 4 s, not sooner: a loaded machine may start the first poll a second or two late.)"""
    connect(monkeypatch, emulator)
    [message] = emulator.add_messages(deliver_after=0.3, read_after=4)
    result = run_sensor(
        mode,
        message_id=message,
        target_status="read",
        timeout=12,
        poke_interval=0.5,
        max_poke_interval=0.5,
        first_poke_delay=0.5,
        read_poke_interval=30,
    )
    assert result["status"] == "read"
    polls = [r.at for r in emulator.requests(message)]
    assert len(polls) == 2  # delivered at the first poll, read at the last one
    assert 10 <= polls[1] - polls[0] <= 12


@pytest.mark.parametrize("mode", MODES)
def test_still_pending_at_the_deadline_is_a_timeout(
    monkeypatch: pytest.MonkeyPatch, emulator: Emulator, mode: str
) -> None:
    connect(monkeypatch, emulator)
    [message] = emulator.add_messages(deliver_after=0, read_after=3600)
    with pytest.raises(AirflowSensorTimeout):
        run_sensor(mode, message_id=message, target_status="read", timeout=2, read_poke_interval=30)
    assert len(emulator.requests(message)) == 2  # the first poll, and the last before the deadline


@pytest.mark.parametrize("mode", MODES)
def test_single_message_returns_its_status_and_a_batch_its_summary(
    monkeypatch: pytest.MonkeyPatch, emulator: Emulator, mode: str, tmp_path: Any
) -> None:
    connect(monkeypatch, emulator)
    [one] = emulator.add_messages(deliver_after=0)
    assert run_sensor(mode, message_id=one)["message_id"] == one
    ids = emulator.add_messages(3, deliver_after=0) + emulator.add_messages(2, fail_after=0)
    ids.append(UNKNOWN)
    path = tmp_path / mode / "statuses.parquet"
    summary = run_sensor(mode, message_ids=ids, max_failed=None, statuses_path=f"file://{path}")
    assert summary["counts"] == {"delivered": 3, "failed": 3}
    assert summary["statuses_path"] == f"file://{path}"
    table = pq.read_table(path)
    assert table.schema == snapshot_schema()
    assert table.column("message_id").to_pylist() == ids
    assert table.column("status").to_pylist() == ["delivered"] * 3 + ["failed"] * 2 + [None]
    assert table.column("error_code").to_pylist()[-1] == 2


@pytest.mark.parametrize(("store", "settled_polls"), [(JsonStore(), 1), (None, 4)], ids=["3.3", "3.2"])
def test_reschedule_progress(
    monkeypatch: pytest.MonkeyPatch, emulator: Emulator, store: JsonStore | None, settled_polls: int
) -> None:
    """With a task state store (3.3+) a settled message is never polled again; without one
    (3.2) every poke polls the whole batch."""
    connect(monkeypatch, emulator)
    settled = emulator.add_messages(20, deliver_after=0)
    late = emulator.add_messages(2, after_polls=(3, "delivered"))
    summary = run_sensor("reschedule", store=store, message_ids=[*settled, *late])
    assert summary["counts"] == {"delivered": 22}
    assert {len(emulator.requests(m)) for m in settled} == {settled_polls}
    assert {len(emulator.requests(m)) for m in late} == {4}
    if store is not None:
        assert store.values == {}  # forgotten once the wait is over


@pytest.mark.parametrize("mode", ["poke", "reschedule"])
def test_a_retried_try_resumes_from_the_task_state_store(
    monkeypatch: pytest.MonkeyPatch, emulator: Emulator, mode: str
) -> None:
    """A try that ended (a killed worker) leaves its progress; the next try polls only what
    had not settled."""
    connect(monkeypatch, emulator)
    settled = emulator.add_messages(10, deliver_after=0)
    [never] = emulator.add_messages(1, deliver_after=3600)
    store = JsonStore()
    with pytest.raises(AirflowSensorTimeout):
        run_sensor(mode, store=store, message_ids=[*settled, never], timeout=4)
    assert {len(emulator.requests(m)) for m in settled} == {1}
    emulator.set_status(never, "delivered")
    summary = run_sensor(mode, store=store, message_ids=[*settled, never])
    assert summary["counts"] == {"delivered": 11}
    assert {len(emulator.requests(m)) for m in settled} == {1}


def test_poke_mode_keeps_to_the_connections_budget(
    monkeypatch: pytest.MonkeyPatch, emulator: Emulator
) -> None:
    """The issue's case, smaller: a poke-mode batch polls every due message in a round, and
    the blocking client spaces them at the budget as the async one does (no bursts)."""
    budget = 8
    connect(monkeypatch, emulator, extra={"requests_per_second": budget})
    ids = emulator.add_messages(16, after_polls=(2, "delivered"))
    assert run_sensor("poke", message_ids=ids)["counts"] == {"delivered": 16}
    arrivals = sorted(r.at for r in emulator.requests())
    assert len(arrivals) == 48
    rate = (len(arrivals) - 1) / (arrivals[-1] - arrivals[0])
    assert rate <= budget * 1.05
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    assert min(gaps) >= 0.8 / budget
