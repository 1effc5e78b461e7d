"""The core install's footprint: the provider without extras, with Airflow, in a fresh venv.

    .venv/bin/python bench/core_footprint.py [SOURCE ...]

SOURCE is a source tree or a git revision of this repository (default: the working tree),
e.g. ``main HEAD`` to compare. Prints the site-packages size, the heavy packages present, and
the CPU time of importing the hook, operator, sensor and trigger modules (best and median of
9 fresh interpreters; CPU rather than wall time, since the machine is shared).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
AIRFLOW = "apache-airflow==3.3.2"
HEAVY = ("pandas", "matplotlib", "numpy", "pyarrow")
MODULES = ("hooks.octopods", "operators.message_status", "sensors.message_status", "triggers.message_status")
IMPORT = (
    "import time; t = time.process_time()\n"
    + "".join(f"import airflow_provider_octopods.{m}\n" for m in MODULES)
    + "import sys; print(time.process_time() - t, 'pandas' in sys.modules)"
)


def _source(ref: str, work: Path) -> Path:
    if Path(ref).is_dir():
        return Path(ref)
    tree = work / f"src-{ref.replace('/', '_')}"
    archive = subprocess.run(["git", "archive", ref], cwd=REPO, capture_output=True, check=True).stdout
    tree.mkdir()
    (work / "src.tar").write_bytes(archive)
    with tarfile.open(work / "src.tar") as tar:
        tar.extractall(tree, filter="data")
    return tree


def _du(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def measure(ref: str, work: Path) -> None:
    source = _source(ref, work)
    venv = work / f"venv-{ref.replace('/', '_')}"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check", "uv"], check=True)
    uv = venv / "bin" / "uv"
    subprocess.run([uv, "pip", "install", "-q", "--python", python, source, AIRFLOW], check=True)
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    site = Path(purelib)
    env = {**os.environ, "AIRFLOW_HOME": str(work / "airflow-home")}
    runs = [
        subprocess.run(
            [python, "-c", IMPORT], capture_output=True, text=True, check=True, env=env, cwd=work
        ).stdout.split()
        for _ in range(9)
    ]
    seconds = sorted(float(r[0]) for r in runs)
    present = [p for p in HEAVY if (site / p).is_dir()]
    print(f"{ref}: site-packages {_du(site) / 2**20:.0f} MiB; present: {', '.join(present)}")
    for package in present:
        print(f"  {package}: {_du(site / package) / 2**20:.0f} MiB")
    print(
        f"  import (CPU s): best {seconds[0]:.2f}, median {statistics.median(seconds):.2f}; "
        f"pandas imported: {runs[0][1]}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("sources", nargs="*", default=[str(REPO)])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="octopods-footprint-") as work:
        for ref in args.sources:
            measure(ref, Path(work))


if __name__ == "__main__":
    main()
