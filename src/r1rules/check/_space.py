"""The fact space some rules read, cut into atoms, with each rule's condition as a box.

Each fact a rule tests becomes a column. A numeric column is split at every bound its tests
name (and at the domain's bounds) into points and the open intervals between them; an enum
or bool column groups the values no test tells apart; an optional fact adds an "absent"
atom. Every test then holds on a whole atom or on none of it, so a rule's condition is a
box: per column, the set of atoms it accepts. Two rules can match the same input exactly
when their boxes intersect in every column; an input no rule matches is a cell outside
every box. Cost: building a column is O(tests x atoms); a box is O(columns x atoms).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction

import attrs

from r1rules.check._domain import Domain, Domains, Member, Num, satisfies, show_number
from r1rules.check._finding import ExampleValue, show_value
from r1rules.ruleset import Rule, Test

__all__ = ["Box", "Column", "Space", "intersect", "is_empty"]

Box = tuple[frozenset[int], ...]  # per column, the indices of the atoms a condition accepts


@attrs.frozen
class Point:
    """One number; ``named`` when a test names it (else it is a bound of the domain)."""

    value: Fraction
    named: bool


@attrs.frozen
class Span:
    """The open interval (lo, hi); ``sample`` is a simple number inside it."""

    lo: Num
    hi: Num
    sample: Fraction


@attrs.frozen
class Values:
    """Enum or bool values (or numbers rules set) that every test treats alike."""

    members: tuple[Member, ...]


@attrs.frozen
class Absent:
    """The fact has no value."""


Atom = Point | Span | Values | Absent


def _sample(atom: Atom) -> Member | None:
    if isinstance(atom, Point):
        return atom.value
    if isinstance(atom, Span):
        return atom.sample
    if isinstance(atom, Values):
        return atom.members[0]
    return None


def _rank(atom: Atom) -> int:
    """Which atom makes the clearest example: a named bound, a value, an interior, absence."""
    if isinstance(atom, (Values, Point)):
        return 0 if isinstance(atom, Values) or atom.named else 2
    return 1 if isinstance(atom, Span) else 3


def _interior(lo: Num, hi: Num, integer: bool) -> Fraction | None:
    """A simple number strictly between lo and hi (a whole one if ``integer``), or None."""
    if math.isinf(lo) and math.isinf(hi):
        candidate = Fraction(0)
    elif math.isinf(lo):
        candidate = Fraction(math.ceil(hi) - 1)
    else:
        candidate = Fraction(math.floor(lo) + 1)
    if lo < candidate < hi:
        return candidate
    if integer:
        return None
    assert isinstance(lo, Fraction) and isinstance(hi, Fraction)
    return (lo + hi) / 2


def _number_atoms(domain: Domain, tests: Sequence[Test]) -> list[Atom]:
    named: set[Fraction] = set()
    for test in tests:
        for value in test.value if isinstance(test.value, tuple) else (test.value,):
            assert isinstance(value, (int, float)) and not isinstance(value, bool)
            number = Fraction(str(value))
            if domain.low <= number <= domain.high:
                named.add(number)
    bounds = {b for b in (domain.low, domain.high) if isinstance(b, Fraction)}
    atoms: list[Atom] = []
    previous: Num | None = domain.low if math.isinf(domain.low) else None

    def span(lo: Num, hi: Num) -> None:
        inside = _interior(lo, hi, domain.integer)
        if inside is not None:
            atoms.append(Span(lo, hi, inside))

    for point in sorted(named | bounds):
        if previous is not None:
            span(previous, point)
        if not domain.integer or point.denominator == 1:
            atoms.append(Point(point, point in named))
        previous = point
    if math.isinf(domain.high):
        span(-math.inf if previous is None else previous, domain.high)
    return atoms


def _value_atoms(members: Sequence[Member], tests: Sequence[Test]) -> list[Atom]:
    groups: dict[tuple[bool, ...], list[Member]] = {}
    for member in members:
        groups.setdefault(tuple(satisfies(t, member) for t in tests), []).append(member)
    return [Values(tuple(group)) for group in groups.values()]


@attrs.frozen
class Column:
    """One fact's domain cut into atoms by the tests on it."""

    domain: Domain
    atoms: tuple[Atom, ...]

    @classmethod
    def build(cls, domain: Domain, tests: Sequence[Test]) -> Column:
        atoms = (
            _value_atoms(domain.members, tests)
            if domain.members is not None
            else _number_atoms(domain, tests)
        )
        if domain.absent:
            atoms.append(Absent())
        return cls(domain, tuple(atoms))

    @property
    def name(self) -> str:
        return self.domain.name

    @property
    def full(self) -> frozenset[int]:
        return frozenset(range(len(self.atoms)))

    def accepting(self, tests: Sequence[Test]) -> frozenset[int]:
        """The atoms on which every test holds (all atoms, absence too, for no test)."""
        return frozenset(
            i
            for i, atom in enumerate(self.atoms)
            if all(satisfies(t, _sample(atom)) for t in tests)
        )

    def example(self, chosen: frozenset[int]) -> ExampleValue:
        """A concrete value from the chosen atoms (assumed non-empty)."""
        best = min(chosen, key=lambda i: (_rank(self.atoms[i]), i))
        value = _sample(self.atoms[best])
        if isinstance(value, Fraction):
            return value.numerator if value.denominator == 1 else float(value)
        return value

    def describe(self, chosen: frozenset[int]) -> str:
        """The chosen atoms as a condition, e.g. ``7 < size_class_b <= 65``."""
        parts = (
            self._describe_values(chosen)
            if self.domain.members is not None
            else self._describe_numbers(chosen)
        )
        if any(isinstance(self.atoms[i], Absent) for i in chosen):
            parts.append(f"{self.name} absent")
        elif not parts:
            parts.append(f"{self.name} has a value")
        return parts[0] if len(parts) == 1 else "(" + " or ".join(parts) + ")"

    def _describe_values(self, chosen: frozenset[int]) -> list[str]:
        inside = [m for i in sorted(chosen) for m in _members_of(self.atoms[i])]
        outside = [m for i in self.full - chosen for m in _members_of(self.atoms[i])]
        name = self.name
        if not inside or not outside:
            return []
        if len(inside) == 1:
            return [f"{name} = {show_value(inside[0])}"]
        if len(outside) < len(inside):
            if len(outside) == 1:
                return [f"{name} != {show_value(outside[0])}"]
            return [f"{name} not in {{{', '.join(show_value(m) for m in outside)}}}"]
        return [f"{name} in {{{', '.join(show_value(m) for m in inside)}}}"]

    def _describe_numbers(self, chosen: frozenset[int]) -> list[str]:
        numeric = [i for i, a in enumerate(self.atoms) if not isinstance(a, Absent)]
        picked = [i for i in numeric if i in chosen]
        if len(picked) == len(numeric):
            return []
        runs: list[list[int]] = []
        for i in picked:
            if runs and runs[-1][-1] == i - 1:
                runs[-1].append(i)
            else:
                runs.append([i])
        return [self._describe_run(run[0], run[-1], numeric[-1]) for run in runs]

    def _describe_run(self, first: int, last: int, end: int) -> str:
        """Atoms first..last (consecutive, not all of them) as one interval; the domain's own
        bounds are left out."""
        name, low, high = self.name, self.atoms[first], self.atoms[last]
        if first == last and isinstance(low, Point):
            return f"{name} = {show_number(low.value)}"
        lower = None if first == 0 else _bound(low, upper=False)
        upper = None if last == end else _bound(high, upper=True)
        if lower and upper:
            return f"{show_number(lower[1])} {lower[0]} {name} {upper[0]} {show_number(upper[1])}"
        if lower:
            return f"{name} {'>=' if lower[0] == '<=' else '>'} {show_number(lower[1])}"
        assert upper is not None
        return f"{name} {upper[0]} {show_number(upper[1])}"


def _bound(atom: Atom, *, upper: bool) -> tuple[str, Num]:
    """The comparison an interval starting (or ending) at this number atom makes with its edge."""
    if isinstance(atom, Point):
        return ("<=", atom.value)
    assert isinstance(atom, Span)
    return ("<", atom.hi if upper else atom.lo)


def _members_of(atom: Atom) -> tuple[Member, ...]:
    return atom.members if isinstance(atom, Values) else ()


def intersect(a: Box, b: Box) -> Box:
    return tuple(x & y for x, y in zip(a, b, strict=True))


def is_empty(box: Box) -> bool:
    return any(not atoms for atoms in box)


@attrs.frozen
class Space:
    """The columns some rules read, in first-use order."""

    columns: tuple[Column, ...]

    @classmethod
    def of(cls, rules: Sequence[Rule], domains: Domains) -> Space:
        """The space of every fact these rules test, cut at every bound they name."""
        tests: dict[str, list[Test]] = {}
        for rule in rules:
            for test in rule.tests:
                tests.setdefault(test.fact, []).append(test)
        return cls(tuple(Column.build(domains[name], found) for name, found in tests.items()))

    @property
    def full(self) -> Box:
        return tuple(column.full for column in self.columns)

    def box(self, rule: Rule) -> Box:
        """The atoms the rule's condition accepts, per column (empty somewhere: unsatisfiable)."""
        return tuple(
            column.accepting([t for t in rule.tests if t.fact == column.name])
            for column in self.columns
        )

    def describe(self, box: Box) -> str:
        """The box as a condition on the columns it restricts ("any input" for none)."""
        parts = [
            column.describe(atoms)
            for column, atoms in zip(self.columns, box, strict=True)
            if atoms != column.full
        ]
        return ", ".join(parts) if parts else "any input"

    def example(self, box: Box, rules: Sequence[Rule] = ()) -> dict[str, ExampleValue]:
        """A concrete input in a non-empty box: one value per column, or only for the facts
        ``rules`` test when they are given (the other facts may take any value)."""
        wanted = {test.fact for rule in rules for test in rule.tests}
        pairs = zip(self.columns, box, strict=True)
        return {
            column.name: column.example(atoms)
            for column, atoms in pairs
            if not rules or column.name in wanted
        }
