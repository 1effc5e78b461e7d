"""The documentation as readers get it, on the site (the strict build) and on GitHub (the
Markdown): free of unrendered snippet markers, every example equal to its source and shown as
code."""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

# An example block of the docs' Markdown, as scripts/sync_doc_examples.py writes it.
_EXAMPLE = re.compile(
    r"<!-- example: (?P<ref>\S+) -->\n```python\n(?P<code>.*?)^```$", re.MULTILINE | re.DOTALL
)
# A snippet line of pymdownx.snippets, and what a formatter or a typo may have turned it into.
_MARKER = re.compile(r"--8\s*<\s*--")
_DOCS = sorted((REPO / "docs").rglob("*.md"))


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


def test_no_page_holds_a_snippet_marker(site: Path) -> None:
    """Neither on the site nor in the Markdown GitHub shows (the README links docs/*.md)."""
    pages = sorted(site.rglob("*.html"))
    assert len(pages) > 5
    marked = [str(page.relative_to(site)) for page in pages if _MARKER.search(_text(page.read_text()))]
    marked += [doc.name for doc in [REPO / "README.md", *_DOCS] if _MARKER.search(doc.read_text())]
    assert marked == []


def test_every_example_equals_its_source() -> None:
    check = subprocess.run(
        [sys.executable, "scripts/sync_doc_examples.py", "--check"], cwd=REPO, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_the_check_names_a_stale_example(tmp_path: Path) -> None:
    doc = tmp_path / "stale.md"
    doc.write_text(
        "<!-- example: dags/octopods_campaign.py:batch -->\n```python\nold\n```\n<!-- /example -->\n"
    )
    check = subprocess.run(
        [sys.executable, "scripts/sync_doc_examples.py", "--check", str(doc)],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert check.returncode == 1
    assert str(doc) in check.stdout


def test_every_example_is_shown_as_code(site: Path) -> None:
    examples = [
        (doc, match["ref"], match["code"]) for doc in _DOCS for match in _EXAMPLE.finditer(doc.read_text())
    ]
    # The getting-started page, the sensor, the operators' and the analytics pages show DAG code.
    shown = {"index.md", "sensor.md", "operator.md", "iceberg.md", "analytics.md"}
    assert {doc.name for doc, _, _ in examples} >= shown
    for doc, ref, code in examples:
        shown = _code_text(_page_of(doc, site))
        missing = [line.strip() for line in code.splitlines() if line.strip() not in shown]
        assert missing == [], f"{doc.name} does not show {ref} as code"


def test_the_check_sees_a_mangled_marker() -> None:
    """The marker as ruff format left it is what the first test looks for."""
    highlighted = '<code><span class="o">--</span><span class="mi">8</span> <span class="o">&lt;</span> --'
    assert _MARKER.search(_text(highlighted))


def test_the_architecture_page_shows_its_picture_from_the_site(site: Path) -> None:
    page = (site / "architecture" / "index.html").read_text()
    sources = re.findall(r'<img[^>]*\bsrc="([^"]+)"', page)
    assert "../img/architecture.svg" in sources
    shown = (site / "architecture" / "../img/architecture.svg").resolve()
    assert shown.read_text() == (REPO / "docs" / "img" / "architecture.svg").read_text()


def test_no_page_loads_anything_from_another_host(site: Path) -> None:
    """The site reads offline: no font, script, style or picture from the internet (a link to
    another site is fine, as is the canonical address)."""
    loaded = re.compile(
        r'<(?:script|img|iframe|source|link)\b[^>]*\b(?:src|href)="((?:https?:)?//[^"]+)"[^>]*>'
    )
    remote = {
        (page.relative_to(site).as_posix(), match[1])
        for page in site.rglob("*.html")
        for match in loaded.finditer(page.read_text())
        if 'rel="canonical"' not in match[0]
    }
    assert remote == set()
