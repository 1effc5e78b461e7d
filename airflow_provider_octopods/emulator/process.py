"""The emulator in a process of its own (benchmarks, tools that must not share its GIL)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def emulator_process(*args: str) -> Iterator[dict[str, Any]]:
    """Run ``python -m airflow_provider_octopods.emulator --port 0 *args`` until the block ends;
    yields its ready line (``base_url``, ``api_key``, ``revoked_key``, ``first_message_id``,
    ``messages``). Script it over ``/_emulator/*``."""
    process = subprocess.Popen(  # noqa: S603 - this package's own module, no shell
        [sys.executable, "-m", "airflow_provider_octopods.emulator", "--port", "0", *args],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        yield json.loads(process.stdout.readline())
    finally:
        process.terminate()
        if process.wait(timeout=30) != 0:
            raise RuntimeError(f"the emulator did not stop cleanly on SIGTERM (exit {process.returncode})")
