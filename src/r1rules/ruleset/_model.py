"""Validated rule objects: what a rule file means once it has been checked.

A rule set is a sequence of decision tables. Each table has a hit policy and rules; each
rule's condition is a conjunction of tests on facts (a box in the fact space), and its
consequences set facts, add notes, warnings and alternatives. Tables are ordered into
strata so that every fact a table reads is known before it runs (forward chaining).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from types import MappingProxyType

import attrs

from r1rules._errors import Problem, suggest
from r1rules._vocabulary import FactSpec
from r1rules.catalog import Catalog
from r1rules.ruleset._placeholders import placeholders

__all__ = [
    "Alternative",
    "Assignment",
    "HitPolicy",
    "LoadOrigin",
    "Rule",
    "RuleSet",
    "Table",
    "Test",
    "Value",
]

Scalar = float | int | str | bool
Value = Scalar | tuple[str, ...]


class HitPolicy(str, enum.Enum):
    """How many rules of a table may fire for one workload (DMN hit policies).

    A member equals (and formats as) its name in the rule files: ``HitPolicy.FIRST ==
    "first"``; ``HitPolicy("uniqe")`` raises ValueError.
    """

    UNIQUE = "unique"  # at most one rule matches (exactly one when the table is complete)
    FIRST = "first"  # the first matching rule in table order wins; later matches are suppressed
    ANY = "any"  # several may match, but they must set the same values
    COLLECT = "collect"  # every matching rule applies (notes, warnings)

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)


def _read_only(value: Mapping[str, FactSpec]) -> Mapping[str, FactSpec]:
    """A read-only copy: a rule set's vocabulary is shared by every evaluation."""
    return MappingProxyType(dict(value))


OPERATORS = ("eq", "ne", "in", "not_in", "lt", "lte", "gt", "gte")
RANGE_OPERATORS = frozenset({"lt", "lte", "gt", "gte"})


@attrs.frozen
class Test:
    """One comparison: ``fact <op> value`` (``value`` is a tuple for ``in``/``not_in``)."""

    fact: str
    op: str
    value: Value

    def describe(self) -> str:
        symbol = {
            "eq": "==",
            "ne": "!=",
            "lt": "<",
            "lte": "<=",
            "gt": ">",
            "gte": ">=",
            "in": "in",
            "not_in": "not in",
        }[self.op]
        value = list(self.value) if isinstance(self.value, tuple) else self.value
        return f"{self.fact} {symbol} {value!r}"


@attrs.frozen
class Assignment:
    """``fact = value``, or ``fact = <the current value of from_fact>`` when from_fact is set."""

    fact: str
    value: Value | None
    from_fact: str = ""


@attrs.frozen
class Alternative:
    """An alternative part the article offers beside its main choice."""

    part: str
    text: str
    rule_id: str = ""


@attrs.frozen
class Rule:
    """One rule, with its provenance; ``index`` is its global firing position."""

    id: str
    title: str
    source: str
    why: str
    table_id: str
    file: str
    index: int
    tests: tuple[Test, ...]
    sets: tuple[Assignment, ...]
    notes: tuple[str, ...]
    warnings: tuple[str, ...]
    alternatives: tuple[Alternative, ...]
    # Facts its condition reads, in first-use order (derived; kept for the hot path).
    condition_facts: tuple[str, ...] = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(
            self, "condition_facts", tuple(dict.fromkeys(t.fact for t in self.tests))
        )

    @property
    def reads(self) -> tuple[str, ...]:
        """Every fact it needs: conditions, copied values and text placeholders."""
        names = list(self.condition_facts)
        names += [a.from_fact for a in self.sets if a.from_fact]
        for text in self.notes + self.warnings:
            names += [name for name, _ in placeholders(text)]
        return tuple(dict.fromkeys(names))

    @property
    def set_facts(self) -> tuple[str, ...]:
        return tuple(a.fact for a in self.sets)


def _rules(value: Iterable[Rule]) -> tuple[Rule, ...]:
    return tuple(value)


@attrs.frozen
class Table:
    """A decision table: rules sharing a hit policy; ``stratum`` orders it among tables."""

    id: str
    title: str
    hit_policy: HitPolicy = attrs.field(converter=HitPolicy)
    complete: bool
    file: str
    rules: tuple[Rule, ...] = attrs.field(converter=_rules)
    stratum: int

    @property
    def set_facts(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(f for r in self.rules for f in r.set_facts))


def _tables(value: Iterable[Table]) -> tuple[Table, ...]:
    return tuple(value)


def _problems(value: Iterable[Problem]) -> tuple[Problem, ...]:
    return tuple(value)


@attrs.frozen(eq=False)
class RuleSet:
    """A validated, ordered rule set with the catalog and fact vocabulary it was checked against.

    ``version`` is a content hash of the rule and catalog data; two rule sets with the same
    version decide every workload the same way. ``sizing_stratum`` is the stratum after
    which the sizing physics runs. ``findings`` holds the static checker's warnings.
    Nothing in it can change: ``tables`` and ``findings`` are tuples, ``facts`` and
    ``rules_by_id`` read-only mappings.
    """

    tables: tuple[Table, ...] = attrs.field(converter=_tables)
    facts: Mapping[str, FactSpec] = attrs.field(converter=_read_only)
    catalog: Catalog
    version: str
    files: tuple[str, ...]
    sizing_stratum: int
    findings: tuple[Problem, ...] = attrs.field(default=(), converter=_problems)
    # How it was loaded (the arguments of load_rules), so that it pickles as a reload.
    origin: LoadOrigin | None = None
    rules_by_id: Mapping[str, Rule] = attrs.field(init=False, repr=False)
    # (stratum, its tables in order) for every stratum 1..strata; derived, for the hot path
    by_stratum: tuple[tuple[int, tuple[Table, ...]], ...] = attrs.field(init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        index = {rule.id: rule for table in self.tables for rule in table.rules}
        object.__setattr__(self, "rules_by_id", MappingProxyType(index))
        top = max((t.stratum for t in self.tables), default=0)
        layers = tuple(
            (s, tuple(t for t in self.tables if t.stratum == s)) for s in range(1, top + 1)
        )
        object.__setattr__(self, "by_stratum", layers)

    @property
    def rules(self) -> tuple[Rule, ...]:
        return tuple(self.rules_by_id.values())

    @property
    def strata(self) -> int:
        return max((t.stratum for t in self.tables), default=0)

    def rule(self, rule_id: str) -> Rule:
        """The rule with that id; KeyError names close ids when there is none."""
        try:
            return self.rules_by_id[rule_id]
        except KeyError:
            raise KeyError(
                f"no rule {rule_id!r} in this rule set{suggest(rule_id, self.rules_by_id)}"
            ) from None

    def table(self, table_id: str) -> Table:
        for table in self.tables:
            if table.id == table_id:
                return table
        raise KeyError(f"no table {table_id!r} in this rule set")


@attrs.frozen
class LoadOrigin:
    """The arguments a RuleSet was loaded with; ``catalog`` only when one was passed in."""

    paths: tuple[str, ...]
    include_shipped: bool
    check: bool
    catalog: Catalog | None = None
