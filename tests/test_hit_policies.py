"""Hit policies at run time: first (later matches suppressed), any, collect, complete tables."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import given
from rulefiles import write_rules
from strategies import LAW, workloads

from r1rules import EvaluationError, Recommendation, Workload, evaluate, load_rules
from r1rules.engine import Session

W = Workload(params_b=7, peak_qps=5, latency_ms=1000)

FACT = """
[[facts]]
name = "tier"
type = "enum"
values = ["low", "high"]
description = "test tier"
"""


def _table(policy: str, rules: str, complete: bool = False) -> str:
    return (
        FACT
        + f'''
[[tables]]
id = "t"
title = "test table"
hit_policy = "{policy}"
complete = {str(complete).lower()}
{rules}
[[tables]]
id = "reader"
title = "reads tier"
hit_policy = "collect"
  [[tables.rules]]
  id = "reader-1"
  title = "read"
  source = "test"
  why = "test"
  when = {{ tier = ["low", "high"] }}
  note = "tier={{tier}}"
'''
    )


def _rule(rule_id: str, when: str, tier: str) -> str:
    return f'''
  [[tables.rules]]
  id = "{rule_id}"
  title = "{rule_id}"
  source = "test"
  why = "test"
  when = {{ {when} }}
  set = {{ tier = "{tier}" }}
'''


def test_first_hit_applies_the_first_match_and_keeps_the_others_as_suppressed(
    tmp_path: Path,
) -> None:
    text = _table(
        "first",
        _rule("a", "peak_qps = { gt = 1 }", "high") + _rule("b", "peak_qps = { gt = 0 }", "low"),
    )
    rules = load_rules(write_rules(tmp_path, text), check=False)
    rec = evaluate(W, rules)
    assert rec.facts["tier"] == "high"
    b = next(j for j in rec.justifications if j.rule_id == "b")
    assert b.suppressed and b.sets == ()
    assert rec.why_not("b") == "b matched, but table 't' is first-hit and 'a' came first"
    assert [n.text for n in rec.notes] == ["tier=high"]


def test_any_allows_agreeing_matches_and_refuses_disagreeing_ones(tmp_path: Path) -> None:
    agree = _table(
        "any",
        _rule("a", "peak_qps = { gt = 1 }", "high") + _rule("b", "peak_qps = { gt = 0 }", "high"),
    )
    rec = evaluate(W, load_rules(write_rules(tmp_path / "a", agree)))
    assert rec.facts["tier"] == "high"
    disagree = _table(
        "any",
        _rule("a", "peak_qps = { gt = 1 }", "high") + _rule("b", "peak_qps = { gt = 0 }", "low"),
    )
    rules = load_rules(write_rules(tmp_path / "b", disagree), check=False)
    with pytest.raises(
        EvaluationError,
        match="table 't' \\(any\\): rules 'a' and 'b' set 'tier' "
        "to different values \\('high' and 'low'\\)",
    ):
        evaluate(W, rules)


def test_a_complete_table_with_no_match_is_a_gap_error(tmp_path: Path) -> None:
    text = _table("unique", _rule("a", "peak_qps = { gt = 100 }", "high"), complete=True)
    rules = load_rules(write_rules(tmp_path, text), check=False)
    with pytest.raises(
        EvaluationError,
        match=r"table 't' is complete but no rule matched this "
        "workload \\(a gap in the rules\\); facts: peak_qps=5.0",
    ):
        evaluate(W, rules)


def test_the_checker_refuses_those_rule_sets_at_load(tmp_path: Path) -> None:
    from r1rules import RuleError

    text = _table("unique", _rule("a", "peak_qps = { gt = 100 }", "high"), complete=True)
    with pytest.raises(RuleError, match="gap"):
        load_rules(write_rules(tmp_path, text))


def test_collect_takes_a_copied_value_that_agrees_with_another_rules_value(
    tmp_path: Path,
) -> None:
    """Two rules of a collect table set the same fact, one copying it from another fact:
    the values agree, so both fire (and a disagreeing copy is refused)."""
    level = """
[[facts]]
name = "level"
type = "enum"
values = ["low", "high"]
description = "test level"

[[tables]]
id = "lv"
title = "sets level"
hit_policy = "unique"
complete = true
  [[tables.rules]]
  id = "lv-1"
  title = "level"
  source = "test"
  why = "test"
  when = { peak_qps = { gt = 0 } }
  set = { level = "%s" }
"""
    copy = """
  [[tables.rules]]
  id = "b"
  title = "b"
  source = "test"
  why = "test"
  when = { peak_qps = { gt = 0 } }
  set = { tier = { fact = "level" } }
"""
    for folder, value in (("agree", "high"), ("disagree", "low")):
        text = level % value + _table("collect", _rule("a", "peak_qps = { gt = 1 }", "high") + copy)
        rules = load_rules(write_rules(tmp_path / folder, text), check=False)
        if value == "high":
            rec = evaluate(W, rules)
            assert rec.facts["tier"] == "high"
            assert [j.rule_id for j in rec.justification_for("tier")] == ["a", "b"]
        else:
            with pytest.raises(EvaluationError, match="rules 'a' and 'b' set 'tier'"):
                evaluate(W, rules)


def _scrambled(real: Callable[[Session, int, Mapping[str, object]], Sequence[str]]) -> object:
    """``Session.run_stratum`` reporting its firings backwards, each rule twice."""

    def run_stratum(session: Session, stratum: int, facts: Mapping[str, object]) -> list[str]:
        fired = real(session, stratum, facts)
        return [rule_id for rule_id in reversed(fired) for _ in (1, 2)]

    return run_stratum


def _decided(rec: Recommendation) -> tuple[object, ...]:
    return (rec.trace, dict(rec.facts), rec.notes, rec.warnings, rec.options, rec.article)


def test_first_hit_holds_whatever_order_the_engine_reports_its_firings_in(
    tmp_path: Path,
) -> None:
    """The engine promises no order: a first-hit table applies its first rule in the rule
    set's order, each matched rule once, however the firings come back."""
    text = _table(
        "first",
        _rule("a", "peak_qps = { gt = 1 }", "high") + _rule("b", "peak_qps = { gt = 0 }", "low"),
    )
    rules = load_rules(write_rules(tmp_path, text), check=False)
    as_reported = evaluate(W, rules)
    with mock.patch.object(Session, "run_stratum", _scrambled(Session.run_stratum)):
        scrambled = evaluate(W, rules)
    assert scrambled.facts["tier"] == "high"
    assert [(s[0], s[3]) for s in scrambled.trace if s[0] in "ab"] == [("a", False), ("b", True)]
    assert _decided(scrambled) == _decided(as_reported)


@LAW
@given(workload=workloads())
def test_the_shipped_rules_decide_the_same_whatever_order_the_engine_reports(
    workload: Workload,
) -> None:
    """Every table applies its rules in the rule set's order, once each: firings reported
    backwards and twice decide the same answer, options, trace and texts."""
    as_reported = evaluate(workload)
    with mock.patch.object(Session, "run_stratum", _scrambled(Session.run_stratum)):
        scrambled = evaluate(workload)
    assert _decided(scrambled) == _decided(as_reported)


def test_a_trace_shows_the_values_the_engine_matched_not_later_ones(tmp_path: Path) -> None:
    """A table may read a fact it sets: the engine matches all its rules on the facts as
    the stratum starts, so the trace shows a rule's values as they were then, even after
    an earlier rule of the same table changed one."""
    low = _rule("set-low", "peak_qps = { gt = 0 }", "low")
    text = (
        FACT
        + f"""
[[tables]]
id = "t0"
title = "first setter"
hit_policy = "collect"
{low}
[[tables]]
id = "t"
title = "reads and sets tier"
hit_policy = "collect"
{_rule("raise", "peak_qps = { gt = 1 }", "high")}
  [[tables.rules]]
  id = "saw-low"
  title = "saw low"
  source = "test"
  why = "test"
  when = {{ tier = "low" }}
  note = "tier was low"
"""
    )
    rules = load_rules(write_rules(tmp_path, text), check=False)
    rec = evaluate(W, rules)
    assert rec.facts["tier"] == "high"
    saw = next(j for j in rec.justifications if j.rule_id == "saw-low")
    assert saw.values == (("tier", "low"),)
    raised = next(j for j in rec.justifications if j.rule_id == "raise")
    assert raised.values == (("peak_qps", 5.0),) and raised.sets == (("tier", "high"),)
