"""One rate budget per API key across processes, in a real Redis (Debian's redis-server)."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import logging
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from airflow_provider_octopods.clients import redis_budget
from airflow_provider_octopods.clients.async_client import AsyncOctopodsClient
from airflow_provider_octopods.clients.redis_budget import RedisAddress, budget_keys
from airflow_provider_octopods.clients.sync_client import OctopodsClient
from airflow_provider_octopods.emulator import Emulator
from airflow_provider_octopods.errors import OctopodsConfigError
from airflow_provider_octopods.hooks.octopods import OctopodsHook
from integration.deployment import RedisServer, free_port
from tests.conftest import settings_for


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer(Path(tempfile.mkdtemp(prefix="octopods-redis-"))).start()
    yield server
    server.stop()


@pytest.fixture
def store(redis_server: RedisServer) -> Iterator[RedisAddress]:
    address = RedisAddress("127.0.0.1", redis_server.port, db=0)
    yield address
    redis.Redis(port=redis_server.port).flushall()
    redis_budget.REACHABILITY.succeeded(address, "cleanup")


def fetch_in_thread(emulator: Emulator, ids: list[int], rate: float, store: RedisAddress | None) -> list[str]:
    """One client on its own event loop in its own thread, as a separate process would have."""
    statuses: list[str] = []

    async def main() -> None:
        settings = settings_for(emulator, requests_per_second=rate, max_retries=0)
        async with AsyncOctopodsClient(settings, budget_store=store, max_concurrency=4) as client:
            async for result in client.iter_message_statuses(ids):
                statuses.append(result.status.status if result.status else type(result.error).__name__)

    thread = threading.Thread(target=asyncio.run, args=(main(),))
    thread.start()
    thread.join(timeout=120)
    return statuses


def run_three(emulator: Emulator, store: RedisAddress | None, budget: float) -> list[str]:
    ids = emulator.add_messages(90, deliver_after=0)
    results: list[list[str]] = [[], [], []]
    threads = [
        threading.Thread(
            target=lambda i=i: results[i].extend(fetch_in_thread(emulator, ids[i::3], budget, store))
        )
        for i in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return [status for part in results for status in part]


def test_three_clients_on_one_key_keep_to_one_budget(emulator: Emulator, store: RedisAddress) -> None:
    # The key's limit at 1.5 times the budget (a bucket of one second's worth): three clients
    # each at the whole budget on their own meet 429s (checked below, without the store);
    # together they must not.
    emulator.set_rate_limit(30)
    statuses = run_three(emulator, store, budget=20)
    assert statuses.count("delivered") == 90, statuses
    assert emulator.state.stats()["by_http_status"] == {"200": 90}


def test_without_the_store_the_same_clients_meet_429(emulator: Emulator) -> None:
    emulator.set_rate_limit(30)
    run_three(emulator, None, budget=20)
    assert "429" in emulator.state.stats()["by_http_status"]


def test_a_429_met_by_one_process_pauses_the_others(emulator: Emulator, store: RedisAddress) -> None:
    ids = emulator.add_messages(40, deliver_after=0)
    emulator.inject("rate_limit", times=1, seconds=1.5)
    halves = [ids[i::2] for i in range(2)]
    threads = [threading.Thread(target=fetch_in_thread, args=(emulator, part, 50, store)) for part in halves]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    log = emulator.requests()
    [limited] = [r for r in log if r.http_status == 429]
    # The fault asks for 1.5 s; every process waits that long from when the 429 came back.
    # Requests already past the budget when it came may still arrive: allow them 0.3 s.
    during_pause = [r for r in log if limited.at + 0.3 < r.at < limited.at + 1.45]
    assert during_pause == [], during_pause
    assert sum(r.http_status == 200 for r in log) == 40


def test_the_sync_client_takes_its_slots_from_the_same_budget(
    emulator: Emulator, store: RedisAddress
) -> None:
    ids = emulator.add_messages(6, deliver_after=0)
    settings = settings_for(emulator, requests_per_second=10)
    with OctopodsClient(settings, budget_store=store) as client:
        assert {client.get_message_status(i).status for i in ids} == {"delivered"}
    arrivals = [r.at for r in emulator.requests()]
    # Six slots 0.1 s apart: the last leaves at least 0.5 s after the first (loopback is faster).
    assert arrivals[-1] - arrivals[0] >= 0.45


def test_redis_holds_a_hash_of_the_key_never_the_key(
    emulator: Emulator, store: RedisAddress, redis_server: RedisServer
) -> None:
    ids = emulator.add_messages(3, deliver_after=0)
    emulator.inject("rate_limit", times=1, seconds=0.2)
    fetch_in_thread(emulator, ids, 100, store)
    client = redis.Redis(port=redis_server.port)
    keys = [k.decode() for k in client.keys("*")]
    assert set(keys) <= set(budget_keys(emulator.api_key)), keys
    dump = json.dumps(keys) + json.dumps([str(client.get(k)) for k in keys])
    assert emulator.api_key not in dump


def test_the_budgets_key_names_stay_what_every_release_names_them() -> None:
    """Processes of one deployment share a budget by these names, old and new releases alike
    during a rolling upgrade: another hash or length would split it in two."""
    assert budget_keys("the-key") == (
        "octopods:budget:ad44dc8e51cfbfa55e81ddbb626b4662:next",
        "octopods:budget:ad44dc8e51cfbfa55e81ddbb626b4662:paused",
    )


def test_unreachable_redis_warns_once_and_the_process_goes_on(
    emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    nowhere = RedisAddress("127.0.0.1", free_port(), db=0)
    ids = emulator.add_messages(5, deliver_after=0)
    with caplog.at_level(logging.WARNING, logger=redis_budget.__name__):
        assert fetch_in_thread(emulator, ids, 100, nowhere) == ["delivered"] * 5
        settings = settings_for(emulator, requests_per_second=100)
        with OctopodsClient(settings, budget_store=nowhere) as client:
            assert client.get_message_status(ids[0]).status == "delivered"
    warnings = [r.getMessage() for r in caplog.records if "cannot be reached" in r.getMessage()]
    assert len(warnings) == 1, warnings
    assert "own budget only" in warnings[0]
    redis_budget.REACHABILITY.succeeded(nowhere, "cleanup")


def test_the_hook_reads_the_redis_connection_named_in_the_extra(
    monkeypatch: pytest.MonkeyPatch, emulator: Emulator, store: RedisAddress
) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_OCTOPODS_DEFAULT", emulator.connection_json(rate_limit_redis_conn_id="budget")
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_BUDGET",
        json.dumps({"conn_type": "redis", "host": "127.0.0.1", "port": store.port, "extra": {"db": 3}}),
    )
    assert OctopodsHook().get_budget_store() == RedisAddress("127.0.0.1", store.port, db=3)
    assert asyncio.run(OctopodsHook().aget_budget_store()) == RedisAddress("127.0.0.1", store.port, db=3)


def test_a_shared_budget_that_cannot_work_is_refused_before_any_request(
    monkeypatch: pytest.MonkeyPatch, emulator: Emulator
) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_OCTOPODS_DEFAULT", emulator.connection_json(rate_limit_redis_conn_id="nowhere")
    )
    [message] = emulator.add_messages(deliver_after=0)
    with pytest.raises(OctopodsConfigError, match="'nowhere' names no connection"):
        OctopodsHook().get_message_status(message)
    with pytest.raises(OctopodsConfigError):
        asyncio.run(OctopodsHook().aget_budget_store())
    ok, text = OctopodsHook().test_connection()  # the Test button says so too
    assert not ok and "'nowhere' names no connection" in text
    assert emulator.requests() == []


def test_a_shared_budget_without_the_redis_package_is_refused(
    monkeypatch: pytest.MonkeyPatch, emulator: Emulator, store: RedisAddress
) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_OCTOPODS_DEFAULT", emulator.connection_json(rate_limit_redis_conn_id="budget")
    )
    monkeypatch.setenv("AIRFLOW_CONN_BUDGET", json.dumps({"conn_type": "redis", "host": "127.0.0.1"}))
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(  # an install without the extra: the one branch no real server reaches
        importlib.util, "find_spec", lambda name, *a: None if name == "redis" else real_find_spec(name, *a)
    )
    with pytest.raises(OctopodsConfigError, match=r"pip install 'airflow-provider-octopods\[redis\]'"):
        OctopodsHook().get_budget_store()
    assert not OctopodsHook().test_connection()[0]
