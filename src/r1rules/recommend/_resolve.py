"""A stratum's firings resolved under each table's hit policy, worked out once per distinct
set of firings (``Resolution``): which rules apply, in what order, which are suppressed,
which table is left with a gap or breaks its policy. ``Run.apply`` then only applies it.

Nothing here reads a fact: what the firings mean for one run's facts (a value copied from a
fact, a text's values, a gap's message) is left to ``Run.apply``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from r1rules.recommend._fired import Fired, excludes
from r1rules.ruleset import Alternative, HitPolicy, Table

__all__ = ["Group", "Resolution", "Resolutions"]


class Group:
    """One table's part: ``firing`` applies in rule order; ``suppressed`` matched but a
    ``first`` table fires only its first; ``collect``: several rules of an ``any`` or
    ``collect`` table apply, and what they set must agree; ``fault``: the table is
    complete and no rule matched (``"gap"``) or it is unique and several did
    (``"unique"``): ``Run.apply`` raises there, after the groups before it applied."""

    __slots__ = ("collect", "fault", "firing", "matched", "policy", "suppressed", "table")

    def __init__(self, table: Table, matched: Sequence[Fired]) -> None:
        self.table = table
        self.policy = table.hit_policy
        self.matched = tuple(matched)
        self.fault = ""
        self.collect = False
        self.suppressed: tuple[Fired, ...] = ()
        self.firing: tuple[Fired, ...] = self.matched
        if not matched:
            self.fault = "gap"
        elif len(matched) == 1:
            pass
        elif self.policy is HitPolicy.FIRST:
            self.firing, self.suppressed = self.matched[:1], self.matched[1:]
        elif self.policy is HitPolicy.UNIQUE:
            self.fault = "unique"
        else:
            self.collect = True


class Resolution:
    """A stratum's firings resolved: its ``groups`` in table order. ``plain``: no fault,
    and no two rules of one table can set a fact to different values (none of a table
    whose rules may all fire copies a fact, and their constants agree); then
    ``assignments`` is every (fact, the fact it copies or "", value) the firing rules
    make, in order (``sources``: the facts copied), and ``excluded``, ``warned`` and
    ``alternatives`` are what a run records: all a run that keeps no texts nor trace
    needs (``Run.apply``'s short way)."""

    __slots__ = (
        "alternatives",
        "assignments",
        "excluded",
        "groups",
        "plain",
        "sources",
        "warned",
    )

    def __init__(
        self, tables: Sequence[Table], fired: Sequence[str], rules: Mapping[str, Fired]
    ) -> None:
        by_table: dict[str, list[Fired]] = {}
        for rule_id in fired:
            rule = rules[rule_id]
            by_table.setdefault(rule.table_id, []).append(rule)
        groups = []
        for table in tables:
            matched = by_table.get(table.id)
            if matched is None and not table.complete:
                continue
            # once each, in rule order (the engine's order is not promised)
            groups.append(Group(table, sorted(set(matched or ()), key=_index)))
        self.groups = tuple(groups)
        self.plain = all(not g.fault and _agree(g) for g in groups) and not any(
            r.excludes and r.constant is None for g in groups for r in g.firing
        )  # (whether a rule that copies a value excludes depends on the value)
        assignments: list[tuple[str, str, object]] = []
        excluded: list[str] = []
        warned: list[str] = []
        alternatives: list[Alternative] = []
        for group in groups:
            for rule in group.firing:
                assignments += rule.assignments
                if rule.excludes and excludes(rule.constant or ()):
                    excluded.append(rule.id)
                if rule.warnings:
                    warned.append(rule.id)
                alternatives += rule.alternatives
        self.assignments = tuple(assignments)
        self.sources = tuple(dict.fromkeys(source for _, source, _ in assignments if source))
        self.excluded = tuple(excluded)
        self.warned = tuple(warned)
        self.alternatives = tuple(alternatives)


def _agree(group: Group) -> bool:
    """Whether the rules that fire in a table set every fact to one value, whatever the
    facts (a table whose rules may all fire: none copies a fact, the constants agree)."""
    if not group.collect:
        return True
    seen: dict[str, object] = {}
    for rule in group.firing:
        if rule.constant is None:
            return False
        for name, value in rule.constant:
            if name in seen and seen[name] != value:
                return False
            seen[name] = value
    return True


def _index(rule: Fired) -> int:
    return rule.index


class Resolutions:
    """The resolutions of one rule set's strata, by stratum and firings, at most ``LIMIT``
    (past it, they are worked out again). Each read and write is one dict operation: safe
    from any thread; a Resolution is never changed once made."""

    __slots__ = ("_known", "rules")

    LIMIT = 1 << 14

    def __init__(self, rules: Mapping[str, Fired]) -> None:
        self.rules = rules
        self._known: dict[tuple[int, tuple[str, ...]], Resolution] = {}

    def known(self) -> tuple[Resolution, ...]:
        """The resolutions made and kept (for tests and benchmarks)."""
        return tuple(self._known.values())

    def forget(self) -> None:
        self._known.clear()

    def of(self, stratum: int, tables: Sequence[Table], fired: Sequence[str]) -> Resolution:
        key = (stratum, fired if isinstance(fired, tuple) else tuple(fired))
        known = self._known.get(key)
        if known is None:
            known = Resolution(tables, fired, self.rules)
            if len(self._known) >= self.LIMIT:
                self._known.clear()
            self._known[key] = known
        return known
