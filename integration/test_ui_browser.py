"""The connections UI in a real browser: headless Chromium (Debian's chromium and
chromium-driver, installed when missing) logs in, opens the add-connection form, chooses
Octopods, and finds the masked API key field and the base URL field."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from integration.conftest import ARTIFACTS, Deployment
from integration.deployment import ADMIN, ADMIN_PASSWORD

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


def _install_chromium() -> None:
    if Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists():
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "chromium", "chromium-driver"], check=True, env=env)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    _install_chromium()
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1400,1000",
        f"--user-data-dir={tmp_path / 'chromium'}",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver") or CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def _until(browser: Any, what: str, condition: Callable[[Any], Any], timeout: float = 30) -> Any:
    """Wait for ``condition(browser)`` to be truthy. The page is a React app that re-renders as
    its data arrives: an element detached between being found and being read or clicked is
    "not yet", found again on the next try, never a failure of the test."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(
        browser, timeout, poll_frequency=0.25, ignored_exceptions=(StaleElementReferenceException,)
    )
    return wait.until(condition, message=f"{what}: not within {timeout:.0f} s")


def _click(browser: Any, what: str, xpath: str) -> None:
    from selenium.webdriver.common.by import By

    def clicked(driver: Any) -> bool:
        driver.find_element(By.XPATH, xpath).click()
        return True

    _until(browser, what, clicked)


def test_add_connection_form_shows_octopods_fields(deployment: Deployment, browser: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    def find(by: str, value: str) -> Any:
        return _until(browser, f"{value} on the page", lambda b: b.find_elements(by, value))[0]

    browser.get(f"{deployment.airflow.url}/connections")
    find(By.NAME, "username").send_keys(ADMIN)
    find(By.NAME, "password").send_keys(ADMIN_PASSWORD + Keys.ENTER)
    _until(browser, "logged in", lambda b: "/auth/login" not in b.current_url)
    browser.get(f"{deployment.airflow.url}/connections")
    _click(browser, "the Add Connection button", "//button[contains(normalize-space(.), 'Add Connection')]")
    find(By.NAME, "connection_id").send_keys("octopods_from_ui")
    # The connection type is a searchable select: type the hook name, take the match.
    type_input = find(By.XPATH, "//label[contains(., 'Connection Type')]/following::input[1]")
    type_input.send_keys("Octopods")
    _click(browser, "Octopods offered", "//*[@role='option'][normalize-space(.)='Octopods']")

    def labelled(text: str) -> Any:
        return find(By.XPATH, f"//label[contains(., '{text}')]")

    labelled("API base URL")
    key_input = _until(
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
