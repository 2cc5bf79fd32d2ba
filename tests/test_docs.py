"""The article ships with the project: every seed and seed-audit section the rules cite is a
heading of docs/seed.md or docs/seed-audit.md, and the docs' own links resolve."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import tomli

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
DOC_OF = {"seed": DOCS / "seed.md", "seed-audit": DOCS / "seed-audit.md"}
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
SECTION = re.compile(r"§(\d+(?:\.\d+)*)")
# a citation in free text: "seed §2.1", "Seed §3.1, §3.2", "seed-audit §5", "seed §2.1 / §3.1"
CITED_RUN = re.compile(
    r"\b(seed-audit|seed)\s+(§\d+(?:\.\d+)*(?:\s*(?:,|/|and|or)\s*§\d+(?:\.\d+)*)*)",
    re.IGNORECASE,
)
TEXT_KEYS = ("source", "warn", "note", "why", "title", "description")


def headings(path: Path) -> list[str]:
    return HEADING.findall(path.read_text(encoding="utf-8"))


def sections(path: Path) -> set[str]:
    """The section numbers of a doc's headings (``## §1.1 Editions`` -> ``1.1``)."""
    found = set()
    for title in headings(path):
        match = re.match(r"§(\d+(?:\.\d+)*)\b", title)
        if match:
            found.add(match.group(1))
    return found


def slug(title: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    kept = re.sub(r"[^\w\- ]", "", title.lower(), flags=re.UNICODE)
    return kept.replace(" ", "-")


def citations(text: str, *, source: bool) -> Iterator[tuple[str, str]]:
    """(doc, cited) pairs: ``("seed", "2.1")``, or a named section (``("seed", "closing
    advice")``). In a ``source``, each ``;``-separated clause that starts with ``seed`` or
    ``seed-audit`` cites every § in it; in other text, only runs such as ``seed §2.1, §3.1``."""
    if source:
        for clause in text.split(";"):
            clause = clause.strip()
            match = re.match(r"(seed-audit|seed)\b\s*(.*)", clause, re.IGNORECASE)
            if not match:
                continue
            doc, rest = match.group(1).lower(), match.group(2)
            numbers = SECTION.findall(rest)
            if numbers:
                yield from ((doc, n) for n in numbers)
            elif rest:
                yield doc, rest.strip().lower()
        return
    for match in CITED_RUN.finditer(text):
        yield from ((match.group(1).lower(), n) for n in SECTION.findall(match.group(2)))


def missing(cited: Iterator[tuple[str, str]]) -> set[tuple[str, str]]:
    """The citations that no heading of the docs answers."""
    numbered = {doc: sections(path) for doc, path in DOC_OF.items()}
    titles = {doc: [t.lower() for t in headings(path)] for doc, path in DOC_OF.items()}
    return {
        (doc, name)
        for doc, name in cited
        if name not in numbered[doc] and not any(t.startswith(name) for t in titles[doc])
    }


def rule_texts() -> Iterator[tuple[str, str, str]]:
    """(file, key, text) for every string under a TEXT_KEYS key in the shipped rule files
    and catalog files."""

    def walk(node: object, key: str, file: str) -> Iterator[tuple[str, str, str]]:
        if isinstance(node, dict):
            for k, v in node.items():
                yield from walk(v, k, file)
        elif isinstance(node, list):
            for item in node:
                yield from walk(item, key, file)
        elif isinstance(node, str) and key in TEXT_KEYS:
            yield file, key, node

    for path in sorted((ROOT / "rules").rglob("*.toml")):
        with path.open("rb") as handle:
            yield from walk(tomli.load(handle), "", str(path.relative_to(ROOT)))


def all_citations() -> list[tuple[str, str]]:
    return [
        cited
        for _file, key, text in rule_texts()
        for cited in citations(text, source=key == "source")
    ]


def test_the_docs_exist_with_their_sections() -> None:
    assert {"1.1", "1.2", "2.1", "2.2", "2.3", "3.1", "4.3", "5", "6.1", "7"} <= sections(
        DOC_OF["seed"]
    )
    assert {"2.1", "2.2", "3.1", "3.2", "4.1", "4.2", "5", "7"} <= sections(DOC_OF["seed-audit"])


def test_every_section_the_rules_cite_is_a_heading_in_the_docs() -> None:
    cited = all_citations()
    # the scan really reads the rules: both docs are cited, by number and by name
    assert len({c for c in cited if c[0] == "seed"}) >= 10
    assert len({c for c in cited if c[0] == "seed-audit"}) >= 5
    assert ("seed", "closing advice") in cited
    assert missing(iter(cited)) == set()


@pytest.mark.parametrize(
    ("text", "source", "expected"),
    [
        ("seed §1.1, §5", True, {("seed", "1.1"), ("seed", "5")}),
        ("seed §2.1 / §3.1; physics", True, {("seed", "2.1"), ("seed", "3.1")}),
        ("physics; seed-audit §5", True, {("seed-audit", "5")}),
        ("seed closing advice; seed §4.3", True, {("seed", "closing advice"), ("seed", "4.3")}),
        ("DeepSeek open-infra-index day 6", True, set()),
        (
            "Seed §3.1 says so (seed-audit §3.1; reference).",
            False,
            {("seed", "3.1"), ("seed-audit", "3.1")},
        ),
    ],
)
def test_citations_are_read(text: str, source: bool, expected: set[tuple[str, str]]) -> None:
    assert set(citations(text, source=source)) == expected


def test_a_citation_of_a_missing_section_is_caught() -> None:
    planted = [("seed", "9.9"), ("seed-audit", "6.4"), ("seed", "epilogue"), ("seed", "5")]
    assert missing(iter(planted)) == {("seed", "9.9"), ("seed-audit", "6.4"), ("seed", "epilogue")}


def test_the_docs_links_resolve() -> None:
    """Every relative link of docs/*.md names a file there and, with #anchor, a heading."""
    link = re.compile(r"\]\(([^)#\s]+\.md)?(?:#([^)\s]+))?\)")
    broken = []
    for path in sorted(DOCS.glob("*.md")):
        for target, anchor in link.findall(path.read_text(encoding="utf-8")):
            linked = DOCS / target if target else path
            if not linked.exists():
                broken.append(f"{path.name}: {target}")
            elif anchor and anchor not in {slug(t) for t in headings(linked)}:
                broken.append(f"{path.name}: {target}#{anchor}")
    assert broken == []


def test_the_summary_is_not_a_copy_of_the_article() -> None:
    """docs/seed.md is the project's own summary: no long run of words from the English
    rendering of the article (when that rendering is at hand)."""
    rendering = ROOT.parent / "shared" / "seed" / "hardware-guide.en.md"
    if not rendering.exists():
        pytest.skip("the article's rendering is not beside the project")
    words = re.findall(r"\w+", rendering.read_text(encoding="utf-8").lower())
    runs = {" ".join(words[i : i + 12]) for i in range(len(words) - 11)}
    ours = re.findall(r"\w+", DOC_OF["seed"].read_text(encoding="utf-8").lower())
    copied = [" ".join(ours[i : i + 12]) for i in range(len(ours) - 11)]
    assert [run for run in copied if run in runs] == []
