"""The emulator's pytest fixture is opt-in: an unrelated suite in an environment with the
provider installed does not load it; `-p` or `pytest_plugins` does."""

from __future__ import annotations

import json
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


ALL_FAIL = {
    "name": "all fail",
    "outcomes": {"failed": 1.0},
    "deliver_delay_s": {"fixed": 1},
    "fail_delay_s": {"fixed": 2},
    "read_share_of_delivered": 0.5,
    "read_delay_s": {"fixed": 60},
}

USES_THE_MODEL = """
def test_the_fixture_follows_the_model(octopods_emulator):
    assert octopods_emulator.state.model.name == "all fail"
    ids = octopods_emulator.add_campaign(40)
    assert {octopods_emulator.state.messages[m].steps[-1] for m in ids} == {(2.0, "failed")}

def test_no_model_when_not_given(octopods_emulator):
    assert octopods_emulator.state.model is None
"""


@pytest.mark.parametrize("how", ["option", "ini"])
def test_the_fixture_takes_a_model(tmp_path: Path, how: str) -> None:
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "all_fail.json").write_text(json.dumps(ALL_FAIL))
    (tmp_path / "test_mine.py").write_text(USES_THE_MODEL)
    if how == "ini":
        (tmp_path / "pytest.ini").write_text("[pytest]\noctopods_model = models/all_fail.json\n")
    given = ["--octopods-model", "models/all_fail.json"] if how == "option" else []
    result = _pytest(tmp_path, "-p", PLUGIN, *given)
    # The model is used (the first test passes) and only when given (the second fails).
    assert "1 failed, 1 passed" in result.stdout, result.stdout
    assert "test_no_model_when_not_given" in result.stdout
    without = _pytest(tmp_path, "-p", PLUGIN, "-o", "octopods_model=")
    assert "1 failed, 1 passed" in without.stdout and "test_the_fixture_follows_the_model" in without.stdout


def test_a_bad_model_says_where(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text(json.dumps({**ALL_FAIL, "read_share_of_delivered": 2}))
    (tmp_path / "test_mine.py").write_text(USES_FIXTURE)
    result = _pytest(tmp_path, "-p", PLUGIN, "--octopods-model", "bad.json")
    assert result.returncode == 1
    assert "bad.json: read_share_of_delivered: must be a share in [0, 1], not 2" in result.stdout
