"""The values each fact can take, as the rule checker sees them (exact numbers, no floats).

Workload and sizing facts take their whole declared domain. Facts set by rules take only
the values some rule sets (a copied value stands for its source's values). A fact may be
absent when its spec is optional, or when it is set by rules and no complete table sets it
in every rule. Numbers are compared as ``Fraction(str(x))`` so float artefacts (0.1 + 0.2)
cannot open phantom gaps.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Sequence
from fractions import Fraction

import attrs

from r1rules._vocabulary import FactSpec, Kind, Producer
from r1rules.check._finding import show_value
from r1rules.ruleset import Assignment, RuleSet, Test, enum_values

__all__ = [
    "OTHER_MODEL",
    "Domain",
    "Domains",
    "Member",
    "Num",
    "condition_key",
    "exact",
    "member_keys",
    "satisfies",
    "value_key",
]

Num = Fraction | float  # a float only for -inf and inf
Member = str | bool | Fraction  # one value of a finite domain

# Stands for every model id outside the catalog: a workload may give params_b instead of a
# catalog model, and its model fact is then "generic-<N>b".
OTHER_MODEL = "generic-7b"
_UNNAMED = "\x00unnamed"  # a value no test names, for the loose domain


def exact(value: float | int) -> Num:
    """The number as written in decimal, exactly (infinities stay floats)."""
    if type(value) is int:
        return Fraction(value)
    if isinstance(value, float) and math.isinf(value):
        return value
    return Fraction(str(value))


def _same(member: Member, value: object) -> bool:
    if isinstance(member, Fraction):
        return (
            isinstance(value, (int, float))
            and not isinstance(value, bool)
            and member == exact(value)
        )
    return type(member) is type(value) and member == value


def value_key(value: object) -> tuple[str, object]:
    """A value as a set member that compares as ``_same`` does: numbers exactly, bools and
    strings only with their own kind (so ``True`` is not ``1``). A whole number is keyed
    as an int (equal to its Fraction, with the same hash, and much faster to hash)."""
    if isinstance(value, bool):
        return ("b", value)
    if type(value) is int:
        return ("n", value)
    if isinstance(value, (int, float, Fraction)):
        number = value if isinstance(value, Fraction) else exact(value)
        if isinstance(number, Fraction) and number.denominator == 1:
            return ("n", number.numerator)
        return ("n", number)
    return ("s", value)


# Membership lists seen, by identity (a tuple equal to another may differ in kind: (True,)
# == (1,)); each entry keeps its tuple alive, so an id is never reused while it is cached.
_KEYS: dict[int, tuple[tuple[object, ...], frozenset[tuple[str, object]]]] = {}


def member_keys(values: tuple[object, ...]) -> frozenset[tuple[str, object]]:
    """A membership list's values as a set, built once per list: a test of a 10,000-value
    list is one lookup, not 10,000 exact comparisons (the checker tests it many times)."""
    cached = _KEYS.get(id(values))
    if cached is not None and cached[0] is values:
        return cached[1]
    keys = frozenset(value_key(v) for v in values)
    if len(_KEYS) >= 4096:
        _KEYS.clear()
    _KEYS[id(values)] = (values, keys)
    return keys


def satisfies(test: Test, value: Member | None) -> bool:
    """Whether ``test`` holds for the fact taking ``value`` (None: absent, so never)."""
    if value is None:
        return False
    if test.op in ("in", "not_in"):
        assert isinstance(test.value, tuple)
        inside = value_key(value) in member_keys(test.value)
        return inside if test.op == "in" else not inside
    if test.op in ("eq", "ne"):
        return _same(value, test.value) == (test.op == "eq")
    if not isinstance(value, Fraction):
        return False
    assert isinstance(test.value, (int, float)) and not isinstance(test.value, bool)
    bound = exact(test.value)
    return {"lt": value < bound, "lte": value <= bound, "gt": value > bound, "gte": value >= bound}[
        test.op
    ]


def condition_key(test: Test) -> Hashable:
    """A key two tests share only when they hold on exactly the same values (a membership
    list by its set of values, so ``in [1, 2]`` and ``in [2.0, 1]`` share one)."""
    if test.op in ("in", "not_in") and isinstance(test.value, tuple):
        return (test.op, member_keys(test.value))
    return (test.op, type(test.value), test.value)


def show_number(value: Num) -> str:
    if isinstance(value, float):
        return "inf" if value > 0 else "-inf"
    return str(value.numerator) if value.denominator == 1 else repr(float(value))


@attrs.frozen
class Domain:
    """The values one fact can take.

    ``members`` lists a finite domain in order (enum and bool values, or the numbers rules
    set); it is None for a numeric interval ``[low, high]`` (whole numbers when
    ``integer``). ``absent``: the fact may have no value. ``settable``: the members are
    what rules set, not the fact's declared domain.
    """

    name: str
    kind: str
    members: tuple[Member, ...] | None
    low: Num = -math.inf
    high: Num = math.inf
    integer: bool = False
    absent: bool = False
    settable: bool = False

    def describe(self) -> str:
        """The domain in words, for messages about unsatisfiable conditions."""
        if self.members is not None:
            shown = ", ".join(show_value(m) for m in self.members) or "no value"
            origin = "only the values rules set: " if self.settable else ""
            return f"{self.name} takes {origin}{shown}"
        what = "whole numbers" if self.integer else "numbers"
        return f"{self.name} takes {what} in [{show_number(self.low)}, {show_number(self.high)}]"


class Domains:
    """The domain of every fact of one rule set, computed on first use (cost: one pass over
    the rules, then a dictionary look-up per fact)."""

    def __init__(self, rules: RuleSet) -> None:
        self._rules = rules
        self._cache: dict[str, Domain] = {}
        self._setters: dict[str, list[Assignment]] = {}
        for rule in rules.rules:
            for assignment in rule.sets:
                self._setters.setdefault(assignment.fact, []).append(assignment)
        self._always_set = {
            name
            for table in rules.tables
            if table.complete and table.rules
            for name in table.set_facts
            if all(name in rule.set_facts for rule in table.rules)
        }

    def __getitem__(self, name: str) -> Domain:
        if name not in self._cache:
            self._cache[name] = self._domain(self._rules.facts[name])
        return self._cache[name]

    def _declared(self, spec: FactSpec) -> tuple[Member, ...] | None:
        if spec.kind == Kind.BOOL:
            return (True, False)
        if spec.kind == Kind.ENUM:
            values = enum_values(spec, self._rules.catalog)
            return (*values, OTHER_MODEL) if spec.values_from == "models" else values
        return None

    def _domain(self, spec: FactSpec) -> Domain:
        low, high = exact(spec.low), exact(spec.high)
        declared = self._declared(spec)
        if spec.producer != Producer.RULES:
            return Domain(spec.name, spec.kind, declared, low, high, spec.integer, spec.optional)
        absent = spec.optional or spec.name not in self._always_set
        members, whole = self._settable(spec.name, frozenset())
        if whole or (declared is None and spec.kind != Kind.NUMBER):
            return Domain(spec.name, spec.kind, declared, low, high, spec.integer, absent)
        if declared is not None:  # keep the declared order, then anything else rules set
            members = [m for m in declared if m in members] + [
                m for m in members if m not in declared
            ]
        return Domain(
            spec.name, spec.kind, tuple(members), low, high, spec.integer, absent, settable=True
        )

    def loose(self, name: str, tests: Sequence[Test]) -> Domain:
        """The fact's domain stripped of every limit but its type: unbounded real numbers,
        or every value its tests name; used to tell contradictory tests from tests that
        merely miss the domain."""
        kind = self[name].kind
        if kind == Kind.NUMBER:
            return Domain(name, kind, None)
        named: list[Member] = [
            v
            for t in tests
            for v in (t.value if isinstance(t.value, tuple) else (t.value,))
            if isinstance(v, (str, bool))
        ]
        return Domain(name, kind, (*dict.fromkeys(named), _UNNAMED))

    def _settable(self, name: str, visiting: frozenset[str]) -> tuple[list[Member], bool]:
        """The values rules set on ``name``, and whether a copy makes it the whole domain."""
        members: list[Member] = []
        whole = False
        for assignment in self._setters.get(name, ()):
            if assignment.from_fact:
                source = self._rules.facts[assignment.from_fact]
                if (
                    source.producer != Producer.RULES
                    or source.name in visiting
                    or source.kind == Kind.NUMBER
                ):
                    whole = True
                    continue
                found, source_whole = self._settable(source.name, visiting | {name})
                members += found
                whole = whole or source_whole
            else:
                members += _members(assignment.value)
        return list(dict.fromkeys(members)), whole


def _members(value: object) -> Iterable[Member]:
    if isinstance(value, (bool, str)):
        return (value,)
    if isinstance(value, (int, float)):
        number = exact(value)
        return (number,) if isinstance(number, Fraction) else ()
    return ()
