"""The atoms one fact's domain is cut into: points, open intervals, groups of values, absence.

A numeric domain is split at every bound its tests name (and at the domain's bounds) into
points and the open intervals between them, in increasing order; an enum or bool domain
groups the values no test tells apart; an optional fact adds an "absent" atom, always last.
Every test then holds on a whole atom or on none of it, so testing one sample per atom
decides it for the whole atom.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction

import attrs

from r1rules.check._domain import Domain, Member, Num, condition_key, satisfies
from r1rules.ruleset import Test

__all__ = [
    "Absent",
    "Atom",
    "Point",
    "Span",
    "Values",
    "number_atoms",
    "rank",
    "sample",
    "value_atoms",
]


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


def sample(atom: Atom) -> Member | None:
    """The value that stands for the whole atom (None: absent)."""
    if isinstance(atom, Point):
        return atom.value
    if isinstance(atom, Span):
        return atom.sample
    if isinstance(atom, Values):
        return atom.members[0]
    return None


def rank(atom: Atom) -> int:
    """Which atom makes the clearest example: a named bound, a value, an interior, absence."""
    if isinstance(atom, (Values, Point)):
        return 0 if isinstance(atom, Values) or atom.named else 2
    return 1 if isinstance(atom, Span) else 3


Plain = int | Fraction | float  # a number with whole ones as ints (fast), infinities as floats


def _whole(number: Fraction) -> int | Fraction:
    return number.numerator if number.denominator == 1 else number


def _plain(number: Num) -> Plain:
    return _whole(number) if isinstance(number, Fraction) else number


def _interior(lo: Plain, hi: Plain, integer: bool) -> Fraction | None:
    """A simple number strictly between lo and hi (a whole one if ``integer``), or None."""
    if type(lo) is int:  # the general case below, when floor(lo) + 1 is lo + 1
        candidate: Plain = lo + 1
    elif math.isinf(lo) and math.isinf(hi):
        candidate = 0
    elif math.isinf(lo):
        candidate = math.ceil(hi) - 1
    else:
        candidate = math.floor(lo) + 1
    if lo < candidate < hi:
        return Fraction(candidate)
    if integer:
        return None
    assert not isinstance(lo, float) and not isinstance(hi, float)
    return Fraction(lo + hi) / 2


def number_atoms(domain: Domain, tests: Sequence[Test]) -> list[Atom]:
    """A numeric domain cut at every number the tests name: points and spans, increasing.

    Whole numbers are handled as ints until the atoms are made (equal to their Fractions,
    and an order of magnitude faster to compare and hash: membership lists name thousands).
    """
    low, high = _plain(domain.low), _plain(domain.high)
    named: set[int | Fraction] = set()
    for test in tests:
        for value in test.value if isinstance(test.value, tuple) else (test.value,):
            assert isinstance(value, (int, float)) and not isinstance(value, bool)
            number = value if type(value) is int else _whole(Fraction(str(value)))
            if low <= number <= high:
                named.add(number)
    bounds = {b for b in (low, high) if not isinstance(b, float)}  # finite bounds
    integer = domain.integer
    atoms: list[Atom] = []
    # the previous cut, plain and exact (one Fraction per cut, shared by its atoms)
    previous: Plain | None = low if isinstance(low, float) else None
    exact_previous: Num = low if isinstance(low, float) else 0
    for point in sorted(named | bounds):
        cut = Fraction(point)
        if previous is not None:
            if type(previous) is int and type(point) is int:  # _interior, inline (most cuts)
                if previous + 1 < point:
                    atoms.append(Span(exact_previous, cut, Fraction(previous + 1)))
                elif not integer:
                    atoms.append(Span(exact_previous, cut, Fraction(previous + point) / 2))
            else:
                inside = _interior(previous, point, integer)
                if inside is not None:
                    atoms.append(Span(exact_previous, cut, inside))
        if not integer or point.denominator == 1:
            atoms.append(Point(cut, point in named))
        previous, exact_previous = point, cut
    if isinstance(high, float):
        lo: Plain = -math.inf if previous is None else previous
        inside = _interior(lo, high, integer)
        if inside is not None:
            atoms.append(Span(-math.inf if previous is None else exact_previous, high, inside))
    return atoms


def value_atoms(members: Sequence[Member], tests: Sequence[Test]) -> list[Atom]:
    """A finite domain's members grouped by which tests hold on them, in member order."""
    distinct = list({condition_key(t): t for t in tests}.values())  # same groups, fewer tests
    groups: dict[tuple[bool, ...], list[Member]] = {}
    for member in members:
        groups.setdefault(tuple(satisfies(t, member) for t in distinct), []).append(member)
    return [Values(tuple(group)) for group in groups.values()]
