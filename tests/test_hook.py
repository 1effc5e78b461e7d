"""OctopodsHook through Airflow's own connection lookup (AIRFLOW_CONN_* in JSON and URI form),
the Test button's test_connection(), and the API key kept out of every log and error."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest

from airflow_provider_octopods.emulator import Emulator
from airflow_provider_octopods.errors import OctopodsConfigError, OctopodsError
from airflow_provider_octopods.hooks.octopods import OctopodsHook


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_env_json_connection(monkeypatch: pytest.MonkeyPatch, emulator: Emulator) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_OCTOPODS_DEFAULT",
        emulator.connection_json(timeout=3, max_retries="2", verify_tls="false"),
    )
    [message] = emulator.add_messages(deliver_after=0)
    hook = OctopodsHook()
    assert hook.get_message_status(message).status == "delivered"
    settings = hook.get_settings()
    assert (settings.timeout, settings.max_retries, settings.verify_tls) == (3.0, 2, False)


def test_env_uri_connection(monkeypatch: pytest.MonkeyPatch, emulator: Emulator) -> None:
    uri = emulator.connection_uri() + "?requests_per_second=2.5"
    monkeypatch.setenv("AIRFLOW_CONN_MY_OCTOPODS", uri)
    [message] = emulator.add_messages(read_after=0)
    hook = OctopodsHook(octopods_conn_id="my_octopods")
    assert hook.get_message_status(emulator.message_status_url(message)).status == "read"
    assert hook.get_settings().base_url == emulator.base_url
    assert hook.get_settings().requests_per_second == 2.5


def test_prefixed_extras_of_the_airflow_2_form_are_read(
    monkeypatch: pytest.MonkeyPatch, emulator: Emulator
) -> None:
    conn = emulator.connection()
    conn["extra"] = {"extra__octopods__max_retries": 7}
    monkeypatch.setenv("AIRFLOW_CONN_OCTOPODS_DEFAULT", json.dumps(conn))
    assert OctopodsHook().get_settings().max_retries == 7


def test_bad_extra_names_the_connection_and_field(
    monkeypatch: pytest.MonkeyPatch, emulator: Emulator
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_OCTOPODS_DEFAULT", emulator.connection_json(timeout="soon"))
    with pytest.raises(ValueError, match=r"'octopods_default'.*'timeout'"):
        OctopodsHook().get_settings()


def test_async_status_through_the_hook(octopods_conn: str, emulator: Emulator) -> None:
    [message] = emulator.add_messages(fail_after=0)
    status = asyncio.run(OctopodsHook(octopods_conn_id=octopods_conn).aget_message_status(str(message)))
    assert status.status == "failed"
    assert status.failure_reason


def test_aiter_through_the_hook(octopods_conn: str, emulator: Emulator) -> None:
    ids = emulator.add_messages(30, deliver_after=0)

    async def collect() -> list[int]:
        hook = OctopodsHook(octopods_conn_id=octopods_conn)
        results = [r async for r in hook.aiter_message_statuses(ids, requests_per_second=1000)]
        return sorted(r.status.message_id for r in results if r.status is not None)

    assert asyncio.run(collect()) == ids


def _test_button(monkeypatch: pytest.MonkeyPatch, conn: dict[str, object]) -> tuple[bool, str]:
    """What the API server does for the Test button: the hook built from conn_name_attr."""
    monkeypatch.setenv("AIRFLOW_CONN_UNDER_TEST", json.dumps(conn))
    hook = OctopodsHook(**{OctopodsHook.conn_name_attr: "under_test"})
    return hook.test_connection()


def test_connection_key_accepted(monkeypatch: pytest.MonkeyPatch, emulator: Emulator) -> None:
    ok, text = _test_button(monkeypatch, emulator.connection())
    assert ok, text
    assert "accepted" in text
    assert len(emulator.requests()) == 1  # the probe costs one request


def test_connection_key_revoked(monkeypatch: pytest.MonkeyPatch, emulator: Emulator) -> None:
    ok, text = _test_button(monkeypatch, emulator.connection(api_key=emulator.revoked_key))
    assert not ok
    assert "rotated or revoked" in text
    assert "error_code=6" in text


def test_connection_key_unknown(monkeypatch: pytest.MonkeyPatch, emulator: Emulator) -> None:
    ok, text = _test_button(monkeypatch, emulator.connection(api_key="not-a-key"))
    assert not ok
    assert "http_status=401" in text


def test_connection_host_unreachable(monkeypatch: pytest.MonkeyPatch) -> None:
    conn = {"conn_type": "octopods", "host": f"http://127.0.0.1:{_free_port()}", "password": "k"}
    ok, text = _test_button(monkeypatch, conn)
    assert not ok
    assert "could not be reached" in text


def test_connection_tls_failure(monkeypatch: pytest.MonkeyPatch, emulator: Emulator) -> None:
    # https:// to a server that speaks plain HTTP: the TLS handshake fails.
    conn = {**emulator.connection(), "host": emulator.base_url.replace("http://", "https://")}
    ok, text = _test_button(monkeypatch, conn)
    assert not ok
    assert "TLS" in text


def test_connection_not_an_octopods_api(monkeypatch: pytest.MonkeyPatch, emulator: Emulator) -> None:
    conn = {**emulator.connection(), "host": emulator.base_url + "/somewhere-else"}
    ok, text = _test_button(monkeypatch, conn)
    assert not ok
    assert "not as the Octopods API" in text


def test_connection_without_a_key(monkeypatch: pytest.MonkeyPatch, emulator: Emulator) -> None:
    ok, text = _test_button(monkeypatch, {"conn_type": "octopods", "host": emulator.base_url})
    assert not ok
    assert "no API key" in text
    assert emulator.requests() == []


def test_the_api_key_never_shows(
    monkeypatch: pytest.MonkeyPatch,
    emulator: Emulator,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """Every path, success and each error, with all logging at DEBUG: the key is nowhere."""
    caplog.set_level(logging.DEBUG)
    secret = "octo-SECRET-" + "7f3a9c" * 4
    emulator.state.keys.add(secret)
    monkeypatch.setenv(
        "AIRFLOW_CONN_OCTOPODS_DEFAULT", json.dumps(emulator.connection(api_key=secret, max_retries=1))
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_OCTOPODS_URI",
        emulator.connection_uri(api_key=secret) + "?max_retries=1",
    )
    [message] = emulator.add_messages(deliver_after=0, api_key=secret)
    texts: list[str] = []
    for conn_id in ("octopods_default", "octopods_uri"):
        hook = OctopodsHook(octopods_conn_id=conn_id)
        texts.append(repr(hook.get_message_status(message)))
        texts.append(repr(hook.get_settings()))
        texts.extend(map(str, hook.test_connection()))
        emulator.inject("server_error", times=2, message_id=message)  # retries spent
        emulator.inject("drop", times=2, message_id=message)  # then dropped twice
        for bad in (999, "abc", message, message, "https://evil.example/api/v1/whatsapp/messages/1"):
            with pytest.raises(OctopodsError) as info:
                hook.get_message_status(bad)
            texts += [str(info.value), repr(info.value), json.dumps(info.value.to_dict())]
        emulator.state.revoked.add(secret)
        with pytest.raises(OctopodsError) as info:
            asyncio.run(hook.aget_message_status(message))
        texts += [str(info.value), repr(info.value)]
        emulator.state.revoked.discard(secret)
    out, err = capfd.readouterr()
    everything = "\n".join([*texts, caplog.text, out, err, *(r.getMessage() for r in caplog.records)])
    assert "Octopods" in everything  # the capture did see the errors
    for form in (secret, quote(secret, safe="")):
        assert form not in everything


def test_hook_registers_the_key_with_airflows_masker(
    monkeypatch: pytest.MonkeyPatch, emulator: Emulator
) -> None:
    from airflow.sdk._shared.secrets_masker import redact

    secret = "octo-MASKME-" + "1b2c3d" * 4
    monkeypatch.setenv("AIRFLOW_CONN_OCTOPODS_DEFAULT", json.dumps(emulator.connection(api_key=secret)))
    OctopodsHook().get_settings()
    assert secret not in str(redact(f"key is {secret}"))


def test_connection_from_a_secrets_backend(tmp_path: Path, emulator: Emulator) -> None:
    """A connections file behind Airflow's LocalFilesystemBackend: no code change in the hook."""
    [message] = emulator.add_messages(deliver_after=0)
    connections = tmp_path / "connections.json"
    connections.write_text(json.dumps({"octopods_vault": emulator.connection()}))
    env = {
        **os.environ,
        "AIRFLOW__SECRETS__BACKEND": "airflow.secrets.local_filesystem.LocalFilesystemBackend",
        "AIRFLOW__SECRETS__BACKEND_KWARGS": json.dumps({"connections_file_path": str(connections)}),
    }
    script = (
        "from airflow_provider_octopods.hooks.octopods import OctopodsHook;"
        f"print(OctopodsHook(octopods_conn_id='octopods_vault').get_message_status({message}).status)"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip().splitlines()[-1] == "delivered"


def test_a_key_with_surrounding_whitespace_is_stripped(
    monkeypatch: pytest.MonkeyPatch, emulator: Emulator
) -> None:
    """A key read from a file or a mounted secret often ends in a newline."""
    [message] = emulator.add_messages(deliver_after=0)
    monkeypatch.setenv(
        "AIRFLOW_CONN_OCTOPODS_DEFAULT", json.dumps(emulator.connection(api_key=f"  {emulator.api_key}\r\n"))
    )
    hook = OctopodsHook()
    assert hook.get_settings().api_key == emulator.api_key
    assert hook.get_message_status(message).status == "delivered"
    assert asyncio.run(hook.aget_message_status(message)).status == "delivered"
    assert hook.test_connection()[0]


@pytest.mark.parametrize(
    ("key", "why"),
    [
        ("octo-KEY-ab\ncd-1234", "line break"),
        ("octo-KEY-ab\rcd-1234", "line break"),
        ("octo-KEY-ab\r\nX-Evil: 1", "line break"),
        ("octo-KEY-ab\x00cd-1234", "control character"),
        ("octo-KEY-ab\x7fcd-1234", "control character"),
        ("octo-KEY-cl\u00e9-1234", "non-ASCII"),  # latin-1, but not ASCII
        ("octo-KEY-\u20ac-1234", "non-ASCII"),  # not even latin-1
    ],
)
def test_a_key_a_header_cannot_carry_is_refused_before_anything_is_sent(
    monkeypatch: pytest.MonkeyPatch,
    emulator: Emulator,
    caplog: pytest.LogCaptureFixture,
    key: str,
    why: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("AIRFLOW_CONN_OCTOPODS_DEFAULT", json.dumps(emulator.connection(api_key=key)))
    texts: list[str] = []
    for attempt in (
        lambda: OctopodsHook().get_message_status(1),
        lambda: asyncio.run(OctopodsHook().aget_message_status(1)),
    ):
        with pytest.raises(OctopodsConfigError) as info:
            attempt()
        texts += [str(info.value), repr(info.value)]
    ok, text = OctopodsHook().test_connection()
    assert not ok
    texts.append(text)
    for text in texts:
        assert "'octopods_default'" in text
        assert why in text
    everything = "\n".join([*texts, caplog.text])
    for part in [*key.splitlines(), key, key.strip()]:
        if len(part) > 8:
            assert part not in everything
    assert emulator.requests() == []


def test_a_bad_key_is_an_error_event_of_the_trigger(
    monkeypatch: pytest.MonkeyPatch, emulator: Emulator
) -> None:
    from tests.test_trigger import run, trigger

    monkeypatch.setenv(
        "AIRFLOW_CONN_OCTOPODS_DEFAULT", json.dumps(emulator.connection(api_key="octo-KEY\nsecond-line"))
    )
    event = run(trigger([1]))
    assert event["status"] == "error"
    assert event["error"]["type"] == "OctopodsConfigError"
    assert "'octopods_default'" in event["message"] and "line break" in event["message"]
    assert "second-line" not in json.dumps(event)
    assert emulator.requests() == []
