"""The fact space some rules read, cut into atoms, with each rule's condition as a box.

Each fact a rule tests becomes a column, cut into atoms (``_atoms``): every test holds on a
whole atom or on none of it, so a rule's condition is a box: per column, the set of atoms
it accepts. Two rules can match the same input exactly when their boxes intersect in every
column; an input no rule matches is a cell outside every box.

Cost: building a column is O(atoms log atoms + tests x values). The atoms one test accepts
are found without testing every atom (a bound by bisection over the ordered numbers, a
value or a membership list by look-up) and are kept per distinct test, so a box costs
O(columns x tests) look-ups plus the size of the sets it intersects.
"""

from __future__ import annotations

import bisect
from collections.abc import Hashable, Sequence
from fractions import Fraction

import attrs

from r1rules.check._atoms import (
    Absent,
    Atom,
    Point,
    Span,
    Values,
    number_atoms,
    rank,
    sample,
    value_atoms,
)
from r1rules.check._domain import (
    Domain,
    Domains,
    Member,
    Num,
    condition_key,
    exact,
    member_keys,
    satisfies,
    show_number,
    value_key,
)
from r1rules.check._finding import ExampleValue, show_value
from r1rules.ruleset import Rule, Test

__all__ = ["Box", "Column", "Space", "intersect", "is_empty", "runs"]

Box = tuple[frozenset[int], ...]  # per column, the indices of the atoms a condition accepts

_BOUNDS = {"lt", "lte", "gt", "gte"}


@attrs.frozen
class Column:
    """One fact's domain cut into atoms by the tests on it."""

    domain: Domain
    atoms: tuple[Atom, ...]
    # derived: every atom, the atoms with a value, each sample's position (by its value key),
    # the samples of a numeric column in increasing order, and the atoms each test accepts
    full: frozenset[int] = attrs.field(init=False, eq=False, repr=False)
    _present: frozenset[int] = attrs.field(init=False, eq=False, repr=False)
    _position: dict[tuple[str, object], int] = attrs.field(init=False, eq=False, repr=False)
    _ordered: list[Fraction] | None = attrs.field(init=False, eq=False, repr=False)
    _accepted: dict[Hashable, frozenset[int]] = attrs.field(init=False, eq=False, repr=False)
    _ranked: list[frozenset[int]] = attrs.field(init=False, eq=False, repr=False)  # by rank

    def __attrs_post_init__(self) -> None:
        count = len(self.atoms)
        present = count - 1 if count and isinstance(self.atoms[-1], Absent) else count
        samples = [sample(a) for a in self.atoms[:present]]
        ordered: list[Fraction] | None = None
        position: dict[tuple[str, object], int]
        if self.domain.members is None:  # points and spans, in increasing order
            ordered = [v for v in samples if isinstance(v, Fraction)]
            assert len(ordered) == present
            # value_key of each sample, inline: a whole number as an int
            position = {
                ("n", v.numerator if v.denominator == 1 else v): i for i, v in enumerate(ordered)
            }
        else:
            position = {value_key(v): i for i, v in enumerate(samples)}
        derived = {
            "full": frozenset(range(count)),
            "_present": frozenset(range(present)),
            "_position": position,
            "_ordered": ordered,
            "_accepted": {},
            "_ranked": [
                frozenset(i for i, a in enumerate(self.atoms) if rank(a) == r) for r in range(4)
            ],
        }
        for name, value in derived.items():
            object.__setattr__(self, name, value)

    @classmethod
    def build(cls, domain: Domain, tests: Sequence[Test]) -> Column:
        atoms = (
            value_atoms(domain.members, tests)
            if domain.members is not None
            else number_atoms(domain, tests)
        )
        if domain.absent:
            atoms.append(Absent())
        return cls(domain, tuple(atoms))

    @property
    def name(self) -> str:
        return self.domain.name

    def accepting(self, tests: Sequence[Test]) -> frozenset[int]:
        """The atoms on which every test holds (all atoms, absence too, for no test)."""
        found = None
        for test in tests:
            key = condition_key(test)
            atoms = self._accepted.get(key)
            if atoms is None:
                atoms = self._accepted[key] = self._holding(test)
            found = atoms if found is None else found & atoms
        return self.full if found is None else found

    def _holding(self, test: Test) -> frozenset[int]:
        """The atoms whose sample satisfies the test, found without testing each atom where
        the test allows (absence satisfies no test)."""
        op, value = test.op, test.value
        if op in ("in", "not_in") and isinstance(value, tuple):
            keys, position = member_keys(value), self._position
            if len(keys) < len(position):
                hit = frozenset(position[k] for k in keys if k in position)
            else:
                hit = frozenset(i for k, i in position.items() if k in keys)
            return hit if op == "in" else self._present - hit
        if op in ("eq", "ne") and type(value) in (int, float, str, bool):
            i = self._position.get(value_key(value))
            hit = frozenset() if i is None else frozenset((i,))
            return hit if op == "eq" else self._present - hit
        ordered = self._ordered
        numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
        if op in _BOUNDS and ordered is not None and numeric:
            assert isinstance(value, (int, float))
            bound = exact(value)
            if op in ("lt", "gte"):
                cut = bisect.bisect_left(ordered, bound)
            else:
                cut = bisect.bisect_right(ordered, bound)
            below = op in ("lt", "lte")
            return frozenset(range(cut) if below else range(cut, len(ordered)))
        return frozenset(i for i, a in enumerate(self.atoms) if satisfies(test, sample(a)))

    def example(self, chosen: frozenset[int]) -> ExampleValue:
        """A concrete value from the chosen atoms (assumed non-empty)."""
        # the first chosen atom of the best rank (as min over (rank, index), in set operations)
        best = next(min(found) for found in (chosen & atoms for atoms in self._ranked) if found)
        value = sample(self.atoms[best])
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
        numeric = len(self._present)  # the atoms 0 .. numeric - 1; absence, if any, last
        picked = chosen & self._present
        if len(picked) == numeric or not picked:
            return []
        return [self._describe_run(first, last, numeric - 1) for first, last in runs(picked)]

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


def runs(atoms: frozenset[int]) -> list[tuple[int, int]]:
    """A non-empty set of atoms as its maximal runs of consecutive atoms (first, last), in
    order; found by set operations where the set has fewer holes than atoms."""
    low, high = min(atoms), max(atoms)
    if high - low + 1 == len(atoms):
        return [(low, high)]
    found: list[tuple[int, int]] = []
    if high - low + 1 - len(atoms) < len(atoms):  # walk the holes
        start = low
        for hole in sorted(set(range(low, high + 1)).difference(atoms)):
            if hole > start:
                found.append((start, hole - 1))
            start = hole + 1
        found.append((start, high))
        return found
    ordered = sorted(atoms)
    start = previous = ordered[0]
    for atom in ordered[1:]:
        if atom != previous + 1:
            found.append((start, previous))
            start = atom
        previous = atom
    found.append((start, previous))
    return found


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
