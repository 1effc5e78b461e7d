"""The emulator's pytest fixture is opt-in: an unrelated suite in an environment with the
provider installed does not load it; `-p` or `pytest_plugins` does."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from airflow_provider_octopods.provider_info import PACKAGE_NAME

PLUGIN = "airflow_provider_octopods.emulator.pytest_plugin"

USES_FIXTURE = """
def test_uses_the_emulator(octopods_emulator):
    [message_id] = octopods_emulator.add_messages()
    assert message_id
"""


def _pytest(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args, str(folder)],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
    )


def test_no_pytest11_entry_point() -> None:
    ours = [ep for ep in entry_points(group="pytest11") if ep.dist and ep.dist.name == PACKAGE_NAME]
    assert ours == []


def test_an_unrelated_suite_does_not_load_the_plugin(tmp_path: Path) -> None:
    (tmp_path / "test_other.py").write_text(USES_FIXTURE)
    result = _pytest(tmp_path)
    assert result.returncode == 1
    assert "fixture 'octopods_emulator' not found" in result.stdout


@pytest.mark.parametrize("how", ["-p", "conftest"])
def test_opting_in_gives_the_fixture(tmp_path: Path, how: str) -> None:
    (tmp_path / "test_mine.py").write_text(USES_FIXTURE)
    if how == "conftest":
        (tmp_path / "conftest.py").write_text(f"pytest_plugins = [{PLUGIN!r}]\n")
    result = _pytest(tmp_path, *(["-p", PLUGIN] if how == "-p" else []))
    assert result.returncode == 0, result.stdout
    assert "1 passed" in result.stdout
