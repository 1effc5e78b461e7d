"""What a long run says: durations as people read them, and the cadence of progress lines."""

from __future__ import annotations

import itertools

import pytest

from airflow_provider_octopods.reporting.durations import (
    FIRST_SECONDS,
    MOST_SECONDS,
    Cadence,
    duration,
    least_time,
)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.25, "0.2 s"),
        (45, "45 s"),
        (60, "1 min"),
        (725, "12 min 5 s"),
        (20_000, "5 h 33 min"),
        (7_200, "2 h"),
        (3 * 86_400 + 4 * 3_600 + 59, "3 days 4 h"),
        (86_400 + 60, "1 day"),  # two units at most, and none skipped between them
        (-5, "0.0 s"),
    ],
)
def test_duration(seconds: float, text: str) -> None:
    assert duration(seconds) == text


def test_least_time_at_a_budget() -> None:
    assert least_time(100_000, 5.0) == 20_000
    assert least_time(100_000, None) == 0.0  # no pacing: no least time to tell


def test_the_cadence_starts_at_30_s_and_slows_to_5_min() -> None:
    now = [1000.0]
    cadence = Cadence(lambda: now[0])
    said: list[float] = []
    while now[0] < 1000.0 + 5 * 3600:  # five hours, polled every second
        now[0] += 1.0
        if cadence.due():
            said.append(now[0] - 1000.0)
    gaps = [b - a for a, b in itertools.pairwise(said)]
    assert said[0] == FIRST_SECONDS
    assert min(gaps) >= FIRST_SECONDS and max(gaps) <= MOST_SECONDS + 1
    assert 40 < len(said) < 100  # a five-hour run: under a hundred lines
