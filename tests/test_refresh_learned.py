"""refresh.learned: which rows the learned refresh fetches, on a history whose truth is known:
half the messages are read within an hour of the send, the others never."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_octopods.refresh import FixedRefresh, LearnedRefresh, RefreshTarget
from airflow_provider_octopods.refresh.learned import NEVER, PROBES, probes
from airflow_provider_octopods.refresh.rows import Rows
from tests.refresh_cases import HOSTILE, NAT, NOW, delivered_rows, hostile_rows, short_rows

HOUR, DAY = 3600.0, 86_400.0
NOW64 = np.datetime64(NOW.replace(tzinfo=None), "us")


def history(count: int = 20_000, seed: int = 0) -> tuple[Rows, np.ndarray, np.ndarray]:
    """Messages sent over the last week, delivered at once, each last fetched at a random age;
    with each row's age now and at its last fetch."""
    rng = np.random.default_rng(seed)
    age_now = rng.uniform(60, 7 * DAY, count)
    fetched = rng.uniform(30, age_now)
    reads = np.where(rng.random(count) < 0.5, rng.uniform(10, HOUR, count), np.inf)
    sent = NOW64 - (age_now * 1e6).astype("timedelta64[us]")
    return delivered_rows(reads, fetched, sent), age_now, fetched


def test_rows_past_the_reading_hour_are_settled_and_young_ones_fetched() -> None:
    rows, age_now, fetched = history()
    due = LearnedRefresh().decide(rows, NOW).due
    pending = (rows.status == "delivered") & ~probes(rows.message_id)
    assert not due[pending & (fetched >= 2 * HOUR)].any()
    assert due[pending & (fetched <= 10 * 60) & (age_now >= HOUR)].all()
    assert not due[rows.status == "read"].any()


def test_even_a_target_of_every_row_leaves_settled_rows_alone() -> None:
    rows, age_now, fetched = history()
    due = LearnedRefresh(RefreshTarget(rows_exact=1, reads_seen=1)).decide(rows, NOW).due
    pending = (rows.status == "delivered") & ~probes(rows.message_id)
    assert due[pending & (fetched < 50 * 60) & (age_now > HOUR)].all()  # any chance of a read
    assert not due[pending & (fetched >= 2 * HOUR)].any()


def test_a_looser_target_fetches_fewer_rows() -> None:
    rows, _, _ = history()
    strict = LearnedRefresh(RefreshTarget(rows_exact=0.999, reads_seen=0.999)).decide(rows, NOW).due
    loose = LearnedRefresh(RefreshTarget(rows_exact=0.9, reads_seen=0.9)).decide(rows, NOW).due
    assert loose.sum() < strict.sum()
    assert not (loose & ~strict).any()


def test_with_no_history_it_decides_as_the_fixed_rule() -> None:
    week = timedelta(days=7)
    rows = short_rows(
        [
            ("delivered", False, NOW - week, NOW - week + timedelta(hours=1)),
            ("delivered", False, NOW - timedelta(hours=3), NOW - timedelta(hours=1)),
            ("sent", False, NOW - timedelta(days=40), NOW - timedelta(days=39)),
            ("read", False, NOW - week, NOW - week),
            (None, True, None, NOW),
        ]
    )
    decision = LearnedRefresh().decide(rows, NOW)
    assert (
        decision.due.tolist() == FixedRefresh().due(rows, NOW).tolist() == [True, False, False, False, True]
    )
    assert any("fixed rule" in line for line in decision.lines)


def test_a_request_budget_takes_error_rows_first_then_the_likeliest_changes() -> None:
    rows, _, _ = history()
    rows = Rows(**{**rows.__dict__, "error": rows.message_id < 3})
    decision = LearnedRefresh(RefreshTarget(max_requests=50)).decide(rows, NOW)
    assert decision.due.sum() == 50 and decision.due[:3].all()
    assert any("expected at this run" in line for line in decision.lines)
    unlimited = LearnedRefresh().decide(rows, NOW).due
    assert unlimited.sum() > 50 and not (decision.due & ~unlimited).any()


def test_the_log_lines_name_the_target_the_fitted_figures_and_the_due_rows() -> None:
    rows, _, _ = history()
    lines = LearnedRefresh().decide(rows, NOW, output_rows=25_000).lines
    assert lines[0].startswith("learned refresh: target 0.99 of rows exact, 0.99 of reads seen within 24 h")
    assert "20,000 rows held, 25,000 in the output" in lines[0]
    assert lines[1] == "fitted from 20,000 rows held"
    assert lines[3].startswith("delivered: ") and "changes seen" in lines[3]
    assert any(line.startswith("delivered: ") and " due (" in line for line in lines[4:])


def test_a_row_just_fetched_is_due_when_its_chance_of_change_comes_back() -> None:
    rows, _, _ = history()
    decision = LearnedRefresh().decide(rows, NOW)
    sent = np.array([NOW64 - np.timedelta64(60, "s"), NOW64 - np.timedelta64(2, "D")])
    fresh = Rows(
        np.array([5, 6]),
        np.array(["delivered"] * 2, dtype=object),
        np.zeros(2, bool),
        sent,
        sent,
        np.array([NAT] * 2),
        np.array([NOW64] * 2),
    )
    young, old = decision.next_fetch(fresh)
    assert NOW64 < young < NOW64 + np.timedelta64(1, "D")
    assert old == NEVER


def test_probes_are_one_row_in_probes_the_same_each_run() -> None:
    ids = np.arange(100_000, dtype=np.int64) * 7919
    chosen = probes(ids)
    assert chosen.mean() == pytest.approx(1 / PROBES, rel=0.1)
    assert (probes(ids) == chosen).all()


@settings(max_examples=60, deadline=None)
@given(HOSTILE, st.integers(0, 100))
def test_any_rows_get_a_decision(rows: list[tuple], budget: int) -> None:  # type: ignore[type-arg]
    """Hostile rows (times before the send or after now, missing, unknown statuses): a
    decision per row; error rows due, final rows not, at most the budget."""
    held = hostile_rows(rows, NOW64 - np.timedelta64(10, "D"))
    due = LearnedRefresh(RefreshTarget(max_requests=budget)).decide(held, NOW).due
    assert due.dtype == bool and len(due) == len(rows) and due.sum() <= budget
    final = np.isin(held.status, ["read", "failed"]) & ~held.error
    assert not due[final].any()
    gaps = held.error | (held.unknown_age() & ~final)  # taken first
    assert due[gaps].sum() == min(int(gaps.sum()), budget)
