"""The reference evaluator: the same validated conditions, evaluated in plain Python.

It is the oracle the tests hold durable-rules to, and it explains why a rule did not
fire. Semantics match the engine's: a test on an absent fact is false.
"""

from __future__ import annotations

from collections.abc import Mapping

from r1rules.ruleset._model import Rule, Test

__all__ = ["failed_tests", "holds", "matches", "shortfall"]


def holds(test: Test, facts: Mapping[str, object]) -> bool:
    """Whether one test holds on the facts."""
    if test.fact not in facts:
        return False
    actual = facts[test.fact]
    value = test.value
    op = test.op
    if op == "eq":
        return actual == value
    if op == "ne":
        return actual != value
    if op == "in":
        assert isinstance(value, tuple)
        return actual in value
    if op == "not_in":
        assert isinstance(value, tuple)
        return actual not in value
    if not isinstance(actual, (int, float)) or isinstance(actual, bool):
        return False
    assert isinstance(value, (int, float))
    if op == "lt":
        return actual < value
    if op == "lte":
        return actual <= value
    if op == "gt":
        return actual > value
    return actual >= value


def matches(rule: Rule, facts: Mapping[str, object]) -> bool:
    """Whether every test of the rule's condition holds."""
    return all(holds(t, facts) for t in rule.tests)


def failed_tests(rule: Rule, facts: Mapping[str, object]) -> tuple[Test, ...]:
    return tuple(t for t in rule.tests if not holds(t, facts))


def shortfall(test: Test, facts: Mapping[str, object]) -> str:
    """How a failed test missed, in words: the actual value and the distance to the bound."""
    if test.fact not in facts:
        return f"{test.fact} has no value for this workload"
    actual = facts[test.fact]
    if test.op in ("lt", "lte", "gt", "gte") and isinstance(actual, (int, float)):
        assert isinstance(test.value, (int, float))
        gap = abs(actual - test.value)
        side = "above" if actual > test.value else "below" if actual < test.value else "at"
        where = f"{gap:g} {side} the bound" if side != "at" else "exactly at the bound"
        return f"{test.fact} is {actual:g}, {where}"
    return f"{test.fact} is {actual!r}"
