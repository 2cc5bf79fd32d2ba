"""Checks inside one decision table: dead and shadowed rules, gaps, overlaps, conflicts.

Each check works on the table's own fact space (see ``_check_space``): the facts its rules
test, cut at every bound they name.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence

from r1rules.check._cover import uncovered
from r1rules.check._domain import Domains
from r1rules.check._finding import ERROR, WARNING, Finding
from r1rules.check._pairs import BoxIndex, bits, meeting
from r1rules.check._setting import differing, differing_setters, show_assignment
from r1rules.check._space import Box, Column, Space, intersect, is_empty
from r1rules.ruleset import HitPolicy, Rule, Table, Test

__all__ = ["check_table", "differing", "show_assignment"]

GAP_LIMIT = 16  # gap regions reported per table; a rule set with more needs rework anyway


def check_table(table: Table, domains: Domains) -> Iterator[Finding]:
    """Every finding about one table, rule order first, then the table's gaps."""
    space = Space.of(table.rules, domains)
    boxes = [space.box(rule) for rule in table.rules]
    live = [(rule, box) for rule, box in zip(table.rules, boxes, strict=True) if not is_empty(box)]
    for rule, box in zip(table.rules, boxes, strict=True):
        if is_empty(box):
            yield _dead(rule, box, space, domains)
    if table.hit_policy == HitPolicy.FIRST:
        yield from _shadowed(table, live, space)
    if table.hit_policy == HitPolicy.UNIQUE:
        yield from _overlaps(table, live, space)
    if table.hit_policy in (HitPolicy.ANY, HitPolicy.COLLECT):
        yield from _conflicts(table, live, space)
    if table.complete:
        yield from _gaps(table, [box for _, box in live], space)


def _dead(rule: Rule, box: Box, space: Space, domains: Domains) -> Finding:
    """A rule no valid input satisfies: name the tests that cannot hold together."""
    reasons = []
    for column, atoms in zip(space.columns, box, strict=True):
        if atoms:
            continue
        tests = [t for t in rule.tests if t.fact == column.name]
        shown = " and ".join(t.describe() for t in tests)
        if len(tests) > 1 and _contradict(column, tests, domains):
            reasons.append(f"{shown} contradict each other")
        else:
            reasons.append(
                f"{shown} is outside the domain ({column.domain.describe()})"
                if len(tests) == 1
                else f"{shown} leave no value ({column.domain.describe()})"
            )
    return Finding(
        ERROR,
        "dead",
        rule.file,
        (rule.id,),
        rule.table_id,
        "no valid input satisfies its condition: " + "; ".join(reasons),
    )


def _contradict(column: Column, tests: Sequence[Test], domains: Domains) -> bool:
    """Whether the tests exclude each other even on an unbounded, unrestricted domain."""
    loose = Column.build(domains.loose(column.name, tests), tests)
    return not loose.accepting(tests)


def _shadowed(table: Table, live: Sequence[tuple[Rule, Box]], space: Space) -> Iterator[Finding]:
    """In a `first` table, a rule whose every input an earlier rule already takes."""
    index = BoxIndex([box for _, box in live], space.full, within=True)
    for position, (rule, box) in enumerate(live):
        met = index.meets[position] & ((1 << position) - 1)  # the earlier rules it meets
        if not met:
            continue
        # Taken by one earlier rule that holds it all, or else by several together; an
        # input at a corner of the rule's box that no earlier rule takes answers "no" at once.
        if not index.holders[position] & met:
            if any(not index.cell(corner) & met for corner in _corners(box)):
                continue
            if uncovered(box, [live[j][1] for j in bits(met)], limit=1)[0]:
                continue
        names = ", ".join(repr(live[j][0].id) for j in bits(met))
        yield Finding(
            WARNING,
            "shadowed",
            rule.file,
            (rule.id,),
            table.id,
            f"never fires: every input it matches is taken first by {names} in "
            f"first table {table.id!r}",
            space.example(box, [rule]),
        )


def _corners(box: Box, most: int = 16) -> Iterator[tuple[int, ...]]:
    """Up to ``most`` cells of the box taking each column's first or last atom."""
    ends = [sorted({min(atoms), max(atoms)}) for atoms in box]
    return itertools.islice(itertools.product(*ends), most)


def _overlaps(table: Table, live: Sequence[tuple[Rule, Box]], space: Space) -> Iterator[Finding]:
    """In a `unique` table, two rules that can match the same input."""
    meets = meeting([box for _, box in live], space.full)
    for i, (first, box_a) in enumerate(live):
        for j in bits(meets[i] >> (i + 1)):
            second, box_b = live[i + 1 + j]
            both = intersect(box_a, box_b)
            yield Finding(
                ERROR,
                "overlap",
                second.file,
                (first.id, second.id),
                table.id,
                f"both match {space.describe(both)} in unique table {table.id!r}",
                space.example(both, [first, second]),
            )


def _conflicts(table: Table, live: Sequence[tuple[Rule, Box]], space: Space) -> Iterator[Finding]:
    """In an `any` or `collect` table, two rules that fire together and set a fact apart."""
    setters = [(rule, box) for rule, box in live if rule.sets]
    meets = meeting([box for _, box in setters], space.full)
    apart = differing_setters([rule for rule, _ in setters])
    for i, (first, box_a) in enumerate(setters):
        for j in bits((meets[i] & apart[i]) >> (i + 1)):
            second, box_b = setters[i + 1 + j]
            both = intersect(box_a, box_b)
            for a in first.sets:
                for b in second.sets:
                    if a.fact == b.fact and differing(a, b):
                        yield Finding(
                            ERROR,
                            "conflict",
                            second.file,
                            (first.id, second.id),
                            table.id,
                            f"both fire when {space.describe(both)} in {table.hit_policy} table "
                            f"{table.id!r} and set {a.fact!r} to different values "
                            f"({show_assignment(a)} and {show_assignment(b)})",
                            space.example(both, [first, second]),
                        )


def _gaps(table: Table, boxes: list[Box], space: Space) -> Iterator[Finding]:
    """In a complete table, the regions of its fact space that no rule covers."""
    missing, truncated = uncovered(space.full, boxes, limit=GAP_LIMIT)
    more = f" (search stopped after {GAP_LIMIT} regions; more may be missing)" if truncated else ""
    for region in missing:
        yield Finding(
            ERROR,
            "gap",
            table.file,
            (),
            table.id,
            f"no rule matches {space.describe(region)} in complete table {table.id!r}{more}",
            space.example(region),
        )
