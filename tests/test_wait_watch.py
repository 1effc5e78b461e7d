"""wait.watch: a batch's progress, with no server: which messages are due, what settled, the
schedule resumed after a restart or a poke that knows nothing, the last poll before the deadline."""

from __future__ import annotations

import itertools

import pytest

from airflow_provider_octopods.errors import ErrorAction, OctopodsServerError
from airflow_provider_octopods.status import Outcome
from airflow_provider_octopods.wait.policy import PollPolicy
from airflow_provider_octopods.wait.watch import BatchWatch
from tests.wait_cases import _status, polls_until


def test_restart_resumes_the_schedule_instead_of_polling_at_once() -> None:
    policy = PollPolicy()
    watch = BatchWatch([1, 2], "delivered", policy, started_at=1000.0, now=1030.0)
    assert watch.due(1030.0) == []
    first = watch.next_due()
    assert first > 1030.0
    assert first - 1000.0 == policy.schedule(30.0)[0]


def test_batch_settles_and_never_polls_settled_messages() -> None:
    watch = BatchWatch([1, 2, 3, 4], "delivered", PollPolicy(), started_at=0.0, now=0.0)
    assert watch.due(5.0) == [1, 2, 3, 4]
    assert watch.record(_status(1, "delivered"), 5.0) is Outcome.MET
    assert watch.record(_status(2, "read"), 5.0) is Outcome.MET
    assert watch.record(_status(3, "failed", "blocked"), 5.0) is Outcome.FAILED
    assert watch.record(_status(4, "sent"), 5.0) is Outcome.WAITING
    assert watch.due(100.0) == [4]
    assert watch.verdict(max_failed=0) is Outcome.FAILED
    assert watch.verdict(max_failed=1) is Outcome.WAITING
    watch.record(_status(4, "delivered"), 20.0)
    assert watch.verdict(max_failed=None) is Outcome.MET
    assert [r["message_id"] for r in watch.results()] == [1, 2, 3, 4]
    assert "message 3: blocked (request_id r3)" in watch.failure_text(0)


def test_waiting_for_read_backs_off_after_delivery() -> None:
    policy = PollPolicy(read_interval=300)
    watch = BatchWatch([1], "read", policy, started_at=0.0, now=0.0)
    watch.record(_status(1, "delivered"), 5.0)
    assert watch.next_due() == 305.0
    watch.record(_status(1, "delivered"), 305.0)
    assert watch.next_due() == 605.0


def test_transient_failures_postpone_with_growth() -> None:
    watch = BatchWatch([1], "delivered", PollPolicy(interval=4, backoff=2, max_interval=100), 0.0, 0.0)
    passing = OctopodsServerError("HTTP 503", http_status=503)
    assert watch.record_error(1, passing, 10.0) is ErrorAction.RETRY_LATER
    watch.record_error(1, passing, 14.0)
    assert watch.next_due() == 22.0


def test_unknown_status_waits_and_is_reported_once() -> None:
    watch = BatchWatch([1, 2], "delivered", PollPolicy(), 0.0, 0.0)
    assert watch.record(_status(1, "queued"), 5.0) is Outcome.WAITING
    assert watch.is_new_unknown(_status(1, "queued"))
    assert not watch.is_new_unknown(_status(2, "queued"))
    assert not watch.is_new_unknown(_status(2, "sent"))


def test_a_poke_that_knows_nothing_keeps_the_schedule() -> None:
    """Reschedule mode without a task state store: a poke at a slot polls everything and sets
    the next poll where the original schedule has it."""
    policy = PollPolicy(first_delay=5, interval=5, backoff=1.5, max_interval=60)
    for slot, following in itertools.pairwise(polls_until(policy, 200)):
        watch = BatchWatch([1], "delivered", policy, started_at=0.0, now=slot + 0.01)
        watch.all_due(slot + 0.01)
        assert watch.due(slot + 0.01) == [1]
        watch.record(_status(1, "sent"), slot + 0.01)
        assert watch.next_due() == pytest.approx(following + 0.01)


def test_the_last_poll_lands_before_the_deadline() -> None:
    policy = PollPolicy(read_interval=300)
    watch = BatchWatch([1, 2], "read", policy, started_at=0.0, now=0.0, deadline=120.0, rate=2.0)
    watch.record(_status(1, "delivered"), 5.0)
    # min(5 s, a tenth of the wait) before the deadline, less the time to poll both at 2/s
    assert watch.pending[1].at == 120.0 - 5.0 - 1.0
    watch.record(_status(1, "delivered"), 114.0)
    assert watch.pending[1].at > 120.0  # that was the last one
