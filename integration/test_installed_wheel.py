"""The suite runs against the built wheel, as users install it (make integration)."""

from __future__ import annotations

import json
from importlib.metadata import distribution
from pathlib import Path

import airflow_provider_octopods
from integration.deployment import HERE


def test_the_provider_is_the_installed_wheel() -> None:
    """make integration installs the built wheel: neither the tests nor the processes may
    import the source tree instead (--import-mode=append puts it after site-packages)."""
    location = Path(airflow_provider_octopods.__file__).resolve()
    assert location.parent != HERE.parent / "airflow_provider_octopods", location
    assert "site-packages" in location.parts, location
    direct_url = distribution("airflow-provider-octopods").read_text("direct_url.json") or "{}"
    assert json.loads(direct_url).get("url", "").endswith(".whl"), direct_url
