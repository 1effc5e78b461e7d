"""Proxies: both clients (requests and aiohttp) through a real forward proxy on loopback, for
the hook, the Test button, the trigger and the operator; the connection's ``proxy`` extra,
the standard variables, NO_PROXY; https tunnelled with CONNECT so the proxy never sees the key."""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import trustme

from airflow_provider_octopods.connection import proxy
from airflow_provider_octopods.emulator import Emulator
from airflow_provider_octopods.hooks.octopods import OctopodsHook
from tests.dag_runs import load_dag
from tests.forward_proxy import ForwardProxy
from tests.test_trigger import run as run_trigger
from tests.test_trigger import trigger


@pytest.fixture
def forward_proxy() -> Iterator[ForwardProxy]:
    with ForwardProxy().running() as running:
        yield running


@pytest.fixture
def auth_proxy() -> Iterator[ForwardProxy]:
    with ForwardProxy(auth=("squid", "pr0xy-S3CRET-pass")).running() as running:
        yield running


@pytest.fixture(scope="module")
def server_tls() -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    trustme.CA().issue_cert("127.0.0.1").configure_cert(context)
    return context


@pytest.fixture
def https_emulator(server_tls: ssl.SSLContext) -> Iterator[Emulator]:
    with Emulator(ssl_context=server_tls) as emulator:
        yield emulator


def use(monkeypatch: pytest.MonkeyPatch, emulator: Emulator, **extra: Any) -> None:
    extra.setdefault("requests_per_second", 500)
    monkeypatch.setenv("AIRFLOW_CONN_OCTOPODS_DEFAULT", emulator.connection_json(**extra))


def statuses_both_ways(emulator: Emulator, count: int = 3) -> list[int]:
    """Fetch ``count`` statuses with the requests client, then with the aiohttp client."""
    ids = emulator.add_messages(count, deliver_after=0)
    hook = OctopodsHook()
    assert [hook.get_message_status(i).status for i in ids] == ["delivered"] * count

    async def fetch() -> list[str]:
        return [r.status.status async for r in OctopodsHook().aiter_message_statuses(ids) if r.status]

    assert asyncio.run(fetch()) == ["delivered"] * count
    return ids


# --- the decision -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "env", "configured", "expected"),
    [
        ("https://api.example", {}, None, None),
        ("https://api.example", {"HTTPS_PROXY": "http://p:1"}, None, "http://p:1"),
        ("http://api.example", {"HTTPS_PROXY": "http://p:1"}, None, None),
        ("http://api.example", {"HTTP_PROXY": "http://p:2"}, None, "http://p:2"),
        ("https://api.example", {"ALL_PROXY": "http://p:3"}, None, "http://p:3"),
        ("https://api.example", {"HTTPS_PROXY": "http://p:1", "NO_PROXY": "api.example"}, None, None),
        ("https://x.api.example", {"HTTPS_PROXY": "http://p:1", "NO_PROXY": ".api.example"}, None, None),
        ("https://api.example", {"HTTPS_PROXY": "http://p:1", "NO_PROXY": "*"}, None, None),
        (
            "https://api.example",
            {"HTTPS_PROXY": "http://p:1", "NO_PROXY": "other.example"},
            None,
            "http://p:1",
        ),
        ("https://api.example", {"HTTPS_PROXY": "http://p:1"}, "http://mine:8", "http://mine:8"),
        ("https://api.example", {"https_proxy": "http://lower:1"}, None, "http://lower:1"),
    ],
)
def test_which_proxy(
    monkeypatch: pytest.MonkeyPatch,
    url: str,
    env: dict[str, str],
    configured: str | None,
    expected: str | None,
) -> None:
    for name in env:
        monkeypatch.setenv(name, env[name])
    assert proxy.resolve(url, configured) == expected


def test_a_bad_proxy_extra_is_refused_without_quoting_it(monkeypatch: pytest.MonkeyPatch) -> None:
    for bad in ("socks5://u:hunter2@p:1", "u:hunter2@p:1", "http://u:hunter2@p:port"):
        monkeypatch.setenv(
            "AIRFLOW_CONN_OCTOPODS_DEFAULT",
            json.dumps({"conn_type": "octopods", "password": "k", "extra": {"proxy": bad}}),
        )
        ok, message = OctopodsHook().test_connection()
        assert not ok
        assert "extra 'proxy'" in message
        assert "hunter2" not in message


def test_the_form_masks_the_proxy_field() -> None:
    from airflow_provider_octopods.provider_info import get_provider_info

    [conn_type] = get_provider_info()["connection-types"]
    assert conn_type["conn-fields"]["proxy"]["schema"]["format"] == "password"


def test_redacted_hides_credentials() -> None:
    assert proxy.redacted("http://u:p%40ss@h:3128") == "http://***@h:3128"
    assert proxy.redacted("http://h:3128") == "http://h:3128"
    assert proxy.proxy_password("http://u:p%40ss@h:3128") == "p@ss"


# --- through the proxy, http ------------------------------------------------------------------


def test_both_clients_honour_the_environment(
    monkeypatch: pytest.MonkeyPatch, emulator: Emulator, forward_proxy: ForwardProxy
) -> None:
    use(monkeypatch, emulator)
    monkeypatch.setenv("HTTP_PROXY", forward_proxy.url())
    ids = statuses_both_ways(emulator)
    expected = [f"GET {emulator.message_status_url(i)}" for i in ids]
    assert forward_proxy.targets() == expected + expected  # requests, then aiohttp
    assert all(len(emulator.requests(i)) == 2 for i in ids)


def test_no_proxy_sends_both_clients_direct(
    monkeypatch: pytest.MonkeyPatch, emulator: Emulator, forward_proxy: ForwardProxy
) -> None:
    use(monkeypatch, emulator)
    monkeypatch.setenv("HTTP_PROXY", forward_proxy.url())
    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
    ids = statuses_both_ways(emulator)
    assert forward_proxy.seen == []
    assert all(len(emulator.requests(i)) == 2 for i in ids)


def test_the_connection_extra_with_credentials(
    monkeypatch: pytest.MonkeyPatch, emulator: Emulator, auth_proxy: ForwardProxy, forward_proxy: ForwardProxy
) -> None:
    """The extra wins over the environment (which points elsewhere), its credentials reach the
    proxy, and its password is registered with Airflow's masker."""
    from airflow.sdk._shared.secrets_masker import redact

    use(monkeypatch, emulator, proxy=auth_proxy.url())
    monkeypatch.setenv("HTTP_PROXY", forward_proxy.url())
    ids = statuses_both_ways(emulator)
    assert len(auth_proxy.seen) == 2 * len(ids)
    assert auth_proxy.refused == 0
    assert forward_proxy.seen == []
    assert "pr0xy-S3CRET-pass" not in str(redact(f"proxy {auth_proxy.url()}"))
    assert "pr0xy-S3CRET-pass" not in repr(OctopodsHook().get_settings())


def test_wrong_proxy_credentials_end_in_an_error(
    monkeypatch: pytest.MonkeyPatch, emulator: Emulator, auth_proxy: ForwardProxy
) -> None:
    from airflow_provider_octopods.errors import OctopodsError

    use(monkeypatch, emulator, proxy=auth_proxy.url(credentials=False), max_retries=0)
    [message] = emulator.add_messages(deliver_after=0)
    with pytest.raises(OctopodsError):
        OctopodsHook().get_message_status(message)
    with pytest.raises(OctopodsError):
        asyncio.run(OctopodsHook().aget_message_status(message))
    assert auth_proxy.refused >= 2
    assert emulator.requests(message) == []


# --- through the proxy, https (CONNECT) -------------------------------------------------------


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_https_goes_through_a_connect_tunnel_and_the_proxy_never_sees_the_key(
    monkeypatch: pytest.MonkeyPatch, https_emulator: Emulator, forward_proxy: ForwardProxy
) -> None:
    # verify_tls off: aiohttp builds its default TLS context when imported, so a test CA cannot
    # be added to it afterwards; the tunnel carries TLS all the same.
    use(monkeypatch, https_emulator, verify_tls=False)
    monkeypatch.setenv("HTTPS_PROXY", forward_proxy.url())
    ids = statuses_both_ways(https_emulator)
    authority = f"127.0.0.1:{https_emulator.port}"
    assert len(forward_proxy.seen) >= 2  # a tunnel for each client at least
    assert {s.method for s in forward_proxy.seen} == {"CONNECT"}
    assert {s.target for s in forward_proxy.seen} == {authority}
    key = https_emulator.api_key.encode()
    for seen in forward_proxy.seen:
        assert key not in json.dumps(seen.headers).encode()
        assert seen.tunnelled  # TLS records went through
        assert key not in seen.tunnelled
    assert all(len(https_emulator.requests(i)) == 2 for i in ids)


# --- the Test button, the trigger, the operator -----------------------------------------------


def test_the_test_button_goes_through_the_proxy(
    monkeypatch: pytest.MonkeyPatch, emulator: Emulator, forward_proxy: ForwardProxy
) -> None:
    use(monkeypatch, emulator, proxy=forward_proxy.url())
    ok, message = OctopodsHook().test_connection()
    assert ok, message
    assert [s.method for s in forward_proxy.seen] == ["GET"]
    assert forward_proxy.seen[0].target.startswith(emulator.base_url)


def test_the_test_button_names_the_proxy_without_its_password(
    monkeypatch: pytest.MonkeyPatch, emulator: Emulator
) -> None:
    dead = "http://squid:pr0xy-S3CRET-pass@127.0.0.1:9"  # discard port: nothing listens
    use(monkeypatch, emulator, proxy=dead, timeout=2)
    ok, message = OctopodsHook().test_connection()
    assert not ok
    assert "via proxy http://***@127.0.0.1:9" in message
    assert "pr0xy-S3CRET-pass" not in message


def test_the_trigger_polls_through_the_proxy(
    monkeypatch: pytest.MonkeyPatch, emulator: Emulator, forward_proxy: ForwardProxy
) -> None:
    use(monkeypatch, emulator)
    monkeypatch.setenv("HTTP_PROXY", forward_proxy.url())
    [message] = emulator.add_messages(deliver_after=0.3)
    event = run_trigger(trigger([message]))
    assert event["status"] == "success"
    polls = len(emulator.requests(message))
    assert polls >= 1
    assert forward_proxy.targets() == [f"GET {emulator.message_status_url(message)}"] * polls


def test_the_operator_snapshots_through_the_proxy(
    monkeypatch: pytest.MonkeyPatch,
    emulator: Emulator,
    forward_proxy: ForwardProxy,
    tmp_path: Path,
    airflow_db: str,
) -> None:
    monkeypatch.setenv("OCTOPODS_TEST_SNAPSHOT_ROOT", f"file://{tmp_path}")
    use(monkeypatch, emulator, proxy=forward_proxy.url())
    ids = emulator.add_messages(20, deliver_after=0)
    dag = load_dag("snapshot_ids", file="tests/dags/octopods_snapshot_cases.py")
    day = datetime(2026, 11, 25, tzinfo=UTC)
    dag_run = dag.test(run_conf={"case": "snapshot_ids", "messages": ids}, logical_date=day)
    assert dag_run.state == "success"
    table = pq.read_table(tmp_path / "snapshot_ids" / "snapshot_date=2026-11-25")
    assert sorted(table.column("message_id").to_pylist()) == sorted(ids)
    assert sorted(forward_proxy.targets()) == sorted(f"GET {emulator.message_status_url(i)}" for i in ids)
