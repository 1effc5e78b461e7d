"""Metrics through Airflow's own Stats, as a deployment with StatsD gets them: a real UDP
listener on loopback, Stats set up as Airflow's task runner sets it up from ``[metrics]``, and
real runs with dag.test() against the emulator. Names and meanings: docs/metrics.md."""

from __future__ import annotations

import re
import socket
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_provider_octopods.emulator import Emulator
from tests.snapshots import run_case
from tests.test_sensor_dags import run_case as run_sensor_case

# name,tag=value,...:value|type (StatsD with InfluxDB-style tags, as statsd_influxdb_enabled sends)
_DATAGRAM = re.compile(
    r"(?P<name>[^,:]+)(?P<tags>(?:,[^,:=]+=[^,:]+)*):(?P<value>[-0-9.]+)\|(?P<kind>c|g|ms)"
)


class StatsdListener:
    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]

    def received(self, quiet: float = 0.5) -> dict[tuple[str, str], list[float]]:
        """Every metric received until the socket is quiet for ``quiet`` s: (name, tags) -> values."""
        found: dict[tuple[str, str], list[float]] = defaultdict(list)
        self.sock.settimeout(quiet)
        try:
            while True:
                for line in self.sock.recv(65535).decode().splitlines():
                    match = _DATAGRAM.fullmatch(line)
                    assert match, f"not a StatsD line: {line!r}"
                    found[(match["name"], match["tags"])].append(float(match["value"]))
        except TimeoutError:
            return found


@pytest.fixture
def statsd(monkeypatch: pytest.MonkeyPatch) -> Iterator[StatsdListener]:
    from airflow.sdk.observability.metrics import stats_utils
    from airflow.sdk.observability.stats import Stats

    listener = StatsdListener()
    for name, value in {
        "STATSD_ON": "True",
        "STATSD_HOST": "127.0.0.1",
        "STATSD_PORT": str(listener.port),
        "STATSD_PREFIX": "airflow",
        "STATSD_INFLUXDB_ENABLED": "True",
    }.items():
        monkeypatch.setenv(f"AIRFLOW__METRICS__{name}", value)
    # As Airflow's task runner does at its start (task_runner.main): 3.3, then 3.2.
    try:
        Stats.initialize(factory=stats_utils.get_stats_factory(), export_legacy_names=False)
    except TypeError:
        Stats.initialize(factory=stats_utils.get_stats_factory(Stats))  # type: ignore[call-arg]
    try:
        yield listener
    finally:
        try:
            Stats.initialize(factory=stats_utils.NoStatsLogger, export_legacy_names=False)
        except TypeError:
            Stats.initialize(factory=stats_utils.NoStatsLogger)  # type: ignore[call-arg]
        listener.sock.close()


def total(metrics: dict[tuple[str, str], list[float]], name: str, tags: str) -> float:
    return sum(metrics.get((f"airflow.octopods.{name}", tags), []))


def test_a_snapshot_sends_its_metrics_tagged_by_connection(
    root: Path, emulator: Emulator, statsd: StatsdListener
) -> None:
    ids = emulator.add_messages(30, deliver_after=0)
    emulator.inject("server_error", times=2)  # two tries retried
    # At 20 requests/s (a user's budget), so that requests wait for it; 999: not found.
    dag_run = run_case("snapshot_outage", messages=[*ids, 999])
    assert dag_run.state == "failed"  # 1 error row of 31 is more than 1 %
    metrics = statsd.received()
    conn = ",conn_id=octopods_default"
    assert total(metrics, "requests", conn) == len(emulator.requests()) == 33
    assert total(metrics, "statuses", conn) == 30
    assert total(metrics, "retries", f"{conn},error_type=OctopodsServerError") == 2
    assert total(metrics, "errors", f"{conn},error_type=OctopodsRequestError") == 1
    assert total(metrics, "snapshot.rows", conn) == 31
    assert total(metrics, "snapshot.error_rows", conn) == 1
    # 33 requests at 20/s, all queued at once: the n-th waits n/20 s, about 26 s in all.
    assert total(metrics, "budget_wait_ms", conn) > 1000


def test_a_wait_sends_its_pending_messages(
    emulator: Emulator, statsd: StatsdListener, airflow_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_OCTOPODS_DEFAULT", emulator.connection_json(requests_per_second=500))
    ids = [*emulator.add_messages(3, deliver_after=0), *emulator.add_messages(2, deliver_after=3600)]
    started = time.monotonic()
    dag_run = run_sensor_case("sensor_batch_short", messages=ids)
    assert dag_run.state == "failed"  # two never delivered
    assert time.monotonic() - started < 60
    pending = statsd.received()[("airflow.octopods.wait.pending", ",conn_id=octopods_default")]
    assert pending and pending[-1] == 2
