"""protocol.probe: the Test button's probe read as the Octopods API answers it."""

from __future__ import annotations

import json

from airflow_provider_octopods.protocol import probe


def test_probe_outcomes() -> None:
    ok, text = probe.probe_outcome(400, {}, json.dumps({"request_id": "p", "error_code": 1}).encode(), "c")
    assert ok
    assert "accepted" in text
    ok, text = probe.probe_outcome(400, {}, json.dumps({"error_code": 6}).encode(), "c")
    assert not ok
    assert "revoked" in text
    ok, text = probe.probe_outcome(404, {}, b"<html>Not Found</html>", "c")
    assert not ok
    assert "not as the Octopods API" in text
    ok, text = probe.probe_outcome(200, {}, b"<html>hello</html>", "c")
    assert not ok
    assert "not as the Octopods API" in text
