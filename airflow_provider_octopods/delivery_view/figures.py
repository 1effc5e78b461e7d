"""A day's report as the view draws it: the figures of ``analytics`` with the texts the
terminal summary prints (one rounding), and a small cache, since a day's snapshot does not
change once published and a million rows take a second to read and reduce."""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_octopods.analytics import DeliveryReport

CACHED_DAYS = 32  # a month of daily reports per API server worker; each is a few kilobytes


def figures(report: DeliveryReport) -> dict[str, Any]:
    """The report as JSON: headline, funnel, latency, failure reasons, hourly rates, and the
    rate definitions (shown once on the page)."""
    from airflow_provider_octopods import analytics

    s = report.summary
    total = s["messages"]
    return {
        "headline": [
            {"name": name, "text": text, "definition": analytics.DEFINITIONS[name]}
            for name, text in analytics.headline(s)
        ],
        "funnel": [
            {
                "stage": stage,
                "messages": count,
                "share": analytics.share_text(count / total if total else None),
            }
            for stage, count in analytics.stages(s).items()
        ],
        "latency": [
            {
                "percentile": f"p{p}",
                **{
                    what: {
                        "seconds": s[f"time_to_{what}_p{p}_s"],
                        "text": analytics.duration_text(s[f"time_to_{what}_p{p}_s"]),
                    }
                    for what in ("deliver", "read")
                },
            }
            for p in (50, 90, 99)
        ],
        "reasons": [{"reason": reason, "messages": count} for reason, count in s["failure_reasons"].items()],
        "hourly": [_hour(row) for row in report.hourly.to_dict("records")],
        "definitions": analytics.DEFINITIONS,
    }


HOURLY_RATES = ("delivery_rate", "read_rate", "failure_rate")


def _hour(row: dict[Any, Any]) -> dict[str, Any]:
    from airflow_provider_octopods.analytics import share_text

    # An hour without the rate's denominator holds NaN (pandas), which JSON cannot carry.
    rates = {name: _number(row[name]) for name in HOURLY_RATES}
    return {
        "hour": row["sent_hour"].strftime("%H:00"),
        "messages": int(row["messages"]),
        **rates,
        "texts": {name: share_text(rate) for name, rate in rates.items()},
    }


def _number(value: Any) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


class Cache:
    """The last ``size`` days' figures by key; computed once even when asked twice at once."""

    def __init__(self, size: int = CACHED_DAYS) -> None:
        self._size = size
        self._held: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str, compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        with self._lock:  # a worker computes one report at a time: memory stays one day's
            if key in self._held:
                self._held.move_to_end(key)
                return self._held[key]
            value = compute()
            self._held[key] = value
            if len(self._held) > self._size:
                self._held.popitem(last=False)
            return value
