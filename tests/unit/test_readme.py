"""The README's references point at what exists in the repository: every path it names in
backquotes or in its code map, and every section of the product specification (docs/SPEC.md) it
links to. A file moved or a section renamed fails here, not in a newcomer's hands."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
SPEC = (ROOT / "docs" / "SPEC.md").read_text(encoding="utf-8")
TOP = ("billing/", "tests/", "migrations/", "templates/", "bench/", ".ci/", "docs/")


def _anchor(title: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")


def test_every_path_the_readme_names_exists() -> None:
    quoted = set(re.findall(r"`([A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]*)+)`", README))
    code_map = README.split("## Code map", 1)[1]
    mapped = set(re.findall(r"^([A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]*)+)\s", code_map, re.M))
    named = sorted(p for p in quoted | mapped if p.startswith(TOP) or p == "app.py")
    assert len(named) > 20  # the check reads the README it means to
    missing = [p for p in named if not (ROOT / p).exists()]
    assert missing == []


def test_every_spec_reference_links_to_a_section_that_exists() -> None:
    anchors = {_anchor(t) for t in re.findall(r"^#+ (.+)$", SPEC, re.M)}
    links = re.findall(r"\]\(docs/SPEC\.md#([^)]+)\)", README)
    assert links  # the README cites the specification's sections
    assert sorted(set(links) - anchors) == []
    # A bare "SPEC n" in the README is a link to section n.
    cited = {int(n) for n in re.findall(r"\[SPEC (\d+)\]", README)}
    bare = re.findall(r"(?<!\[)SPEC (\d+)", README)
    assert bare == [] and cited <= {int(n) for n in re.findall(r"^## (\d+)\.", SPEC, re.M)}
