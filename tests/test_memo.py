"""The engine's memo of its answers (``engine._memo``) and the resolutions of firings
(``recommend._resolve``): each a shortcut that must decide exactly what the long way does.

The memo's premise (facts with one key fire the same rules) is also held to the reference
evaluator on fuzzed rule files in test_fuzz_grammar.py.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from unittest import mock

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st
from rulefiles import write_rules
from strategies import LAW, Reach, workloads

from r1rules import EvaluationError, Recommendation, Workload, default_rules, evaluate, load_rules
from r1rules.engine import compiled
from r1rules.engine._memo import Memo, Regions
from r1rules.recommend import _resolve
from r1rules.recommend._plan import plan_of
from r1rules.ruleset import Test as Compare

FACTS = """
[[facts]]
name = "busy"
type = "bool"
description = "test flag"
"""


def _rules() -> str:
    return (
        FACTS
        + """
[[tables]]
id = "t"
title = "test table"
hit_policy = "collect"
complete = false

[[tables.rules]]
id = "at-least"
title = "at least 8"
source = "test"
why = "test"
when = { peak_qps = { gte = 8 } }
set = { busy = true }

[[tables.rules]]
id = "below"
title = "below 8"
source = "test"
why = "test"
when = { peak_qps = { lt = 8 } }
set = { busy = false }

[[tables.rules]]
id = "production"
title = "in production"
source = "test"
why = "test"
when = { stage = "production" }
set = { busy = true }
"""
    )


def test_a_number_is_keyed_by_its_place_among_the_constants_it_is_tested_against() -> None:
    regions = Regions([Compare("load", "gte", 8), Compare("load", "lt", 2.5)], ())
    key = regions.key
    # the same interval: one key; either side of a constant, or on it: another
    assert key({"load": 3.0}) == key({"load": 7.9}) != key({"load": 8.0})
    assert key({"load": 8.0}) != key({"load": math.nextafter(8.0, math.inf)})
    assert key({"load": 9.0}) == key({"load": 1e300})
    assert key({"load": 2.5}) != key({"load": 2.4}) != key({"load": 3.0})
    # types are kept: the engine tells 8 from 8.0 from True
    assert key({"load": 8}) != key({"load": 8.0})
    assert key({"load": 1}) != key({"load": True})
    assert key({}) == key({"load": None}) != key({"load": 0})


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, 2**53 + 1, -(2**53) - 2])
def test_a_number_the_engine_takes_otherwise_than_python_has_no_key(value: object) -> None:
    """The engine decides those (it refuses them, or reads them as floats): never the memo."""
    assert Regions([Compare("load", "gt", 1)], ()).key({"load": value}) is None


def test_other_values_are_keyed_as_they_are() -> None:
    regions = Regions([Compare("tier", "in", ("low", "high")), Compare("load", "eq", "8")], ())
    assert regions.key({"tier": "low"}) != regions.key({"tier": "high"})
    # a number tested against a string is not placed: the engine's loose typing decides
    assert regions.key({"load": 8}) != regions.key({"load": 9})


def test_the_memo_starts_over_past_its_limit() -> None:
    memo = Memo(Regions([Compare("load", "gt", 1)], ()))
    with mock.patch.object(Memo, "LIMIT", 2):
        for value in (0.0, 1.0, 2.0):
            key = memo.regions.key({"load": value})
            assert key is not None
            memo.learn(key, ("r",))
        assert len(memo) == 1  # the third cleared the two before it
    memo.forget()
    assert len(memo) == 0


def test_the_engine_answers_once_per_key_and_refuses_a_number_every_time(
    tmp_path: Path,
) -> None:
    rules = load_rules(write_rules(tmp_path, _rules()), check=False)
    engine = compiled(rules)
    engine.forget()
    stratum = rules.table("t").stratum
    memo = engine.memos[stratum]
    with engine.session() as session:
        first = session.run_stratum(stratum, {"peak_qps": 9.0, "stage": "development"})
        assert len(memo) == 1
        # the same key: the same answer, not asked again
        again = session.run_stratum(stratum, {"peak_qps": 1e6, "stage": "development"})
        assert again is first and len(memo) == 1
        assert _ours(first) == ["at-least"]
        both = session.run_stratum(stratum, {"peak_qps": 8, "stage": "production"})
        assert _ours(both) == ["at-least", "production"]
        below = session.run_stratum(stratum, {"peak_qps": 7.99, "stage": "development"})
        assert _ours(below) == ["below"]
        # a value no key can hold (a list): asserted, and not learned
        listed = session.run_stratum(stratum, {"peak_qps": 9.0, "stage": ["production"]})
        assert _ours(listed) == ["at-least"] and len(memo) == 3
        for _ in range(2):  # not learned: the engine refuses it each time
            with pytest.raises(EvaluationError, match="compares whole numbers exactly"):
                session.run_stratum(stratum, {"peak_qps": 2**53 + 1, "stage": "development"})
    assert len(memo) == 3


def _ours(fired: Sequence[str]) -> list[str]:
    """The test table's rules among the firings (the base table shares its stratum)."""
    return sorted(rule_id for rule_id in fired if rule_id != "base-all")


def _decided(rec: Recommendation) -> tuple[object, ...]:
    return (rec.trace, dict(rec.facts), rec.notes, rec.warnings, rec.options, rec.article)


@LAW
@given(workload=workloads())
def test_the_answer_is_the_same_with_the_engines_memo_empty_or_full(workload: Workload) -> None:
    """Law: an evaluation whose every stratum reaches the engine decides what one answered
    from the memo does (answer, options, trace, texts)."""
    engine = compiled(default_rules())
    evaluate(workload)  # what it decides is remembered now
    warm = evaluate(workload)
    engine.forget()
    with mock.patch.object(Memo, "get", return_value=None):  # nothing found: all asserted
        cold = evaluate(workload)
    assert _decided(cold) == _decided(warm)


def test_the_short_way_to_apply_firings_decides_what_the_long_way_does() -> None:
    """Law: a run that keeps no texts applies its firings the short way (``plain``
    resolutions); every option decided so equals the option decided the long way, which
    checks each table's policy as it applies it (a fresh rule set, so no resolution made
    before is reused). An example reaches the law when it lists options and the short way
    was taken."""
    reach = Reach("resolutions: the short way equals the long way")
    real = _resolve.Resolution.__init__

    def long_way(self: _resolve.Resolution, *args: Any) -> None:
        real(self, *args)
        self.plain = False

    @LAW
    @given(workload=workloads(), latency=st.booleans())
    def law(workload: Workload, latency: bool) -> None:
        reach.run()
        if latency:
            workload = attrs.evolve(workload, objective="latency")
        resolutions = plan_of(default_rules()).resolutions
        resolutions.forget()
        short = evaluate(workload, options=True)
        plain = sum(r.plain for r in resolutions.known())
        rules = load_rules(check=False)
        with mock.patch.object(_resolve.Resolution, "__init__", long_way):
            long = evaluate(workload, rules, options=True)
        assert short.options == long.options
        assert _decided(short) == _decided(long)
        if short.options and plain:
            reach.hit()

    law()
    reach.check(share=0.5)


def test_resolutions_start_over_past_their_limit() -> None:
    rules = default_rules()
    resolutions = _resolve.Resolutions(plan_of(rules).fired)
    stratum, tables = rules.by_stratum[0]
    with mock.patch.object(_resolve.Resolutions, "LIMIT", 2):
        first = resolutions.of(stratum, tables, [])
        assert resolutions.of(stratum, tables, ()) is first  # a list and a tuple: one key
        for rule in [r.id for t in tables for r in t.rules][:2]:
            resolutions.of(stratum, tables, [rule])
        assert len(resolutions.known()) == 1  # the third cleared the two before it
