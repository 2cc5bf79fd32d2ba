"""``encode_stratum`` (engine/_encode.py), the fast path the engine adapter asserts every
stratum's fact with, writes exactly what ``encode_fact`` writes, or refuses what it refuses
with the same message."""

from __future__ import annotations

import enum
import json

from hypothesis import given, settings
from hypothesis import strategies as st

import r1rules
from r1rules import EvaluationError
from r1rules.engine import _encode, compiled
from r1rules.engine._encode import Membership, Stratum, encode_fact, encode_stratum


class Level(enum.IntEnum):
    LOW = 1


class Name(str):
    pass


NAMES = ("a", "b_2", "zeta", "é", 'quo"te', "back\\slash", "tab\tx", "id")
MEMBERSHIPS = (
    Membership("r1$m0", "a", frozenset({1, "x"})),
    Membership("r1$m1", "zeta", frozenset({2.5})),
)


def plan(names: tuple[str, ...], memberships: tuple[Membership, ...], extra: str) -> Stratum:
    """A stratum's plan, its keys written as compile_rules writes them."""
    keys = tuple(_encode.ENCODER.encode(_encode.prop(name)) + ":" for name in names)
    return Stratum(names, memberships, extra, keys)


values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(-(2**64), 2**64),
    st.sampled_from([2**53, 2**53 + 1, -(2**53) - 1, 2**60, 10**30 + 1]),
    st.floats(),  # NaN and infinities too: refused
    st.sampled_from([1e-05, 1e16, -0.0, 5e-324, 1.7976931348623157e308, 2.5]),
    st.text(),
    st.sampled_from(["x", "1e-05,", ':1e+5,"', "\u2028", "\x00"]),
    st.sampled_from([Level.LOW, Name("sub"), ("a", "b"), [1]]),
)


def both(facts: dict[str, object], stratum: Stratum, extra: str) -> tuple[str, str]:
    # A list in a membership's fact cannot be looked up (TypeError): validated facts never
    # hold one, and both refuse it alike.
    try:
        slow = encode_fact(facts, extra, stratum.reads, stratum.memberships)
    except (EvaluationError, TypeError) as exc:
        slow = f"refused: {type(exc).__name__}: {exc}"
    try:
        fast = encode_stratum(facts, stratum, extra)
    except (EvaluationError, TypeError) as exc:
        fast = f"refused: {type(exc).__name__}: {exc}"
    return slow, fast


@settings(max_examples=600, derandomize=True, database=None)
@given(
    st.dictionaries(st.sampled_from(NAMES), values),
    st.lists(st.sampled_from(NAMES), unique=True),
    st.sampled_from([(), MEMBERSHIPS]),
    st.sampled_from(["", '"r1$stratum":3,"sid":"7"']),
)
def test_the_fast_encoding_is_encode_fact(
    facts: dict[str, object],
    names: list[str],
    memberships: tuple[Membership, ...],
    extra: str,
) -> None:
    slow, fast = both(facts, plan(tuple(names), memberships, extra), extra)
    assert fast == slow
    if not slow.startswith("refused"):
        json.loads(slow)


def test_the_shipped_strata_encode_a_real_evaluations_facts_alike() -> None:
    rec = r1rules.evaluate(r1rules.Workload(model="deepseek-r1", peak_qps=10, latency_ms=2000))
    facts = dict(rec.facts)
    engine = compiled(r1rules.default_rules())
    assert engine.strata
    for stratum in engine.strata.values():
        extra = stratum.extra + ',"sid":"1"'
        slow, fast = both(facts, stratum, extra)
        assert fast == slow
        assert fast.count('"f$') == sum(facts.get(n) is not None for n in stratum.reads)
