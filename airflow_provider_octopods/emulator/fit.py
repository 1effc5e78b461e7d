"""A sender model fitted from the rows a snapshot or table holds: what its messages did, as the
refresh policy's estimate (``refresh.hazards``) sees it, written as a model file can say it.

Outcomes are counted among the messages last fetched a day or more after their send. Delays
are histograms, a ``mixture`` of ``uniform`` bands: deliveries as seen; reads as the estimate
spreads them over the bands, counted from the send (deliveries come within seconds). A
failure has no timestamp, so failures take the deliveries' timing. The read share is
corrected for the reads whose delivery was never reported, which the rows that were
``delivered`` lack.
"""

from __future__ import annotations

import numpy as np

from airflow_provider_octopods.emulator.distributions import Distribution, Fixed, Mixture, Uniform
from airflow_provider_octopods.emulator.model import Outcomes, SenderModel
from airflow_provider_octopods.refresh.hazards import DAY, EDGES, Curve, Hazards
from airflow_provider_octopods.refresh.rows import Rows
from airflow_provider_octopods.status import FAILED, READ, SENT

HORIZON = 30 * DAY


def fit_model(rows: Rows, name: str) -> SenderModel:
    """The model of the sender whose messages ``rows`` hold (one row per message)."""
    hazards = Hazards.fit(rows)
    if hazards.rows == 0:
        raise ValueError(f"{name}: no rows with a status and a send time to fit a model from")
    read = rows.status == READ
    unreported = float(np.sum(read & np.isnat(rows.delivered_at)) / max(int(read.sum()), 1))
    read_if_reported = float(hazards.delivered.chance(np.array(0.0), np.array(HORIZON)))
    deliveries = rows.age(rows.delivered_at)
    leaving = _histogram(deliveries[~np.isnan(deliveries)])
    return SenderModel(
        name=name,
        outcomes=_outcomes(rows),
        deliver_delay_s=leaving,
        fail_delay_s=leaving,
        read_share_of_delivered=round(_read_share(read_if_reported, unreported), 4),
        read_delay_s=_delays(hazards.delivered),
        delivery_unreported_share_of_read=round(unreported, 4),
    )


def _read_share(read_if_reported: float, unreported: float) -> float:
    """The share of delivered messages read, from that of the messages whose delivery was
    reported: of those, r (1 - u) / (1 - r u) are read (u: the share of reads whose delivery
    is never reported), solved for r. With no read's delivery ever reported (u = 1) the
    reported deliveries say nothing of reads: taken as all read."""
    reported = 1 - unreported + read_if_reported * unreported
    return read_if_reported / reported if reported > 0 else 1.0


def _outcomes(rows: Rows) -> Outcomes:
    """The shares among the messages last fetched a day or more after their send (all, if
    none was): still ``sent`` is never confirmed. Counted, not estimated: the rows keep only
    their latest fetch, so when a failure came is not known."""
    status = rows.status[~rows.error]
    old = rows.age(rows.fetched_at)[~rows.error] >= DAY
    counted = status[old] if old.any() else status
    sent, failed = (round(float(np.mean(counted == s)), 4) for s in (SENT, FAILED))
    return Outcomes(round(1 - sent - failed, 4), failed, sent)


def _delays(curve: Curve) -> Distribution:
    """The curve's changes before the horizon, as a histogram over its bands."""
    survival = np.exp(-curve.cumulative[EDGES <= HORIZON])
    return _bands(survival[:-1] - survival[1:])


def _histogram(ages: np.ndarray) -> Distribution:
    """Ages seen, as a histogram over the bands."""
    return _bands(np.histogram(np.clip(ages, 0, HORIZON), EDGES[EDGES <= HORIZON])[0].astype(np.float64))


def _bands(weights: np.ndarray) -> Distribution:
    """A mixture of the bands, each uniform, weighted by ``weights``."""
    if weights.sum() <= 0:
        return Fixed(0.0)
    parts: list[tuple[float, Distribution]] = [
        (round(float(w / weights.sum()), 5), Uniform(float(EDGES[i]), float(EDGES[i + 1])))
        for i, w in enumerate(weights)
        if w / weights.sum() >= 1e-4
    ]
    return Mixture(tuple(parts))
