"""The tally of one client: failures warned at once, then at most every 30 s, with their kinds;
counts flushed as deltas (the metrics themselves reach a real listener in test_metrics)."""

from __future__ import annotations

import logging
from collections import Counter

import pytest

from airflow_provider_octopods.errors import (
    OctopodsConnectionError,
    OctopodsRateLimitError,
    OctopodsRequestError,
    OctopodsServerError,
)
from airflow_provider_octopods.reporting import tally as tallies
from airflow_provider_octopods.reporting.tally import Tally, describe_errors


def test_failures_are_warned_at_once_then_at_most_every_30_s(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    tally = Tally("conn", clock=lambda: now[0])
    down = OctopodsConnectionError("could not be reached", kind="unreachable")
    with caplog.at_level(logging.WARNING, logger=tallies.__name__):
        tally.retrying(down)
        for _ in range(50):
            now[0] += 0.5
            tally.retrying(down)
        now[0] = 31.0
        tally.retrying(OctopodsServerError("HTTP 502"))
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 2
    assert (
        "1 try failed" in warnings[0]
        and "OctopodsConnectionError x1 (e.g. could not be reached)" in warnings[0]
    )
    # The second counts what came since the first, by kind.
    assert "51 tries failed" in warnings[1] and "OctopodsConnectionError x50" in warnings[1]
    assert "OctopodsServerError x1" in warnings[1]


def test_a_429_is_counted_not_warned_and_a_refusal_is_counted_not_warned(
    caplog: pytest.LogCaptureFixture,
) -> None:
    tally = Tally("conn")
    with caplog.at_level(logging.WARNING, logger=tallies.__name__):
        tally.retrying(OctopodsRateLimitError("429"))
        tally.failed(OctopodsRequestError("not found"))
    assert caplog.records == []
    assert tally.answered_429 == 1 and tally.errors == Counter({"OctopodsRequestError": 1})


def test_flush_sends_what_changed(monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[tuple[str, float, dict[str, str]]] = []
    monkeypatch.setattr(tallies, "emit_count", lambda name, n, conn, **tags: sent.append((name, n, tags)))
    tally = Tally("conn")
    for _ in range(3):
        tally.request()
    tally.failed(OctopodsServerError("HTTP 500"))
    tally.flush()
    tally.request()
    tally.flush()
    requests = [n for name, n, _ in sent if name == "requests"]
    assert requests == [3, 1]
    errors = [(n, tags) for name, n, tags in sent if name == "errors"]
    assert errors == [(1, {"error_type": "OctopodsServerError"}), (0, {"error_type": "OctopodsServerError"})]


def test_describe_errors_names_the_most_frequent_with_a_sample() -> None:
    counts = Counter({"A": 5, "B": 2, "C": 1, "D": 1})
    text = describe_errors(counts, {"A": "a text", "B": "b text", "C": "c", "D": "d"})
    assert text.startswith("A x5 (e.g. a text); B x2 (e.g. b text)")
    assert text.endswith("1 more kinds")
