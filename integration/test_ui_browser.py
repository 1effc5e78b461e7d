"""The connections UI in a real browser: headless Chromium (Debian's chromium and
chromium-driver, installed when missing) logs in, opens the add-connection form, chooses
Octopods, and finds the masked API key field and the base URL field."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from integration.conftest import ARTIFACTS, Deployment
from integration.deployment import ADMIN, ADMIN_PASSWORD, wait_until

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


def test_add_connection_form_shows_octopods_fields(deployment: Deployment, browser: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    def find(by: str, value: str) -> Any:
        return wait_until(lambda: browser.find_elements(by, value), 30, f"{value} on the page")[0]

    browser.get(f"{deployment.airflow.url}/connections")
    find(By.NAME, "username").send_keys(ADMIN)
    find(By.NAME, "password").send_keys(ADMIN_PASSWORD + Keys.ENTER)
    wait_until(lambda: "/auth/login" not in browser.current_url, 30, "logged in")
    browser.get(f"{deployment.airflow.url}/connections")
    add = wait_until(
        lambda: [b for b in browser.find_elements(By.TAG_NAME, "button") if "Add Connection" in b.text],
        30,
        "the Add Connection button",
    )[0]
    add.click()
    find(By.NAME, "connection_id").send_keys("octopods_from_ui")
    # The connection type is a searchable select: type the hook name, take the match.
    type_input = find(By.XPATH, "//label[contains(., 'Connection Type')]/following::input[1]")
    type_input.send_keys("Octopods")
    wait_until(lambda: browser.find_elements(By.XPATH, "//*[text()='Octopods']"), 30, "Octopods offered")
    type_input.send_keys(Keys.ENTER)

    def labelled(text: str) -> Any:
        return wait_until(
            lambda: browser.find_elements(By.XPATH, f"//label[contains(., '{text}')]"),
            30,
            f"the {text} field",
        )[0]

    labelled("API base URL")
    key_label = labelled("WhatsApp Business API key")
    key_input = key_label.find_element(By.XPATH, "following::input[1]")
    assert key_input.get_attribute("type") == "password"  # masked
    labels = " ".join(label.text for label in browser.find_elements(By.TAG_NAME, "label"))
    for hidden in ("Login", "Schema", "Port"):
        assert hidden not in labels
    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "octopods-add-connection.png"
    browser.save_screenshot(str(screenshot))
    assert screenshot.stat().st_size > 10_000
