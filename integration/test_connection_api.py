"""The connection through Airflow's REST API: created with conn type octopods, tested, and
described to the UI by the hook-meta endpoint."""

from __future__ import annotations

import json

from integration.conftest import Deployment, connection_body


def _test(deployment: Deployment, api_key: str) -> dict[str, object]:
    body = connection_body(deployment.emulator, "octopods_under_test", api_key=api_key)
    answer = deployment.airflow.api("POST", "/api/v2/connections/test", json=body)
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


def test_connection_created_through_the_rest_api(deployment: Deployment, octopods_connection: str) -> None:
    got = deployment.airflow.api("GET", f"/api/v2/connections/{octopods_connection}").json()
    assert got["conn_type"] == "octopods"
    assert got["host"] == deployment.emulator.base_url
    assert deployment.emulator.api_key not in json.dumps(got)  # the API masks the password


def test_connection_test_ok_for_a_valid_key(deployment: Deployment) -> None:
    result = _test(deployment, deployment.emulator.api_key)
    assert result["status"] is True, result
    assert "accepted" in str(result["message"])


def test_connection_test_fails_clearly_for_a_revoked_key(deployment: Deployment) -> None:
    result = _test(deployment, deployment.emulator.revoked_key)
    assert result["status"] is False
    assert "rotated or revoked" in str(result["message"])
    assert deployment.emulator.revoked_key not in str(result["message"])


def test_hook_meta_lists_octopods_with_its_form(deployment: Deployment) -> None:
    meta = deployment.airflow.api("GET", "/ui/connections/hook_meta").json()
    [octopods] = [m for m in meta if m["connection_type"] == "octopods"]
    assert octopods["hook_name"] == "Octopods"
    fields = octopods["standard_fields"]
    assert fields["host"]["title"] == "API base URL"
    assert fields["password"]["title"] == "WhatsApp Business API key"
    assert fields["login"]["hidden"] and fields["url_schema"]["hidden"] and fields["port"]["hidden"]
    extra = octopods["extra_fields"]
    assert extra["requests_per_second"]["schema"]["title"].startswith("Status-query rate budget")
    assert extra["verify_tls"]["value"] is True
