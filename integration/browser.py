"""A real browser for the UI tests: headless Chromium (Debian's chromium and chromium-driver,
installed when missing), and the waits a React page needs."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

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


def until(browser: Any, what: str, condition: Callable[[Any], Any], timeout: float = 30) -> Any:
    """Wait for ``condition(browser)`` to be truthy. The page is a React app that re-renders as
    its data arrives: an element detached between being found and being read or clicked is
    "not yet", found again on the next try, never a failure of the test."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(
        browser, timeout, poll_frequency=0.25, ignored_exceptions=(StaleElementReferenceException,)
    )
    return wait.until(condition, message=f"{what}: not within {timeout:.0f} s")


def click(browser: Any, what: str, xpath: str) -> None:
    from selenium.webdriver.common.by import By

    def clicked(driver: Any) -> bool:
        driver.find_element(By.XPATH, xpath).click()
        return True

    until(browser, what, clicked)


def log_in(browser: Any, url: str, user: str, password: str) -> None:
    """Airflow's login form, then wait until the browser has left it."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    browser.get(f"{url}/")
    until(browser, "the login form", lambda b: b.find_elements(By.NAME, "username"))[0].send_keys(user)
    browser.find_element(By.NAME, "password").send_keys(password + Keys.ENTER)
    until(browser, "logged in", lambda b: "/auth/login" not in b.current_url)
