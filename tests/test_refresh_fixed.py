"""The fixed refresh rule, on columns, at a given ``now``: which rows are fetched again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from airflow_provider_octopods.refresh import FixedRefresh
from tests.refresh_cases import Short, short_rows

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)
H = timedelta(hours=1)


def due(policy: FixedRefresh, rows: list[Short]) -> list[bool]:
    return [bool(x) for x in policy.due(short_rows(rows), NOW)]


def test_a_row_waits_factor_times_its_age_at_the_last_fetch() -> None:
    policy = FixedRefresh(factor=2, floor=H, ceiling=timedelta(days=4))
    # Age 3 h when fetched: due 6 h later, not 5 h later.
    assert due(policy, [("delivered", False, NOW - 9 * H, NOW - 6 * H)]) == [True]
    assert due(policy, [("delivered", False, NOW - 8 * H, NOW - 5 * H)]) == [False]


def test_the_wait_is_kept_between_floor_and_ceiling() -> None:
    policy = FixedRefresh(factor=2, floor=H, ceiling=timedelta(days=1))
    young = ("sent", False, NOW - 61 * timedelta(minutes=1), NOW - 60 * timedelta(minutes=1))
    assert due(policy, [young]) == [True]  # 2 x 1 min < the floor of 1 h, which has passed
    old = ("delivered", False, NOW - timedelta(days=11), NOW - timedelta(days=1))
    assert due(policy, [old]) == [True]  # 2 x 10 days, but the ceiling is a day
    assert due(policy, [("delivered", False, NOW - 2 * H, NOW - 0.5 * H)]) == [False]  # under the floor


def test_past_the_horizon_a_message_is_not_fetched_again() -> None:
    policy = FixedRefresh(factor=1, floor=H, ceiling=timedelta(days=1), horizon=timedelta(days=3))
    assert due(policy, [("delivered", False, NOW - timedelta(days=4), NOW - timedelta(days=2))]) == [False]
    assert due(policy, [("delivered", False, NOW - timedelta(days=3), NOW - timedelta(days=2))]) == [True]


def test_terminal_rows_never_errors_and_unknown_ages_always() -> None:
    policy = FixedRefresh()
    long_ago = NOW - timedelta(days=20)
    rows = [
        ("read", False, long_ago, long_ago),
        ("failed", False, long_ago, long_ago),
        (None, True, None, NOW),  # an error row fetched just now
        ("sent", False, None, NOW),  # no sent_at: its age is unknown
        ("delivered", False, NOW, None),
        ("queued", False, long_ago, long_ago),  # a status Octopods may add later: not terminal
    ]
    assert due(policy, rows) == [False, False, True, True, True, True]


def test_carry_forward_of_terminal_rows_only_is_a_policy_too() -> None:
    policy = FixedRefresh(factor=0, floor=timedelta(0))
    assert due(policy, [("delivered", False, NOW - 2 * H, NOW), ("read", False, NOW - 2 * H, NOW)]) == [
        True,
        False,
    ]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"factor": -1},
        {"factor": float("nan")},
        {"floor": 2 * H, "ceiling": H},
        {"floor": -H},
        {"horizon": timedelta(0)},
    ],
)
def test_a_nonsense_policy_is_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"must|need"):
        FixedRefresh(**kwargs)  # type: ignore[arg-type]
