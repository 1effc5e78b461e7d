"""refresh.hazards: the estimate of how soon a status changes, on synthetic rows whose true
timing is known."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings

from airflow_provider_octopods.refresh.hazards import DAY, Hazards
from airflow_provider_octopods.refresh.rows import Rows
from tests.refresh_cases import HOSTILE, NOW, at, delivered_rows, hostile_rows


def test_a_constant_read_rate_is_found_though_most_rows_are_censored() -> None:
    rng = np.random.default_rng(1)
    rate = 1 / DAY  # a read a day after the delivery, on average
    reads = 5 + rng.exponential(1 / rate, 40_000)
    fetched = rng.uniform(60, 3 * DAY, 40_000)  # each row watched for a different time
    curve = Hazards.fit(delivered_rows(reads, fetched)).delivered
    for start, end in ((3600, 7200), (6 * 3600, DAY), (DAY, 2 * DAY)):
        expected = 1 - np.exp(-rate * (end - start))
        assert float(curve.chance(np.array(start), np.array(end))) == pytest.approx(expected, rel=0.1)
    assert np.mean(reads > fetched) > 0.25  # a quarter and more were never seen read


def test_rows_never_read_make_the_chance_of_a_late_read_vanish() -> None:
    """Half the rows are read within an hour, the others never: past a few hours the estimate
    sees nothing coming, however many rows are still only ``delivered``."""
    rng = np.random.default_rng(2)
    reads = np.where(rng.random(20_000) < 0.5, rng.uniform(10, 3600, 20_000), np.inf)
    curve = Hazards.fit(delivered_rows(reads, rng.uniform(600, 6 * DAY, 20_000))).delivered
    assert float(curve.chance(np.array(0.0), np.array(3600.0))) == pytest.approx(0.5, abs=0.05)
    assert float(curve.chance(np.array(2 * 3600.0), np.array(6 * DAY))) < 0.001
    assert curve.trusted_to >= 5 * DAY


def test_a_failure_with_no_time_is_spread_as_the_dated_changes_are() -> None:
    """Deliveries come within a minute; failures, seen only by a fetch up to a day later, are
    taken to have come then too, not at the fetch: a row still ``sent`` after an hour is
    unlikely to change."""
    rng = np.random.default_rng(3)
    count = 20_000
    sent = np.datetime64(NOW.replace(tzinfo=None), "us") - np.arange(count).astype("timedelta64[s]")
    fetched = rng.uniform(60, DAY, count)
    kind = rng.random(count)  # 90 % delivered, 8 % failed, 2 % never confirmed
    delivered = np.where(kind < 0.9, rng.uniform(1, 60, count), np.nan)
    status = np.where(kind < 0.9, "delivered", np.where(kind < 0.98, "failed", "sent")).astype(object)
    rows = Rows(
        np.arange(count),
        status,
        np.zeros(count, bool),
        sent,
        at(delivered, sent),
        at(np.full(count, np.nan), sent),
        at(fetched, sent),
    )
    curve = Hazards.fit(rows).sent
    assert float(curve.chance(np.array(0.0), np.array(60.0))) > 0.8
    assert float(curve.chance(np.array(3600.0), np.array(DAY))) < 0.05


def test_with_no_rows_nothing_is_trusted() -> None:
    empty = delivered_rows(np.array([]), np.array([]))
    hazards = Hazards.fit(empty)
    assert hazards.sent.trusted_to == hazards.delivered.trusted_to == 0
    assert hazards.describe()[0] == "fitted from 0 rows held"


def test_when_is_the_inverse_of_chance() -> None:
    rng = np.random.default_rng(4)
    curve = Hazards.fit(
        delivered_rows(5 + rng.exponential(3600, 20_000), rng.uniform(60, 2 * DAY, 20_000))
    ).delivered
    start = np.array([60.0, 600.0, 7200.0])
    end = curve.when(start, 0.3)
    assert np.allclose(curve.chance(start, end), 0.3, atol=1e-6)


@settings(max_examples=60, deadline=None)
@given(HOSTILE)
def test_any_rows_give_chances_between_0_and_1(rows: list[tuple]) -> None:  # type: ignore[type-arg]
    """Hostile rows (timestamps before the send, missing, far apart) still give an estimate."""
    fitted = Hazards.fit(hostile_rows(rows, np.datetime64(NOW.replace(tzinfo=None), "us")))
    ages = np.array([0.0, 60.0, DAY, 40 * DAY])
    for curve in (fitted.sent, fitted.delivered):
        chances = curve.chance(ages[:-1], ages[1:])
        assert np.all((chances >= 0) & (chances <= 1))
        assert np.all(curve.when(ages, 0.5) >= ages)
