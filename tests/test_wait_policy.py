"""wait.policy: the polling schedule of one message, with no server: few requests, an interval
that grows to its cap, an inconsistent policy refused."""

from __future__ import annotations

import itertools

import pytest

from airflow_provider_octopods.wait.policy import PollPolicy
from tests.wait_cases import polls_until


@pytest.mark.parametrize(("change_at", "max_requests"), [(5, 1), (60, 8), (900, 25)])
def test_default_policy_spends_few_requests(change_at: float, max_requests: int) -> None:
    policy = PollPolicy()
    times = polls_until(policy, change_at)
    assert len(times) <= max_requests
    # Detected within one interval of the change.
    interval_at_change = policy.schedule(times[-2])[1] if len(times) > 1 else policy.first_delay
    assert times[-1] - change_at <= interval_at_change


def test_schedule_grows_to_its_cap() -> None:
    policy = PollPolicy(first_delay=5, interval=5, backoff=2, max_interval=20)
    times = polls_until(policy, 100)
    assert times[:5] == [5, 10, 20, 40, 60]
    assert all(b - a == 20 for a, b in itertools.pairwise(times[4:]))


def test_inconsistent_policy_is_refused() -> None:
    with pytest.raises(ValueError, match="polling policy"):
        PollPolicy(interval=10, max_interval=5)
