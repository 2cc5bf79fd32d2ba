"""What the rule-set functions hand out cannot be changed: every mutation a caller could try
is refused, and a later call answers as before."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from rulefiles import UNSET_COPY, write_rules

import r1rules
from r1rules import RuleError, load_rules
from r1rules._errors import Problem
from r1rules._vocabulary import BUILTIN_FACTS
from r1rules.check import check_paths, default_rules
from r1rules.ruleset import HitPolicy, Table

W = r1rules.Workload(model="deepseek-r1-distill-qwen-14b", peak_qps=12, latency_ms=800)
REFUSED = (TypeError, AttributeError, attrs.exceptions.FrozenInstanceError)


BROKEN = """
[[tables]]
id = "t"
title = "t"
hit_policy = "collect"
  [[tables.rules]]
  id = "r"
  title = "r"
  source = "test"
  why = "test"
  when = { param_b = 1 }
  note = "n"
"""


def _call(obj: Any, method: str, *args: Any) -> Callable[[], object]:
    """A deferred ``obj.method(*args)``: a mutation to try."""
    return lambda: getattr(obj, method)(*args)


def _attempts(folder: Path) -> Iterator[tuple[str, Callable[[], object]]]:
    shipped = default_rules()
    loaded = load_rules(folder)
    finding = loaded.findings[0]
    try:
        load_rules(folder / "broken")
    except RuleError as exc:
        error = exc
    checked = check_paths([str(folder / "broken")], layered=False)
    table = shipped.tables[0]
    name = next(iter(shipped.facts))
    for label, rules in (("default_rules()", shipped), ("load_rules()", loaded)):
        yield f"{label}.facts[k] = v", _call(rules.facts, "__setitem__", name, None)
        yield f"{label}.facts.pop", _call(rules.facts, "pop", name)
        yield f"{label}.facts.clear", _call(rules.facts, "clear")
        yield f"{label}.tables.append", _call(rules.tables, "append", table)
        yield f"{label}.findings.append", _call(rules.findings, "append", finding)
        yield f"{label}.rules_by_id.pop", _call(rules.rules_by_id, "pop", table.rules[0].id)
        yield f"{label}.tables = ()", _call(rules, "__setattr__", "tables", ())
        yield f"{label}.findings = ()", _call(rules, "__setattr__", "findings", ())
    yield "table.rules[0] = x", _call(table.rules, "__setitem__", 0, table.rules[-1])
    yield "table.hit_policy = x", _call(table, "__setattr__", "hit_policy", HitPolicy.COLLECT)
    yield "finding.message = x", _call(finding, "__setattr__", "message", "changed")
    yield "RuleError.problems.append", _call(error.problems, "append", finding)
    yield "RuleError.problems[0].kind", _call(error.problems[0], "__setattr__", "kind", "load")
    yield "check findings.append", _call(checked, "append", finding)
    yield "check finding.file", _call(checked[0], "__setattr__", "file", "x")
    yield "finding.example[k]", _call(finding.example, "__setitem__", "peak_qps", 0)
    yield "BUILTIN_FACTS[k] = v", _call(BUILTIN_FACTS, "__setitem__", name, None)
    yield "BUILTIN_FACTS.pop", _call(BUILTIN_FACTS, "pop", name)


def test_no_mutation_of_what_the_rule_functions_return_changes_a_later_call(
    tmp_path: Path,
) -> None:
    folder = write_rules(tmp_path, UNSET_COPY)
    write_rules(folder / "broken", BROKEN)
    shipped = default_rules()
    before = (dict(shipped.facts), shipped.tables, r1rules.evaluate(W).to_dict())
    loaded_before = load_rules(folder)
    allowed = []
    tried = 0
    for label, attempt in _attempts(folder):
        tried += 1
        try:
            attempt()
        except REFUSED:
            continue
        allowed.append(label)
    assert tried >= 25
    assert allowed == []
    assert default_rules() is shipped
    assert (dict(shipped.facts), shipped.tables, r1rules.evaluate(W).to_dict()) == before
    again = load_rules(folder)
    assert dict(again.facts) == dict(loaded_before.facts)
    assert again.findings == loaded_before.findings
    assert len(BUILTIN_FACTS) < len(again.facts)  # the rule file's facts went into a copy
    with pytest.raises(RuleError) as caught:
        load_rules(folder / "broken")
    assert caught.value.problems[0].kind == "unknown-name"


def test_tables_and_rules_are_tuples_and_hit_policies_an_enum() -> None:
    rules = default_rules()
    assert isinstance(rules.tables, tuple) and isinstance(rules.rules, tuple)
    assert all(isinstance(t.rules, tuple) for t in rules.tables)
    assert all(isinstance(t.hit_policy, HitPolicy) for t in rules.tables)
    assert all(isinstance(f, Problem) for f in rules.findings)
    assert HitPolicy("first") is HitPolicy.FIRST
    policy: str = HitPolicy.FIRST
    assert policy == "first"
    assert f"{HitPolicy.COLLECT} table" == "collect table" == f"{HitPolicy.COLLECT!s} table"
    table = rules.tables[0]
    with pytest.raises(ValueError):
        attrs.evolve(table, hit_policy="uniqe")
    assert isinstance(attrs.evolve(table, rules=list(table.rules)).rules, tuple)
    assert isinstance(Table(*attrs.astuple(table, recurse=False)).hit_policy, HitPolicy)
