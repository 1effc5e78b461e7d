"""The core install: every module but the analytics and the Iceberg table's imports without
pandas and matplotlib (the analytics extra), without redis (the redis extra), without pyiceberg
(the iceberg extra), and without importing the lineage module (the openlineage extra, loaded
only when the OpenLineage listener asks); the analytics and the table say which extra they need."""

from __future__ import annotations

import subprocess
import sys

# Runs in a fresh interpreter where the extras' packages cannot be imported.
SCRIPT = """
import importlib, importlib.abc, pkgutil, sys

class NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in ("pandas", "matplotlib", "redis", "pyiceberg"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)

sys.meta_path.insert(0, NotInstalled())
import airflow_provider_octopods as package
skip = {"airflow_provider_octopods.analytics", "airflow_provider_octopods.lineage"}
names = [m.name for m in pkgutil.walk_packages(package.__path__, "airflow_provider_octopods.")]
table = ("iceberg", "table_plan", "table_publish", "message_status_iceberg")
skip |= {name for name in names if any(part in name for part in table)}
for name in names:
    if name not in skip and not name.endswith("pytest_plugin"):
        importlib.import_module(name)
assert "airflow_provider_octopods.lineage" not in sys.modules
print("imported", len(names) - len(skip))
try:
    import airflow_provider_octopods.operators.message_status_iceberg
except ImportError as exc:
    print("table:", exc)
try:
    import airflow_provider_octopods.analytics
except ImportError as exc:
    print("analytics:", exc)
"""


def test_the_core_imports_without_the_extras() -> None:
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True)
    lines = result.stdout.strip().splitlines()
    assert lines[-3].startswith("imported ")
    assert int(lines[-3].split()[1]) > 20
    assert "pip install 'airflow-provider-octopods[iceberg]'" in lines[-2]
    assert "pip install 'airflow-provider-octopods[analytics]'" in lines[-1]
