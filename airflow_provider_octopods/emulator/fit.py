"""A sender model fitted from the rows a snapshot or table holds: what its messages did, as the
refresh policy's estimate (``refresh.hazards``) sees it, written as a model file can say it.

Delays are histograms: a ``mixture`` of ``uniform`` bands, weighted as the estimate spreads
the changes over the bands. A failure has no timestamp, so failures take the timing of leaving
``sent`` at all; a read's delay counts from the send (deliveries come within seconds).
"""

from __future__ import annotations

import numpy as np

from airflow_provider_octopods.emulator.model import (
    Distribution,
    Fixed,
    Mixture,
    Outcomes,
    SenderModel,
    Uniform,
)
from airflow_provider_octopods.refresh.hazards import DAY, EDGES, Curve, Hazards
from airflow_provider_octopods.refresh.rows import Rows
from airflow_provider_octopods.status import FAILED, READ

HORIZON = 30 * DAY


def fit_model(rows: Rows, name: str) -> SenderModel:
    """The model of the sender whose messages ``rows`` hold (one row per message)."""
    hazards = Hazards.fit(rows)
    if hazards.rows == 0:
        raise ValueError(f"{name}: no rows with a status and a send time to fit a model from")
    left = float(hazards.sent.chance(np.array(0.0), np.array(HORIZON)))
    failed = int(np.sum(rows.status == FAILED))
    dated = int(np.sum(~np.isnat(rows.delivered_at) | ~np.isnat(rows.read_at)))
    failed_share = failed / max(failed + dated, 1)
    read = rows.status == READ
    unreported = read & np.isnat(rows.delivered_at)
    leaving = _delays(hazards.sent)
    return SenderModel(
        name=name,
        outcomes=_outcomes(left * (1 - failed_share), left * failed_share),
        deliver_delay_s=leaving,
        fail_delay_s=leaving,
        read_share_of_delivered=round(float(hazards.delivered.chance(np.array(0.0), np.array(HORIZON))), 4),
        read_delay_s=_delays(hazards.delivered),
        delivery_unreported_share_of_read=round(float(unreported.sum() / max(int(read.sum()), 1)), 4),
    )


def _outcomes(delivered: float, failed: float) -> Outcomes:
    delivered, failed = round(delivered, 4), round(failed, 4)
    return Outcomes(delivered, failed, round(1 - delivered - failed, 4))


def _delays(curve: Curve) -> Distribution:
    """The curve's changes before the horizon, as a histogram over its bands."""
    survival = np.exp(-curve.cumulative[EDGES <= HORIZON])
    weights = survival[:-1] - survival[1:]
    if weights.sum() <= 0:
        return Fixed(0.0)
    parts: list[tuple[float, Distribution]] = [
        (round(float(w / weights.sum()), 5), Uniform(float(EDGES[i]), float(EDGES[i + 1])))
        for i, w in enumerate(weights)
        if w / weights.sum() >= 1e-4
    ]
    return Mixture(tuple(parts))
