"""The connections UI in a real browser: headless Chromium logs in, opens the add-connection
form, chooses Octopods, and finds the masked API key field and the base URL field."""

from __future__ import annotations

from typing import Any

from integration.browser import click, log_in, until
from integration.conftest import ARTIFACTS, Deployment
from integration.deployment import ADMIN, ADMIN_PASSWORD


def test_add_connection_form_shows_octopods_fields(deployment: Deployment, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    def find(by: str, value: str) -> Any:
        return until(browser, f"{value} on the page", lambda b: b.find_elements(by, value))[0]

    log_in(browser, deployment.airflow.url, ADMIN, ADMIN_PASSWORD)
    browser.get(f"{deployment.airflow.url}/connections")
    click(browser, "the Add Connection button", "//button[contains(normalize-space(.), 'Add Connection')]")
    find(By.NAME, "connection_id").send_keys("octopods_from_ui")
    # The connection type is a searchable select: type the hook name, take the match.
    type_input = find(By.XPATH, "//label[contains(., 'Connection Type')]/following::input[1]")
    type_input.send_keys("Octopods")
    click(browser, "Octopods offered", "//*[@role='option'][normalize-space(.)='Octopods']")

    def labelled(text: str) -> Any:
        return find(By.XPATH, f"//label[contains(., '{text}')]")

    labelled("API base URL")
    key_input = until(
        browser,
        "the API key input",
        lambda b: labelled("WhatsApp Business API key").find_element(By.XPATH, "following::input[1]"),
    )
    assert key_input.get_attribute("type") == "password"  # masked
    # Read in one script: no element can go stale between finding the labels and their text.
    labels = browser.execute_script(
        "return Array.from(document.querySelectorAll('label'), l => l.innerText).join(' ')"
    )
    for hidden in ("Login", "Schema", "Port"):
        assert hidden not in labels
    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "octopods-add-connection.png"
    browser.save_screenshot(str(screenshot))
    assert screenshot.stat().st_size > 10_000
