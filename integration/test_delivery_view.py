"""The Delivery view in the deployment: the plugin loaded from the installed wheel, a snapshot
published by a DAG run on the Celery workers, the report opened in a real browser from the
snapshot task's extra link and from the UI's navigation, with the figures the terminal summary
prints; a request with no user, and a user who may not read the DAG, are refused."""

from __future__ import annotations

from typing import Any

import requests

from airflow_provider_octopods.analytics import delivery_report, duration_text, headline, read_snapshot
from integration.browser import log_in, until
from integration.conftest import ARTIFACTS, Deployment
from integration.deployment import ADMIN, ADMIN_PASSWORD, OUTSIDER, OUTSIDER_PASSWORD

VIEW = "/octopods/delivery/"
DAY = "2026-11-20T00:00:00+00:00"  # a day of its own: the other snapshot tests publish today


def _published_day(deployment: Deployment) -> tuple[str, str]:
    """A run of ``it_snapshot`` over a campaign: its run id and its partition."""
    run_id, path = deployment.airflow.snapshot(deployment.emulator.add_campaign(1000, spread_hours=6), DAY)
    return run_id, path.removeprefix("file://").rsplit("/", 1)[0]


def _terminal_figures(partition: str) -> tuple[list[str], list[str]]:
    """The headline and the latency texts the terminal summary prints for the partition."""
    s = delivery_report(read_snapshot(partition)).summary
    print(f"terminal summary: {headline(s)}")
    latency = [
        duration_text(s[f"time_to_{what}_p{p}_s"]) for p in (50, 90, 99) for what in ("deliver", "read")
    ]
    return [text for _, text in headline(s)], latency


def _page_figures(browser: Any) -> tuple[list[str], list[str]]:
    """The headline cards' values and the latency bars' labels, read in one script."""
    return tuple(
        browser.execute_script(
            "return [Array.from(document.querySelectorAll('#headline .value'), e => e.textContent),"
            " Array.from(document.querySelectorAll('#latency text'))"
            "   .filter((e, i) => i % 2 === 1).map(e => e.textContent)]"
        )
    )


def _drawn(browser: Any) -> bool:
    return bool(browser.execute_script("return !document.getElementById('report').hidden"))


def _frame(browser: Any) -> list[Any]:
    return list(browser.find_elements("css selector", f"iframe[src*='{VIEW}']"))


def test_the_view_shows_the_days_figures_to_those_allowed(
    deployment: Deployment, octopods_connection: str, browser: Any
) -> None:
    airflow = deployment.airflow
    plugins = airflow.api("GET", "/api/v2/plugins").json()["plugins"]
    [plugin] = [p for p in plugins if p["name"] == "octopods_delivery"]
    assert "airflow-provider-octopods" in plugin["source"]  # the wheel's entry point
    run_id, partition = _published_day(deployment)
    links = airflow.api(
        "GET", f"/api/v2/dags/it_snapshot/dagRuns/{run_id}/taskInstances/snapshot/links"
    ).json()
    link = links["extra_links"]["Delivery report"]  # what the task's button opens
    assert link.startswith(VIEW + "?")

    log_in(browser, airflow.url, ADMIN, ADMIN_PASSWORD)
    browser.get(airflow.url + link)
    until(
        browser,
        "the report drawn",
        lambda b: b.execute_script("return !document.getElementById('report').hidden"),
    )
    assert _page_figures(browser) == _terminal_figures(partition)
    # Hovering an hour's bar tells its messages: together, every message with a send time.
    hours = browser.execute_script(
        "return Array.from(document.querySelectorAll('#hourly rect title'), e => e.textContent)"
    )
    assert sum(int(h.split(": ")[1].split(" messages")[0].replace(",", "")) for h in hours) == 1000
    assert "2026-11-20: run" in browser.find_element("id", "status").text
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "octopods-delivery-view.png"))

    browser.get(airflow.url + "/plugin/octopods-delivery")  # the UI's navigation entry
    frame = until(
        browser, "the view's frame", lambda b: b.find_elements("css selector", f"iframe[src*='{VIEW}']")
    )
    browser.switch_to.frame(frame[0])
    until(
        browser,
        "the framed report",
        lambda b: b.execute_script("return !document.getElementById('report').hidden"),
    )
    browser.switch_to.default_content()
    browser.save_screenshot(str(ARTIFACTS / "octopods-delivery-nav.png"))


def test_no_user_and_an_outsider_are_refused(deployment: Deployment) -> None:
    airflow = deployment.airflow
    report = f"{airflow.url}{VIEW}api/report"
    for path in ("", "api/snapshots", "api/report?asset=x"):
        assert requests.get(f"{airflow.url}{VIEW}{path}", timeout=30).status_code == 401
    outsider = {"Authorization": f"Bearer {airflow.token_of(OUTSIDER, OUTSIDER_PASSWORD)}"}
    admin = {"Authorization": f"Bearer {airflow.token}"}
    days = requests.get(f"{airflow.url}{VIEW}api/snapshots", headers=admin, timeout=30).json()
    assert days, "no snapshot published yet"
    newest = {"asset": days[0]["uri"], "run_id": days[0]["days"][0]["run_id"]}
    assert requests.get(report, params=newest, headers=admin, timeout=60).status_code == 200
    refused = requests.get(report, params=newest, headers=outsider, timeout=60)
    assert refused.status_code == 403
    assert days[0]["uri"] not in refused.text and "messages" not in refused.text
    assert requests.get(f"{airflow.url}{VIEW}api/snapshots", headers=outsider, timeout=30).json() == []
