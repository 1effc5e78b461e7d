"""What the built wheel and sdist must hold, beyond twine's metadata check (``make dist``).

python scripts/check_dist.py dist --pythons 3.11 3.13
"""

from __future__ import annotations

import argparse
import tarfile
import zipfile
from email.parser import Parser
from pathlib import Path

URLS = {"Documentation", "Changelog", "Source", "Issues"}
# Only the extras may bring these: the API server and the triggerer install the core.
NOT_IN_CORE = {"pandas", "matplotlib", "apache-airflow-providers-openlineage"}


def _requirement_name(requirement: str) -> str:
    name = requirement.split(";")[0].strip()
    for stop in "<>=!~[ (":
        name = name.split(stop)[0]
    return name.lower()


def check(dist: Path, pythons: list[str]) -> list[str]:
    [wheel] = dist.glob("*.whl")
    [sdist] = dist.glob("*.tar.gz")
    problems = []
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        [metadata_name] = [n for n in names if n.endswith(".dist-info/METADATA")]
        metadata = Parser().parsestr(zf.read(metadata_name).decode())
        entry_points = zf.read(metadata_name.replace("METADATA", "entry_points.txt")).decode()
    if not any(n.endswith(".dist-info/licenses/LICENSE") for n in names):
        problems.append("wheel: no LICENSE")
    if "airflow_provider_octopods/py.typed" not in names:
        problems.append("wheel: no py.typed")
    with tarfile.open(sdist) as tf:
        if not any(n.endswith("/LICENSE") for n in tf.getnames()):
            problems.append("sdist: no LICENSE")
    if "Apache License" not in (Path(__file__).parent.parent / "LICENSE").read_text()[:200]:
        problems.append("LICENSE is not the Apache License text")
    if metadata["License-Expression"] != "Apache-2.0":
        problems.append(f"License-Expression: {metadata['License-Expression']}")
    urls = {entry.split(",")[0].strip() for entry in metadata.get_all("Project-URL") or []}
    if missing := URLS - urls:
        problems.append(f"Project-URL missing: {sorted(missing)}")
    classified = {
        c.rsplit(":: ", 1)[1]
        for c in metadata.get_all("Classifier") or []
        if c.startswith("Programming Language :: Python :: 3.")
    }
    oldest, newest = (tuple(int(part) for part in v.split(".")) for v in (pythons[0], pythons[-1]))
    tested = {f"3.{minor}" for minor in range(oldest[1], newest[1] + 1)}
    if classified != tested:
        problems.append(f"Python classifiers {sorted(classified)}, CI tests {sorted(tested)}")
    if metadata["Requires-Python"] != f">={pythons[0]}":
        problems.append(f"Requires-Python {metadata['Requires-Python']}, oldest tested {pythons[0]}")
    core = {_requirement_name(r) for r in metadata.get_all("Requires-Dist") or [] if "extra ==" not in r}
    if heavy := core & NOT_IN_CORE:
        problems.append(f"core install pulls {sorted(heavy)}")
    if "numpy" not in core:
        problems.append("numpy is imported but not declared")
    if "pytest11" in entry_points:
        problems.append("a pytest11 entry point: the emulator plugin is opt-in")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("dist", type=Path)
    parser.add_argument("--pythons", nargs=2, required=True, metavar=("OLDEST", "NEWEST"))
    args = parser.parse_args()
    problems = check(args.dist, args.pythons)
    for problem in problems:
        print(f"check_dist: {problem}")
    if problems:
        raise SystemExit(1)
    print(f"check_dist: wheel and sdist in {args.dist} are complete")


if __name__ == "__main__":
    main()
