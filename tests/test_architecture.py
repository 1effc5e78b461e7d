"""The package's layers (scripts/draw_architecture.py, docs/architecture.md): no module imports
from a layer above its own, and the committed picture is the one the sources draw."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.dag_runs import load_module

draw = load_module(REPO / "scripts" / "draw_architecture.py", "draw_architecture")


def _package(root: Path, files: dict[str, str]) -> Path:
    """A package of the same name at ``root``, holding ``files`` (path: text)."""
    package = root / "airflow_provider_octopods"
    for name, text in files.items():
        (package / name).parent.mkdir(parents=True, exist_ok=True)
        (package / name).write_text(text)
    return package


def test_no_module_imports_from_a_layer_above_its_own() -> None:
    assert draw.upward_imports(draw.import_graph()) == []


def test_the_committed_picture_is_the_one_the_sources_draw() -> None:
    drawn = draw.render(draw.import_graph())
    assert drawn == draw.OUTPUT.read_text(), "stale: run python scripts/draw_architecture.py"
    # The command the docs name agrees.
    check = subprocess.run(
        [sys.executable, "scripts/draw_architecture.py", "--check"], cwd=REPO, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_an_import_from_above_is_named(tmp_path: Path) -> None:
    """Every form of import counts: from a module, of a module, relative, inside a function."""
    package = _package(
        tmp_path,
        {
            "__init__.py": "__version__ = '1'\n",
            "status.py": "from airflow_provider_octopods.wait import watch\n",
            "wait/__init__.py": "",
            "wait/watch.py": "from .policy import PollPolicy\nimport airflow_provider_octopods.status\n",
            "wait/policy.py": "def f():\n    from airflow_provider_octopods.hooks.octopods import Hook\n",
            "hooks/__init__.py": "",
            "hooks/octopods.py": "from airflow_provider_octopods import __version__\n",
        },
    )
    graph = draw.import_graph(package)
    assert graph["wait/watch"] == {"wait/policy", "status"}
    assert graph["hooks/octopods"] == {"__init__"}
    assert draw.upward_imports(graph) == [
        "status (Vocabulary) imports wait/watch (Waits and snapshots)",
        "wait/policy (Waits and snapshots) imports hooks/octopods (Faces)",
    ]


def test_a_new_module_is_drawn_in_its_folders_layer(tmp_path: Path) -> None:
    package = _package(
        tmp_path,
        {
            "wait/__init__.py": "",
            "wait/a_new_step.py": "from airflow_provider_octopods.clients import sync_client\n",
            "clients/__init__.py": "",
            "clients/sync_client.py": "",
        },
    )
    graph = draw.import_graph(package)
    assert draw.layer_of("wait/a_new_step") == draw.layer_of("wait/engine")
    svg = draw.render(graph)
    assert ">a_new_step</text>" in svg
    assert svg.count('class="e"') == 1  # one arrow: wait/ to clients/


def test_a_module_outside_every_layer_is_refused(tmp_path: Path) -> None:
    package = _package(tmp_path, {"status.py": "", "a_new_corner.py": ""})
    with pytest.raises(SystemExit, match="'a_new_corner' is in no layer"):
        draw.render(draw.import_graph(package))
