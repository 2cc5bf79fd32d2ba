"""What a stratum's fact should fire: the reference evaluator's matches, and the engine's
firings put in the same form (tests of the engine adapter and of the decision's forks)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from r1rules.ruleset import RuleSet
from r1rules.ruleset._reference import matches


def reference_firing(rules: RuleSet, stratum: int, facts: Mapping[str, object]) -> tuple[str, ...]:
    """The rules of one stratum the reference evaluator matches on the facts, in order."""
    tables = dict(rules.by_stratum).get(stratum, ())
    matched = [rule for table in tables for rule in table.rules if matches(rule, facts)]
    return tuple(rule.id for rule in sorted(matched, key=lambda rule: rule.index))


def in_rule_order(rules: RuleSet, fired: Sequence[str]) -> tuple[str, ...]:
    """The engine's firings in the rule set's order (the engine promises no order), each
    rule once: a rule reported twice fails (``in`` lists reach the engine without repeated
    values, so no fact matches two alternatives of one rule)."""
    assert len(set(fired)) == len(fired), f"a rule reported twice: {fired}"
    return tuple(sorted(fired, key=lambda rule_id: rules.rules_by_id[rule_id].index))
