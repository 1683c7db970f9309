"""The documentation hangs together: index.md lists every document, and links resolve."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "documentation"
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^\s*(```|~~~)")


def prose_lines(path: Path) -> list[str]:
    """The lines of a Markdown file outside fenced code blocks."""
    lines, fenced = [], False
    for line in path.read_text(encoding="utf-8").splitlines():
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            lines.append(line)
    return lines


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = heading.strip().lower().replace("`", "")
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    found, seen = set(), {}
    for line in prose_lines(path):
        match = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if match:
            base = slug(match.group(1))
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if count == 0 else f"{base}-{count}")
    return found


def markdown_files() -> list[Path]:
    return sorted(DOCS.glob("*.md")) + [ROOT / "README.md"]


def test_index_lists_every_document():
    index = DOCS / "index.md"
    linked = {target.split("#")[0] for line in prose_lines(index)
              for target in LINK.findall(line)}
    missing = sorted(p.name for p in DOCS.glob("*.md") if p.name != "index.md"
                     and p.name not in linked)
    assert not missing, f"add these documents to documentation/index.md: {', '.join(missing)}"


def test_readme_links_the_index():
    readme = "\n".join(prose_lines(ROOT / "README.md"))
    assert "(documentation/index.md)" in readme


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: p.name)
def test_relative_links_and_anchors_resolve(path):
    broken = []
    for line in prose_lines(path):
        for target in LINK.findall(line):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
                continue
            file_part, _, anchor = target.partition("#")
            linked = (path.parent / file_part).resolve() if file_part else path
            if not linked.exists():
                broken.append(f"{target}: no file {linked}")
            elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
                broken.append(f"{target}: no heading with anchor #{anchor} in {linked.name}")
    assert not broken, f"{path.relative_to(ROOT)}: broken link(s):\n  " + "\n  ".join(broken)


def test_slug_matches_github():
    assert slug("1. `fingerprint.json`") == "1-fingerprintjson"
    assert slug("2.2 Batch size from a memory budget (`memory`)") == \
        "22-batch-size-from-a-memory-budget-memory"
    assert slug("A run was interrupted: how do I resume?") == \
        "a-run-was-interrupted-how-do-i-resume"
    assert slug("autosynth_plan_and_preprocess") == "autosynth_plan_and_preprocess"
