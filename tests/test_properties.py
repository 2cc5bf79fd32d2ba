"""Property laws of the shipped rule base and the physics (each docstring states its law)."""

from __future__ import annotations

import json
import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import GPU_IDS, workloads

from r1rules import Workload, default_rules, evaluate
from r1rules._vocabulary import RECOMMENDATION_FIELDS
from r1rules.physics._memory import USABLE_MEMORY_FRACTION
from r1rules.ruleset._reference import matches

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
RULES = default_rules()


@SETTINGS
@given(workloads())
def test_exactly_one_edition_for_every_valid_workload(w: Workload) -> None:
    """Law: the edition table is unique and complete: one and only one edition rule fires."""
    rec = evaluate(w)
    fired = [j for j in rec.justifications if j.table_id == "edition"]
    assert len(fired) == 1
    assert rec.edition in ("basic", "professional", "enterprise")


@SETTINGS
@given(workloads())
def test_evaluation_is_deterministic(w: Workload) -> None:
    """Law: the same workload always gives the same recommendation, trace included."""
    assert evaluate(w).to_dict() == evaluate(w).to_dict()


@SETTINGS
@given(workloads())
def test_every_recommended_field_is_justified_by_a_fired_rule(w: Workload) -> None:
    """Law: each recommendation field was set by at least one fired, unsuppressed rule."""
    rec = evaluate(w)
    for field in RECOMMENDATION_FIELDS:
        assert rec.justification_for(field), field


@SETTINGS
@given(workloads())
def test_fired_rules_are_exactly_those_the_reference_evaluator_matches(w: Workload) -> None:
    """Law: durable-rules fires a rule iff the pure-Python evaluator says its condition
    holds; so every justification's conditions hold on the workload's facts."""
    rec = evaluate(w)
    fired = {j.rule_id for j in rec.justifications}
    expected = {r.id for r in RULES.rules if matches(r, rec.facts)}
    assert fired == expected
    for j in rec.justifications:
        assert all(rec.facts[name] == value for name, value in j.values)


@SETTINGS
@given(workloads())
def test_recommendation_round_trips_through_json(w: Workload) -> None:
    """Law: to_dict() is JSON-ready: dumping and loading it changes nothing."""
    data = evaluate(w).to_dict()
    assert json.loads(json.dumps(data)) == data


@SETTINGS
@given(workloads())
def test_recommended_gpus_hold_weights_and_the_loads_kv_cache(w: Workload) -> None:
    """Law: when sizing found a feasible deployment, its GPUs hold the weights plus the KV
    cache of the requests in flight at peak, within usable memory."""
    rec = evaluate(w)
    if not rec.facts["deploy_feasible"] or rec.gpu.id != rec.facts["deploy_gpu"]:
        return
    e = rec.estimates
    assert e.fits and not e.kv_limited  # the operating batch's KV cache fits
    assert e.weights_per_gpu_gb < e.usable_memory_per_gpu_gb
    assert e.memory_per_gpu_gb <= rec.gpu.memory_gb * USABLE_MEMORY_FRACTION + 1e-9


@SETTINGS
@given(workloads(pinned=True))
def test_a_pinned_gpu_is_never_replaced(w: Workload) -> None:
    """Law: with the GPU pinned, the recommendation uses that GPU model, whatever it takes."""
    assert evaluate(w).gpu.id == w.gpu


@SETTINGS
@given(
    st.sampled_from(GPU_IDS),
    st.floats(0.05, 50),
    st.floats(1.0, 4.0),
    st.integers(64, 4096),
    st.sampled_from((1.5, 7, 13, 33, 70)),
)
def test_pinned_sizing_is_monotone(
    gpu: str, qps: float, factor: float, tokens: int, size: float
) -> None:
    """Law: with the GPU pinned, more QPS, longer outputs or a bigger model never give
    fewer GPUs."""
    base = dict(gpu=gpu, latency_ms=60_000, prompt_tokens=512, stage="development")
    count = evaluate(Workload(params_b=size, peak_qps=qps, output_tokens=tokens, **base)).gpu.count
    more_qps = evaluate(
        Workload(params_b=size, peak_qps=qps * factor, output_tokens=tokens, **base)
    ).gpu.count
    longer = evaluate(
        Workload(params_b=size, peak_qps=qps, output_tokens=math.ceil(tokens * factor), **base)
    ).gpu.count
    bigger = evaluate(
        Workload(params_b=size * factor, peak_qps=qps, output_tokens=tokens, **base)
    ).gpu.count
    assert more_qps >= count and longer >= count and bigger >= count


@SETTINGS
@given(workloads())
def test_estimated_throughput_covers_the_peak_load(w: Workload) -> None:
    """Law: the recommended deployment's estimated output rate covers peak QPS x output
    tokens, the load it was sized for."""
    rec = evaluate(w)
    if not rec.facts["deploy_feasible"]:
        return
    demand = w.peak_qps * w.output_tokens
    assert rec.estimates.throughput_tokens_per_s >= demand * 0.99
