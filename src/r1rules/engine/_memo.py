"""What the engine answered for a stratum, remembered by the only thing that decides it.

Every test in a rule compares one fact with a constant, and every rule matches one fact
(no joins), so which rules fire for a stratum's fact is a function of which side of each
constant every tested value lies on. ``Regions.key`` maps the facts to exactly that: a
number tested against constants becomes its place among them (the interval it is in, and
whether it equals the constant that bounds it); any other value is kept as it is. Facts
with the same key make every test come out the same, so they fire the same rules.

The engine stays the only evaluator: the memo holds nothing but its answers, learned the
first time a key reaches it, and a fact the engine refuses (a non-finite number, say) is
never learned, so it reaches the engine, and its error, every time. Numbers are placed
only where the engine's comparison is Python's (finite floats, whole numbers within
+-2**53, tested against numeric constants, which the loader keeps within +-2**53); a
number tested against a string or a boolean is kept as it is. Each value's type is part
of the key (``1`` and ``True`` reach the engine as different values).
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from r1rules.engine._encode import MAX_EXACT_INTEGER, Membership
from r1rules.ruleset import Test

__all__ = ["Memo", "Regions"]

Key = tuple[tuple[object, ...], tuple[type, ...]]


class Regions:
    """How one stratum's facts are keyed: ``names`` (each tested fact, and each fact of a
    membership list decided outside the engine), and for each fact tested only against
    numbers, its position among ``names`` with the numbers, sorted."""

    __slots__ = ("bounds", "names")

    def __init__(self, tests: Iterable[Test], memberships: Sequence[Membership]) -> None:
        constants: dict[str, list[object]] = {}
        for test in tests:
            values = test.value if isinstance(test.value, tuple) else (test.value,)
            constants.setdefault(test.fact, []).extend(values)
        for member in memberships:  # decided outside the engine: keyed by its value
            constants.pop(member.fact, None)
        tested = sorted(constants)
        self.names = tuple(tested) + tuple(m.fact for m in memberships)
        self.bounds: tuple[tuple[int, tuple[float, ...]], ...] = tuple(
            (position, numbers)
            for position, numbers in enumerate(_numbers(constants[name]) for name in tested)
            if numbers
        )

    def key(self, facts: Mapping[str, object]) -> Key | None:
        """The facts' key, or None when a tested number is one the engine takes otherwise
        than Python compares it (a whole number beyond +-2**53, a float that is not
        finite): the engine decides those."""
        values: list[Any] = list(map(facts.get, self.names))
        types = tuple(map(type, values))
        for position, bounds in self.bounds:
            value = values[position]
            kind = types[position]
            if kind is float:
                if value - value != 0.0:
                    return None  # NaN or an infinity: the engine refuses it
            elif kind is not int:
                continue
            elif not -MAX_EXACT_INTEGER <= value <= MAX_EXACT_INTEGER:
                return None  # the engine takes it as a float, or refuses it
            place = bisect_left(bounds, value)  # bounds end in +inf: ``place`` is in them
            values[position] = 2 * place + (bounds[place] == value)
        return (tuple(values), types)


def _numbers(values: Sequence[object]) -> tuple[float, ...]:
    """The constants, sorted, then +inf, when every one is a number (not a bool); else ()."""
    numbers = [float(v) for v in values if type(v) is int or type(v) is float]
    if len(numbers) < len(values):
        return ()
    return (*sorted(set(numbers)), math.inf)


class Memo:
    """The engine's firings for one stratum by ``Regions`` key, at most ``LIMIT`` of them
    (past it, the memo starts over). Each read and write is one dict operation: safe from
    any thread; the firings are kept as tuples, which no caller can change."""

    __slots__ = ("_known", "regions")

    LIMIT = 1 << 15  # about 230 bytes a key (measured): at most about 8 MB a stratum

    def __init__(self, regions: Regions) -> None:
        self.regions = regions
        self._known: dict[Key, tuple[str, ...]] = {}

    def get(self, key: Key) -> tuple[str, ...] | None:
        return self._known.get(key)

    def learn(self, key: Key, fired: Sequence[str]) -> tuple[str, ...]:
        known = self._known
        if len(known) >= self.LIMIT:
            known.clear()
        answer = known[key] = tuple(fired)
        return answer

    def forget(self) -> None:
        self._known.clear()

    def __len__(self) -> int:
        return len(self._known)
