"""The README, benchmarks/README.md and the handbook (docs/*.md) link only to files and headings that exist, and every
handbook page can be reached from docs/index.md."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
PAGES = (REPO / "README.md", REPO / "benchmarks" / "README.md", *sorted(DOCS.glob("*.md")))
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", flags=re.S | re.M)


def links(page: Path) -> list[str]:
    """Targets of the page's markdown links outside code blocks."""
    return LINK.findall(FENCE.sub("", page.read_text()))


def anchors(page: Path) -> set[str]:
    """GitHub's anchors for the page's headings: lower case, punctuation but `-` and `_`
    dropped, spaces as `-`; a repeated heading gets `-1`, `-2`, ..."""
    seen: dict[str, int] = {}
    for heading in re.findall(r"^#+\s+(.*?)\s*$", FENCE.sub("", page.read_text()), flags=re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        seen[slug] = seen.get(slug, -1) + 1
        if seen[slug]:
            seen[f"{slug}-{seen[slug]}"] = 0
    return set(seen)


def broken_links(page: Path) -> list[str]:
    broken = []
    for target in links(page):
        if re.match(r"[a-z]+:", target):  # https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        if not resolved.exists():
            broken.append(f"{target} (no such file)")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            broken.append(f"{target} (no heading '#{anchor}' in {resolved.name})")
    return broken


def test_relative_links_resolve():
    broken = {page.name: broken_links(page) for page in PAGES}
    assert not any(broken.values()), {name: b for name, b in broken.items() if b}


def test_every_docs_page_is_reachable_from_the_index():
    reached, frontier = set(), [DOCS / "index.md"]
    while frontier:
        page = frontier.pop()
        if page in reached or page.parent != DOCS or not page.is_file():
            continue
        reached.add(page)
        frontier += [(page.parent / t.partition("#")[0]).resolve() for t in links(page)]
    assert set(DOCS.glob("*.md")) - reached == set()


def test_readme_links_the_index():
    assert "docs/index.md" in links(REPO / "README.md")


def test_anchors_follow_githubs_rules(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# The paper's protocol as a command\n## OGBench: when (`success_timing`)\n"
                    "## Notes\n## Notes\n```\n# not a heading\n```\n")
    assert anchors(page) == {"the-papers-protocol-as-a-command",
                             "ogbench-when-success_timing", "notes", "notes-1"}
