"""What firing one rule needs, worked out once per rule set (``Fired``)."""

from __future__ import annotations

from r1rules.ruleset import Rule
from r1rules.ruleset._placeholders import compile_text

__all__ = ["EXCLUDED_FACT", "Fired", "excludes"]

EXCLUDED_FACT = "option_excluded"  # a rule that sets it to true excludes the option


class Fired:
    """What firing one rule needs, worked out once per rule set: the facts its condition
    reads, its assignments (as pairs when none copies a fact), its texts parsed."""

    __slots__ = (
        "alternatives",
        "assignments",
        "constant",
        "excludes",
        "id",
        "index",
        "more",
        "names",
        "notes",
        "positions",
        "read",
        "rule",
        "table_id",
        "texts",
        "warnings",
    )

    def __init__(self, rule: Rule, read: tuple[str, ...]) -> None:
        self.rule = rule
        # the facts every rule of its stratum reads (one tuple per stratum), and where its
        # own are among them: a trace step keeps the stratum's values, read once
        self.read = read
        self.positions = tuple(read.index(name) for name in rule.condition_facts)
        self.id = rule.id
        self.index = rule.index  # its place in the rule set: a table's rules apply in it
        self.table_id = rule.table_id
        self.names = rule.condition_facts
        self.excludes = any(a.fact == EXCLUDED_FACT for a in rule.sets)
        # (fact, the fact it copies or "", value) for each assignment
        self.assignments: tuple[tuple[str, str, object], ...] = tuple(
            (a.fact, a.from_fact, a.value) for a in rule.sets
        )
        self.constant: tuple[tuple[str, object], ...] | None = (
            None
            if any(a.from_fact for a in rule.sets)
            else tuple((a.fact, a.value) for a in rule.sets)
        )
        self.notes = tuple(compile_text(text) for text in rule.notes)
        self.warnings = tuple(compile_text(text) for text in rule.warnings)
        self.texts = bool(self.notes or self.warnings)
        self.alternatives = rule.alternatives
        # anything to do beyond the trace and the sets (a warning is a text)
        self.more = bool(self.excludes or self.texts or self.alternatives)


def excludes(sets: tuple[tuple[str, object], ...]) -> bool:
    """Whether what a rule set (``sets``: fact, value) excludes the option: it set
    ``EXCLUDED_FACT`` to true."""
    return any(name == EXCLUDED_FACT and value is True for name, value in sets)
