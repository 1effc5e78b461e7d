"""emulator.fit: a sender model fitted from rows held, on rows drawn from a known model and
each shown as the API answered at its last fetch."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from airflow_provider_octopods.emulator.fit import fit_model
from airflow_provider_octopods.emulator.model import SenderModel
from airflow_provider_octopods.refresh.rows import Rows
from airflow_provider_octopods.status import DELIVERED, FAILED, READ, SENT
from tests.refresh_cases import NAT, at

DAY = 86_400.0
SENT_AT = np.datetime64("2026-01-05T00:00:00", "us")
SLOW_READERS: dict[str, Any] = {
    "name": "slow readers",
    "outcomes": {"delivered": 0.8, "failed": 0.1, "never_confirmed": 0.1},
    "deliver_delay_s": {"lognormal": {"median": 10, "sigma": 1.0}},
    "fail_delay_s": {"uniform": {"low": 1, "high": 40}},
    "read_share_of_delivered": 0.3,
    "read_delay_s": {"lognormal": {"median": 3600, "sigma": 1.5}},
    "delivery_unreported_share_of_read": 0.1,
}
MODELS = [SenderModel.load("campaigns"), SenderModel.from_dict(SLOW_READERS)]


def rows_seen(model: SenderModel, count: int, seed: int) -> tuple[Rows, np.ndarray]:
    """``count`` messages of ``model``, each as the API showed it at a last fetch between a
    minute and a week after its send; and each message's true read time after its send."""
    rng = np.random.default_rng(seed)
    timings = model.sample(rng, count)
    fetched = rng.uniform(60, 7 * DAY, count)
    delivered = np.where(timings.unreported, np.nan, timings.deliver)
    status = np.full(count, SENT, dtype=object)
    for step, times in ((DELIVERED, delivered), (READ, timings.read), (FAILED, timings.fail)):
        status[times <= fetched] = step
    sent = SENT_AT + (np.arange(count) * 7).astype("timedelta64[s]")

    def seen(times: np.ndarray) -> np.ndarray:
        return at(np.where(times <= fetched, times, np.nan), sent)

    rows = Rows(
        message_id=np.arange(count, dtype=np.int64),
        status=status,
        error=np.zeros(count, dtype=bool),
        sent_at=sent,
        delivered_at=seen(delivered),
        read_at=seen(timings.read),
        fetched_at=at(fetched, sent),
    )
    return rows, timings.read


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.name)
def test_the_fitted_model_finds_the_senders_outcomes_and_reads(model: SenderModel) -> None:
    rows, read = rows_seen(model, 30_000, seed=1)
    fitted = fit_model(rows, "fitted")
    # 30,000 messages: a share's standard error is at most 0.003
    assert fitted.outcomes.delivered == pytest.approx(model.outcomes.delivered, abs=0.015)
    assert fitted.outcomes.failed == pytest.approx(model.outcomes.failed, abs=0.01)
    assert fitted.outcomes.never_confirmed == pytest.approx(model.outcomes.never_confirmed, abs=0.01)
    assert fitted.read_share_of_delivered == pytest.approx(model.read_share_of_delivered, abs=0.015)
    assert fitted.delivery_unreported_share_of_read == pytest.approx(
        model.delivery_unreported_share_of_read, abs=0.01
    )
    # The fit counts a read's delay from the send (its bands are a minute wide at the start):
    # the model it writes reads a little late, by about the delivery's delay.
    sampled = fitted.sample(np.random.default_rng(2), 50_000).read
    assert np.nanmedian(sampled) == pytest.approx(np.nanmedian(read), rel=0.15)


def test_the_fitted_model_is_a_model_file() -> None:
    rows, _ = rows_seen(MODELS[1], 5_000, seed=3)
    fitted = fit_model(rows, "from my table")
    again = SenderModel.from_dict(fitted.to_dict())
    assert again == fitted
    assert again.name == "from my table"


def test_rows_with_nothing_to_fit_are_refused_naming_their_source() -> None:
    rows, _ = rows_seen(MODELS[0], 100, seed=4)
    error_rows = Rows(
        message_id=rows.message_id,
        status=np.full(len(rows), None, dtype=object),
        error=np.ones(len(rows), dtype=bool),
        sent_at=np.full(len(rows), NAT),
        delivered_at=np.full(len(rows), NAT),
        read_at=np.full(len(rows), NAT),
        fetched_at=rows.fetched_at,
    )
    for nothing in (error_rows, rows_seen(MODELS[0], 0, seed=5)[0]):
        with pytest.raises(ValueError, match=r"^my snapshot root: no rows"):
            fit_model(nothing, "my snapshot root")


def test_a_sender_that_never_reports_a_delivery_of_a_read_message_is_fitted() -> None:
    never_reported = SenderModel.from_dict({**SLOW_READERS, "delivery_unreported_share_of_read": 1.0})
    fitted = fit_model(rows_seen(never_reported, 5_000, seed=6)[0], "fitted")
    assert fitted.delivery_unreported_share_of_read == 1.0
    assert SenderModel.from_dict(fitted.to_dict()) == fitted
