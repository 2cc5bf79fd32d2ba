"""The options of one evaluation share an engine session (recommend/_decide.py), each fork
asserting its own fact: a session fires for each fact what a fresh one would, even for the
same facts again, and every session is gone when evaluate returns or raises."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from unittest import mock

import pytest
from firing import in_rule_order, reference_firing
from rulefiles import write_rules

import r1rules
from r1rules import EvaluationError, Workload, evaluate, load_rules
from r1rules.engine import Session, _adapter, compiled

WORKLOADS = (
    Workload(model="deepseek-r1", peak_qps=10, latency_ms=2000, budget_usd=2e6),
    Workload(model="deepseek-r1-distill-qwen-7b", peak_qps=8, latency_ms=500, stage="development"),
    Workload(model="deepseek-r1-distill-llama-70b", peak_qps=60, latency_ms=250, gpu="h100-sxm"),
    Workload(model="deepseek-r1-distill-qwen-32b", peak_qps=2, latency_ms=150, objective="latency"),
)


def test_the_same_facts_asserted_again_in_a_session_fire_again() -> None:
    """Without an id of its own, a fact is identified by its content: the second assert of
    the same facts was "already observed" and fired nothing."""
    rec = evaluate(WORKLOADS[0], options=False)
    engine = compiled(r1rules.default_rules())
    last = max(engine.strata)
    with engine.session() as session:
        first = session.run_stratum(last, rec.facts)
        again = session.run_stratum(last, rec.facts)
        other = session.run_stratum(min(engine.strata), rec.facts)
    assert first and again == first
    with engine.session() as fresh:
        assert fresh.run_stratum(min(engine.strata), rec.facts) == other


@pytest.mark.parametrize("workload", WORKLOADS, ids=lambda w: f"{w.model}-{w.objective}")
def test_every_option_fires_what_the_reference_evaluator_matches(workload: Workload) -> None:
    """Each fork's fact, asserted into the session its evaluation shares, fires exactly the
    rules the reference evaluator matches on that fork's facts."""
    rules = r1rules.default_rules()
    real = Session.run_stratum
    compared: list[int] = []

    def checked(session: Session, stratum: int, facts: Mapping[str, object]) -> Sequence[str]:
        fired = real(session, stratum, facts)
        assert in_rule_order(rules, fired) == reference_firing(rules, stratum, facts), (
            stratum,
            dict(facts),
        )
        compared.append(stratum)
        return fired

    with mock.patch.object(Session, "run_stratum", checked):
        rec = evaluate(workload)
    assert len(rec.options) > 10
    assert compared.count(max(compiled(rules).strata)) >= len(rec.options)
    assert _adapter.live_sessions(rules) == 0


# After sizing: a complete table that no rule matches for a GPU of less than 80 GB, so
# that those options fail (listed as excluded by rule-error) between options that do not.
# The minimal policy answers the H100 SXM (80 GB).
GAP = """
[[tables]]
id = "big-only"
title = "only GPUs of 80 GB or more"
hit_policy = "unique"
complete = true
  [[tables.rules]]
  id = "big-only-1"
  title = "big"
  source = "test"
  why = "test"
  when = { gpu_memory_gb = { gte = LEAST } }
  note = "big"
"""


def test_options_after_one_that_fails_are_decided_as_in_a_fresh_session(tmp_path: Path) -> None:
    rules = load_rules(write_rules(tmp_path, GAP.replace("LEAST", "80")), check=False)
    rec = evaluate(Workload(model="deepseek-r1-distill-qwen-7b", peak_qps=8, latency_ms=500), rules)
    assert rec.gpu.id == "h100-sxm"
    failed = [o for o in rec.options if "rule-error" in o.excluded_by]
    decided = [o for o in rec.options if "rule-error" not in o.excluded_by]
    assert failed and decided
    gpus = rules.catalog.gpus
    assert all(gpus[o.gpu].memory_gb < 80 for o in failed)
    assert all(gpus[o.gpu].memory_gb >= 80 for o in decided)
    assert _adapter.live_sessions(rules) == 0


def test_no_session_outlives_an_evaluation_that_raises(tmp_path: Path) -> None:
    """The shipped rules and a table no option passes: the cheapest options are tried in
    turn, each fails, and the answer's failure is raised."""
    folder = write_rules(tmp_path, GAP.replace("LEAST", "10000"), minimal=False)
    rules = load_rules(folder, include_shipped=True, check=False)
    before = _adapter.live_sessions(rules)
    with pytest.raises(EvaluationError, match="big-only"):
        evaluate(Workload(model="deepseek-r1", peak_qps=10, latency_ms=2000), rules)
    assert _adapter.live_sessions(rules) == before == 0
