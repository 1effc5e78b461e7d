"""Shared test set-up. Airflow reads its configuration at import, so its environment is set
here, before any test module imports it: a throw-away AIRFLOW_HOME with a SQLite database."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
_HOME = tempfile.mkdtemp(prefix="octopods-airflow-home-")
os.environ["AIRFLOW_HOME"] = _HOME
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
# Loopback traffic only: a proxy of the developer's environment must not route the tests
# (the proxy tests set these themselves).
for _variable in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
    os.environ.pop(_variable, None)
    os.environ.pop(_variable.lower(), None)
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_HOME}/airflow.db"
# One DAGs folder with the example DAGs and the tests' own DAGs, as dag.test() parses the folder.
_DAGS = Path(_HOME) / "dags"
_DAGS.mkdir()
for _dag_file in [*(REPO / "dags").glob("*.py"), *(REPO / "tests" / "dags").glob("*.py")]:
    (_DAGS / _dag_file.name).symlink_to(_dag_file)
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(_DAGS)
# Where the example DAGs read and write, fixed for the session: an Asset's URI comes from the
# DAG file, and Airflow keeps the first one it parsed for a DAG.
EXAMPLE_ROOT = Path(_HOME) / "octopods"
os.environ["OCTOPODS_SEND_LOG_ROOT"] = f"file://{EXAMPLE_ROOT}/send_log"
os.environ["OCTOPODS_SNAPSHOT_ROOT"] = f"file://{EXAMPLE_ROOT}/statuses"
os.environ["OCTOPODS_REPORT_ROOT"] = str(EXAMPLE_ROOT / "reports")
os.environ["OCTOPODS_ROLLING_ROOT"] = f"file://{EXAMPLE_ROOT}/rolling"

from airflow_provider_octopods.emulator import Emulator  # noqa: E402

# The emulator's fixture is opt-in; this suite opts in the way users do.
pytest_plugins = ["airflow_provider_octopods.emulator.pytest_plugin"]
from airflow_provider_octopods.connection.settings import OctopodsSettings  # noqa: E402
from airflow_provider_octopods.parquet import staging  # noqa: E402


def settings_for(emulator: Emulator, *, api_key: str | None = None, **extra: Any) -> OctopodsSettings:
    """Settings for a connection to ``emulator``, as the hook would build them."""
    conn = emulator.connection(api_key=api_key, **extra)
    return OctopodsSettings.from_connection_fields("octopods_test", conn["host"], conn["password"], extra)


@pytest.fixture
def emulator(octopods_emulator: Emulator) -> Emulator:
    """The emulator of the shipped pytest plugin: the tests use what users get."""
    return octopods_emulator


@pytest.fixture(scope="session")
def airflow_db() -> str:
    """A migrated SQLite metadata database, for dag.test()."""
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True)
    return _HOME


@pytest.fixture
def octopods_conn(monkeypatch: pytest.MonkeyPatch, emulator: Emulator) -> Iterator[str]:
    """``octopods_default`` pointing at the emulator, through the environment as users set it."""
    monkeypatch.setenv("AIRFLOW_CONN_OCTOPODS_DEFAULT", emulator.connection_json())
    return "octopods_default"


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, emulator: Emulator, airflow_db: str) -> Path:
    """Where the snapshot test DAGs write, with ``octopods_default`` on the emulator."""
    monkeypatch.setenv("OCTOPODS_TEST_SNAPSHOT_ROOT", f"file://{tmp_path}")
    monkeypatch.setenv("AIRFLOW_CONN_OCTOPODS_DEFAULT", emulator.connection_json(max_retries=1))
    return tmp_path


@pytest.fixture(params=["unnamed", "named"])
def staging_mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways a part is staged: an unnamed file (Linux), a named temporary file elsewhere."""
    if request.param == "named":
        monkeypatch.setattr(staging, "_open_unnamed", lambda folder: None)
    return str(request.param)
