"""Copy the example code into the docs' Markdown, so that GitHub shows it as well as the site.

A block between ``<!-- example: FILE[:SECTION] -->`` and ``<!-- /example -->`` is rewritten as
a fenced Python block holding FILE, or the lines between its ``# --8<-- [start:SECTION]`` and
``# --8<-- [end:SECTION]`` comments; other section comments are left out.

    python scripts/sync_doc_examples.py           rewrite docs/**/*.md in place
    python scripts/sync_doc_examples.py --check   exit 1 naming each file that differs
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"
_EXAMPLE = re.compile(
    r"^(?P<indent>[ \t]*)<!-- example: (?P<ref>(?P<file>[^\s:]+)(?::(?P<section>[\w-]+))?) -->\n"
    r".*?^(?P=indent)<!-- /example -->$",
    re.MULTILINE | re.DOTALL,
)
_SECTION_COMMENT = re.compile(r"--8<-- \[(?:start|end):[\w-]+\]")


def example(file: str, section: str | None) -> list[str]:
    lines = (REPO / file).read_text().splitlines()
    if section is not None:
        try:
            start = next(i for i, line in enumerate(lines) if f"--8<-- [start:{section}]" in line)
            end = next(i for i, line in enumerate(lines) if f"--8<-- [end:{section}]" in line)
        except StopIteration:
            raise SystemExit(f"{file} has no section {section}") from None
        lines = lines[start + 1 : end]
    return [line for line in lines if not _SECTION_COMMENT.search(line)]


def _block(match: re.Match[str]) -> str:
    code = example(match["file"], match["section"])
    lines = [f"<!-- example: {match['ref']} -->", "```python", *code, "```", "<!-- /example -->"]
    # Inside a list item or an admonition the whole block takes the marker's indentation.
    return "\n".join(match["indent"] + line if line else line for line in lines)


def synced(markdown: str) -> str:
    return _EXAMPLE.sub(_block, markdown)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="change nothing; fail if a file would change")
    parser.add_argument("files", nargs="*", type=Path, help="Markdown files (default: the docs)")
    args = parser.parse_args()
    stale = []
    for doc in args.files or sorted(DOCS.rglob("*.md")):
        text = doc.read_text()
        if (new := synced(text)) != text:
            stale.append(doc.relative_to(REPO) if doc.is_relative_to(REPO) else doc)
            if not args.check:
                doc.write_text(new)
    for doc in stale:
        print(f"{doc}: example code differs from its source" if args.check else f"{doc}: updated")
    if args.check and stale:
        print("run: python scripts/sync_doc_examples.py", file=sys.stderr)
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
