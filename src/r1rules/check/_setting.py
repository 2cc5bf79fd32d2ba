"""What rules set: whether two assignments may disagree, and which rules may disagree at all.

``differing_setters`` narrows the pairs of rules the conflict checks look at (as bits, like
``_pairs.meeting``) to those that set a common fact, not both to the same literal nor both
from the same fact; the exact test, ``differing``, then decides each pair it leaves.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

from r1rules.ruleset import Assignment, Rule

__all__ = ["differing", "differing_setters", "show_assignment"]


def differing(a: Assignment, b: Assignment) -> bool:
    """Whether two assignments to one fact may give it different values."""
    if a.from_fact and b.from_fact:
        return a.from_fact != b.from_fact
    if a.from_fact or b.from_fact:
        return True
    return a.value != b.value


def show_assignment(assignment: Assignment) -> str:
    if assignment.from_fact:
        return f"the value of {assignment.from_fact!r}"
    value = assignment.value
    return repr(list(value) if isinstance(value, tuple) else value)


def differing_setters(rules: Sequence[Rule]) -> list[int]:
    """For each rule, the rules (bit ``j``: ``rules[j]``) that set a fact it sets and may
    give it another value: every rule ``differing`` finds apart from it, and maybe more."""
    setting: dict[str, int] = {}  # fact -> the rules setting it
    alike: dict[Hashable, int] = {}  # what an assignment gives -> the rules giving it
    unusual = 0  # rules setting one fact twice: never left out
    for j, rule in enumerate(rules):
        facts = [a.fact for a in rule.sets]
        if len(set(facts)) != len(facts):
            unusual |= 1 << j
        for b in rule.sets:
            setting[b.fact] = setting.get(b.fact, 0) | 1 << j
            key = _giving(b)
            if key is not None:
                alike[key] = alike.get(key, 0) | 1 << j
    found = []
    for rule in rules:
        mask = 0
        for a in rule.sets:
            key = _giving(a)
            same = alike.get(key, 0) & ~unusual if key is not None else 0
            mask |= setting[a.fact] & ~same
        found.append(mask)
    return found


def _giving(assignment: Assignment) -> Hashable | None:
    """A key two assignments share only if ``differing`` finds them alike (None: none)."""
    if assignment.from_fact:
        return (assignment.fact, "copy", assignment.from_fact)
    value = assignment.value
    try:
        hash(value)
    except TypeError:
        return None
    if value != value:  # nan: unequal even to itself
        return None
    return (assignment.fact, "value", value)
