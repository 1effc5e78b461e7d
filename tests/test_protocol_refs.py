"""protocol.refs: a message reference checked into an id, on the connection's own base URL only,
and the base URL itself normalised or refused."""

from __future__ import annotations

import pytest

from airflow_provider_octopods.errors import InvalidMessageReference
from airflow_provider_octopods.protocol import refs
from tests.protocol_cases import BASE


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (3851828, 3851828),
        ("3851828", 3851828),
        ("0042", 42),
        (f"{BASE}/api/v1/whatsapp/messages/3851828", 3851828),
        ("https://APP.octopods.io:443/api/v1/whatsapp/messages/7", 7),
    ],
)
def test_message_references_accepted(message: object, expected: int) -> None:
    assert refs.message_id_of(message, BASE) == expected


@pytest.mark.parametrize(
    "message",
    [
        True,
        0,
        -5,
        2**63,
        "abc",
        "12a",
        " 12",
        "١٢٣",  # Arabic-Indic digits: str.isdigit() says yes, the API would not
        "../../admin",
        3.0,
        None,
        "https://evil.example/api/v1/whatsapp/messages/1",
        "http://app.octopods.io/api/v1/whatsapp/messages/1",  # scheme differs
        "https://app.octopods.io:8443/api/v1/whatsapp/messages/1",  # port differs
        "https://app.octopods.io@evil.example/api/v1/whatsapp/messages/1",  # userinfo trick
        "https://app.octopods.io/api/v2/whatsapp/messages/1",  # path prefix differs
        "https://app.octopods.io/api/v1/whatsapp/messages/1/../../x",
        "https://app.octopods.io/api/v1/whatsapp/messages/1?redirect=evil",
        "https://app.octopods.io/api/v1/whatsapp/messages/",
        "https://[/api/v1/whatsapp/messages/1",  # urlsplit raises on it (found by hypothesis)
    ],
)
def test_message_references_refused(message: object) -> None:
    with pytest.raises(InvalidMessageReference):
        refs.message_id_of(message, BASE)


def test_url_must_keep_the_base_path_prefix() -> None:
    base = "https://proxy.example/octopods"
    assert refs.message_id_of(f"{base}/api/v1/whatsapp/messages/9", base) == 9
    with pytest.raises(InvalidMessageReference):
        refs.message_id_of("https://proxy.example/api/v1/whatsapp/messages/9", base)


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        (None, "https://app.octopods.io"),
        ("", "https://app.octopods.io"),
        ("app.octopods.io", "https://app.octopods.io"),
        ("http://127.0.0.1:8765/", "http://127.0.0.1:8765"),
        ("https://Proxy.Example/octopods/", "https://proxy.example/octopods"),
    ],
)
def test_base_url_normalised(host: str | None, expected: str) -> None:
    assert refs.normalize_base_url(host) == expected


@pytest.mark.parametrize("host", ["ftp://x", "https://user:pw@x", "https://x/?q=1"])
def test_base_url_refused(host: str) -> None:
    with pytest.raises(ValueError, match="base URL"):
        refs.normalize_base_url(host)


@pytest.mark.parametrize(
    "message",
    [
        "9" * 5000,  # past Python's int digit limit
        "0" * 5000 + "1" * 20,
        pytest.param(10**5000, id="an-int-of-5000-digits"),
        f"{BASE}/api/v1/whatsapp/messages/{'9' * 5000}",
    ],
)
def test_ids_of_thousands_of_digits_are_refused_typed(message: object) -> None:
    with pytest.raises(InvalidMessageReference) as info:
        refs.message_id_of(message, BASE)
    assert len(str(info.value)) < 400


def test_leading_zeros_do_not_count_against_the_id_length() -> None:
    assert refs.message_id_of("0" * 5000 + "42", BASE) == 42
