"""A sender model fitted from the rows a snapshot or table holds: what its messages did, as the
refresh policy's estimate (``refresh.hazards``) sees it, written as a model file can say it.

Delays are histograms: a ``mixture`` of ``uniform`` bands, weighted as the estimate spreads
the changes over the bands. A failure has no timestamp, so failures take the timing of leaving
``sent`` at all; a read's delay counts from the send (deliveries come within seconds).

The shares are corrected where the estimate's bands would bias them: most deliveries come in
the first band (the first minute), faster than a constant rate across it allows, so the share
still ``sent`` at its end is counted, not estimated; and the rows that were ``delivered`` lack
the reads whose delivery was never reported.
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
from airflow_provider_octopods.status import FAILED, KNOWN_STATUSES, READ

HORIZON = 30 * DAY
FIRST = 60.0  # most changes of ``sent`` come within a minute


def fit_model(rows: Rows, name: str) -> SenderModel:
    """The model of the sender whose messages ``rows`` hold (one row per message)."""
    hazards = Hazards.fit(rows)
    if hazards.rows == 0:
        raise ValueError(f"{name}: no rows with a status and a send time to fit a model from")
    left = _left_sent(rows, hazards.sent)
    failed = int(np.sum(rows.status == FAILED))
    dated = int(np.sum(~np.isnat(rows.delivered_at) | ~np.isnat(rows.read_at)))
    failed_share = failed / max(failed + dated, 1)
    read = rows.status == READ
    unreported = float(np.sum(read & np.isnat(rows.delivered_at)) / max(int(read.sum()), 1))
    read_if_reported = float(hazards.delivered.chance(np.array(0.0), np.array(HORIZON)))
    leaving = _delays(hazards.sent)
    return SenderModel(
        name=name,
        outcomes=_outcomes(left * (1 - failed_share), left * failed_share),
        deliver_delay_s=leaving,
        fail_delay_s=leaving,
        read_share_of_delivered=round(_read_share(read_if_reported, unreported), 4),
        read_delay_s=_delays(hazards.delivered),
        delivery_unreported_share_of_read=round(unreported, 4),
    )


def _left_sent(rows: Rows, curve: Curve) -> float:
    """The chance a message leaves ``sent`` before the horizon: the share of the rows watched
    past ``FIRST`` that had left by then (a failure, of unknown time, counted as come by then,
    as most do), then the curve's chance from there."""
    first = FIRST
    watched = ~rows.error & np.isin(rows.status, list(KNOWN_STATUSES)) & (rows.age(rows.fetched_at) >= first)
    came = np.fmin(rows.age(rows.delivered_at), rows.age(rows.read_at)) <= first
    left_early = came | (rows.status == FAILED)
    still = 1 - float(np.mean(left_early[watched])) if watched.any() else float(np.exp(-curve.cumulative[1]))
    return 1 - still * (1 - float(curve.chance(np.array(first), np.array(HORIZON))))


def _read_share(read_if_reported: float, unreported: float) -> float:
    """The share of delivered messages read, from that of the messages whose delivery was
    reported: of those, r (1 - u) / (1 - r u) are read (u: the share of reads whose delivery
    is never reported), solved for r. With no read's delivery ever reported (u = 1) the
    reported deliveries say nothing of reads: taken as all read."""
    reported = 1 - unreported + read_if_reported * unreported
    return read_if_reported / reported if reported > 0 else 1.0


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
