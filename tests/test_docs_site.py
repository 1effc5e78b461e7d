"""The documentation site as readers get it: built with the strict build, every page free of
unrendered snippet markers, and every included example DAG section shown as code."""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

# A snippet line of pymdownx.snippets, and what a formatter or a typo may have turned it into.
_SNIPPET = re.compile(r'^--8<-- "(?P<file>[^":]+)(?::(?P<section>[\w-]+))?"\s*$', re.MULTILINE)
_MARKER = re.compile(r"--8\s*<\s*--")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=REPO,
        check=True,
        capture_output=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    return out


def _page_of(doc: Path, site: Path) -> Path:
    stem = doc.relative_to(REPO / "docs").with_suffix("")
    return site / "index.html" if stem.name == "index" else site / stem / "index.html"


def _text(markup: str) -> str:
    """What a reader sees: tags (the highlighter's spans too) and entities removed."""
    return html.unescape(re.sub(r"<[^>]+>", "", markup))


def _code_text(page: Path) -> str:
    return _text("\n".join(re.findall(r"<code[^>]*>(.*?)</code>", page.read_text(), flags=re.DOTALL)))


def _section(file: Path, section: str | None) -> list[str]:
    lines = file.read_text().splitlines()
    if section is not None:
        start = lines.index(next(line for line in lines if f"--8<-- [start:{section}]" in line))
        end = lines.index(next(line for line in lines if f"--8<-- [end:{section}]" in line))
        lines = lines[start + 1 : end]
    return [line.strip() for line in lines if line.strip() and "--8<--" not in line]


def test_no_page_holds_a_snippet_marker(site: Path) -> None:
    pages = sorted(site.rglob("*.html"))
    assert len(pages) > 5
    marked = [str(page.relative_to(site)) for page in pages if _MARKER.search(_text(page.read_text()))]
    assert marked == []


def test_every_included_example_is_shown_as_code(site: Path) -> None:
    included = [
        (doc, match["file"], match["section"])
        for doc in sorted((REPO / "docs").rglob("*.md"))
        for match in _SNIPPET.finditer(doc.read_text())
    ]
    # The getting-started page, the sensor, the operator and the analytics pages show DAG code.
    assert {doc.name for doc, _, _ in included} >= {"index.md", "sensor.md", "operator.md", "analytics.md"}
    for doc, file, section in included:
        code = _code_text(_page_of(doc, site))
        missing = [line for line in _section(REPO / file, section) if line not in code]
        assert missing == [], f"{doc.name} lacks lines of {file}:{section}"


def test_the_check_sees_a_mangled_marker() -> None:
    """The marker as ruff format left it is what the first test looks for."""
    highlighted = '<code><span class="o">--</span><span class="mi">8</span> <span class="o">&lt;</span> --'
    assert _MARKER.search(_text(highlighted))
