"""A day's figures as the Delivery view sends them: valid JSON whatever the day holds, and the
texts the terminal summary prints."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pandas as pd

from airflow_provider_octopods.analytics import delivery_report
from airflow_provider_octopods.delivery_view.figures import Cache, figures

T0 = datetime(2026, 11, 26, 9, tzinfo=UTC)


def _day() -> pd.DataFrame:
    """An hour of failures only (no read rate: nothing delivered), then an hour of deliveries."""
    rows = [
        {"status": "failed", "sent_at": T0, "delivered_at": None, "read_at": None, "failure_reason": None},
        {
            "status": "read",
            "sent_at": T0 + timedelta(hours=1),
            "delivered_at": T0 + timedelta(hours=1, seconds=3.66),
            "read_at": T0 + timedelta(hours=1, minutes=3.5),
            "failure_reason": None,
        },
        {"status": None, "sent_at": None, "delivered_at": None, "read_at": None, "failure_reason": None},
    ]
    frame = pd.DataFrame(rows)
    for name in ("sent_at", "delivered_at", "read_at"):
        frame[name] = pd.to_datetime(frame[name], utc=True)
    return frame


def test_an_hour_without_a_rate_is_null_in_json() -> None:
    sent = json.loads(json.dumps(figures(delivery_report(_day())), allow_nan=False))
    assert [(h["hour"], h["messages"], h["read_rate"], h["texts"]["read_rate"]) for h in sent["hourly"]] == [
        ("09:00", 1, None, "n/a"),
        ("10:00", 1, 1.0, "100.0%"),
    ]


def test_the_texts_are_the_terminal_summarys() -> None:
    sent = figures(delivery_report(_day()))
    assert {h["name"]: h["text"] for h in sent["headline"]} == {
        "messages": "3",
        "delivery_rate": "33.3%",
        "failure_rate": "33.3%",
        "read_rate": "100.0%",
        "error_rate": "33.3%",
        "error_rows": "1",
    }
    p50 = sent["latency"][0]
    assert (p50["deliver"]["text"], p50["read"]["text"]) == ("3.7 s", "3.5 min")
    assert [(s["stage"], s["messages"], s["share"]) for s in sent["funnel"]] == [
        ("sent", 0, "0.0%"),
        ("delivered", 0, "0.0%"),
        ("read", 1, "33.3%"),
        ("failed", 1, "33.3%"),
        ("other", 0, "0.0%"),
        ("unknown", 1, "33.3%"),
    ]
    assert sent["reasons"] == [{"reason": "(no reason given)", "messages": 1}]


def test_the_cache_computes_a_day_once_and_forgets_the_oldest() -> None:
    computed: list[str] = []

    def compute(key: str) -> dict[str, str]:
        computed.append(key)
        return {"day": key}

    cache = Cache(size=2)
    for key in ("a", "b", "a", "c", "b"):
        assert cache.get(key, lambda key=key: compute(key)) == {"day": key}  # type: ignore[misc]
    assert computed == ["a", "b", "c", "b"]
