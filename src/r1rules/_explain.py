"""Why a rule did (not) fire for one evaluation, from its trace and the reference evaluator."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._conditions import failed_tests, shortfall

if TYPE_CHECKING:
    from ._recommendation import Recommendation

__all__ = ["why_not"]


def why_not(rec: Recommendation, rule_id: str) -> str:
    """A sentence per failed condition, or how the rule did take part."""
    rule = rec.rules.rule(rule_id)
    for step in rec.justifications:
        if step.rule_id == rule_id:
            if step.suppressed:
                winner = next(j.rule_id for j in rec.justifications
                              if j.table_id == rule.table_id and not j.suppressed)
                return (f"{rule_id} matched, but table {rule.table_id!r} is first-hit and "
                        f"{winner!r} came first")
            return f"{rule_id} fired: " + str(step)
    failed = failed_tests(rule, rec.facts)
    if not failed:
        return (f"{rule_id} did not fire, yet its condition holds on the final facts: a fact "
                "it reads changed after its table ran")
    lines = [f"{rule_id} did not fire ({rule.source}):"]
    for test in failed:
        lines.append(f"  needs {test.describe()}, but {shortfall(test, rec.facts)}")
    return "\n".join(lines)
