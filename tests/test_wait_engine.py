"""The polling engine's own decisions, through the blocking client against the emulator: the
start lines and their warning, and a poke that stops between two requests when told to."""

from __future__ import annotations

import logging

import pytest

from airflow_provider_octopods.clients.sync_client import OctopodsClient
from airflow_provider_octopods.emulator import Emulator
from airflow_provider_octopods.wait.clock import SYSTEM_CLOCK
from airflow_provider_octopods.wait.engine import PollingEngine, Stopped, plan_lines
from airflow_provider_octopods.wait.policy import PollPolicy
from airflow_provider_octopods.wait.watch import BatchWatch
from tests.conftest import settings_for


def test_the_start_line_and_the_warning_when_one_round_outlasts_the_timeout() -> None:
    start, warning = plan_lines(100_000, "delivered", 60, 5.0, "octopods_default", 5.0)
    assert "one round of polls takes at least 5 h 33 min; the first poll in 5 s" in start
    assert warning is not None and "timeout=60 s is shorter than one round of polls" in warning
    assert plan_lines(10, "delivered", 60, 5.0, "c", 5.0)[1] is None  # 2 s of polls fit in 60 s


def test_a_poke_stops_between_two_requests(emulator: Emulator) -> None:
    ids = emulator.add_messages(5)
    watch = BatchWatch(ids, "delivered", PollPolicy(first_delay=0), 0.0, 0.0)
    engine = PollingEngine(watch, max_failed=0, clock=SYSTEM_CLOCK, log=logging.getLogger("test"))
    asked: list[int] = []

    def stop() -> bool:  # told to stop (SIGTERM) after the second request
        asked.append(len(emulator.requests()))
        return len(asked) > 2

    with OctopodsClient(settings_for(emulator)) as client, pytest.raises(Stopped, match="5 message"):
        engine.poll_blocking(client, stop=stop)
    assert len(emulator.requests()) == 2
