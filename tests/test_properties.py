"""Property laws of the shipped rule base and the physics (each docstring states its law).

Each law runs its Hypothesis examples inside the test and then asserts, with ``Reach``,
that most examples reached the law's assertion (not an early return). Laws over generated
rule sets are in test_laws.py.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rulefiles import MINIMAL
from strategies import GPU_IDS, Reach, workloads

from r1rules import Workload, default_rules, evaluate, load_rules
from r1rules._vocabulary import RECOMMENDATION_FIELDS
from r1rules.physics._memory import USABLE_MEMORY_FRACTION, device_memory_gb
from r1rules.ruleset._reference import matches

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
RULES = default_rules()


def test_exactly_one_edition_for_every_valid_workload() -> None:
    """Law: the edition table is unique and complete: one and only one edition rule fires."""
    reach = Reach("one edition")

    @SETTINGS
    @given(workloads())
    def law(w: Workload) -> None:
        reach.run()
        rec = evaluate(w)
        fired = [j for j in rec.justifications if j.table_id == "edition"]
        reach.hit()
        assert len(fired) == 1
        assert rec.edition in ("basic", "professional", "enterprise")

    law()
    reach.check()


def test_evaluation_is_deterministic() -> None:
    """Law: the same workload always gives the same recommendation, trace included."""
    reach = Reach("deterministic")

    @SETTINGS
    @given(workloads())
    def law(w: Workload) -> None:
        reach.run()
        first, second = evaluate(w).to_dict(), evaluate(w).to_dict()
        reach.hit()
        assert first == second

    law()
    reach.check()


def test_every_recommended_field_is_justified_by_a_fired_rule() -> None:
    """Law: each recommendation field was set by at least one fired, unsuppressed rule."""
    reach = Reach("justified fields")

    @SETTINGS
    @given(workloads())
    def law(w: Workload) -> None:
        reach.run()
        rec = evaluate(w)
        reach.hit()
        for field in RECOMMENDATION_FIELDS:
            assert rec.justification_for(field), field

    law()
    reach.check()


def test_fired_rules_are_exactly_those_the_reference_evaluator_matches() -> None:
    """Law: durable-rules fires a rule iff the pure-Python evaluator says its condition
    holds; so every justification's conditions hold on the workload's facts. (Generated
    rule sets, with every operator, are held to the same law in test_laws.py.)"""
    reach = Reach("shipped engine = reference")

    @SETTINGS
    @given(workloads())
    def law(w: Workload) -> None:
        reach.run()
        rec = evaluate(w)
        fired = {j.rule_id for j in rec.justifications}
        expected = {r.id for r in RULES.rules if matches(r, rec.facts)}
        reach.hit()
        assert fired == expected
        for j in rec.justifications:
            assert all(rec.facts[name] == value for name, value in j.values)

    law()
    reach.check()


def strict_json_round_trip(data: dict[str, object]) -> None:
    """Strict JSON (no NaN, no Infinity) of ``data`` loads back equal to it."""
    text = json.dumps(data, allow_nan=False)
    assert json.loads(text) == data


def test_recommendation_round_trips_through_strict_json() -> None:
    """Law: to_dict() is JSON-ready, strictly (no NaN or Infinity, which JSON does not
    have): dumping with allow_nan=False and loading it changes nothing."""
    reach = Reach("strict JSON")

    @SETTINGS
    @given(workloads())
    def law(w: Workload) -> None:
        reach.run()
        data = evaluate(w).to_dict()
        reach.hit()
        strict_json_round_trip(data)

    law()
    reach.check()


def test_non_finite_figures_become_null_in_to_dict(tmp_path: Path) -> None:
    """A rule set that deploys one RTX 4090 for DeepSeek-R1 (it cannot hold the model):
    the estimates' TTFT and TPOT are inf, and to_dict() gives them as None (JSON null)."""
    deploy = (
        'set = { gpu = { fact = "deploy_gpu" }, gpu_count = { fact = "sized_gpu_count" }, '
        'nodes = { fact = "sized_nodes" } }'
    )
    assert deploy in MINIMAL
    (tmp_path / "rules.toml").write_text(
        MINIMAL.replace(deploy, 'set = { gpu = "rtx-4090", gpu_count = 1, nodes = 1 }'),
        encoding="utf-8",
    )
    rec = evaluate(Workload(model="deepseek-r1", peak_qps=1, latency_ms=1000), load_rules(tmp_path))
    assert not rec.estimates.fits
    assert math.isinf(rec.estimates.ttft_ms) and math.isinf(rec.estimates.tpot_ms)
    data = rec.to_dict()
    assert data["estimates"]["ttft_ms"] is None and data["estimates"]["tpot_ms"] is None
    assert data["estimates"]["fits"] is False
    strict_json_round_trip(data)
    assert "Infinity" not in json.dumps(data) and "NaN" not in json.dumps(data)


def test_recommended_gpus_hold_weights_and_the_loads_kv_cache() -> None:
    """Law: when sizing found a feasible deployment, its GPUs hold the weights plus the KV
    cache of the requests in flight at peak, within usable memory."""
    reach = Reach("GPUs hold the load")

    @SETTINGS
    @given(workloads())
    def law(w: Workload) -> None:
        reach.run()
        rec = evaluate(w)
        if not rec.facts["deploy_feasible"] or rec.gpu.id != rec.facts["deploy_gpu"]:
            reach.note("infeasible or not the sized GPU")
            return
        reach.hit()
        e = rec.estimates
        assert e.fits and not e.kv_limited  # the operating batch's KV cache fits
        assert e.weights_per_gpu_gb < e.usable_memory_per_gpu_gb
        usable = device_memory_gb(rec.rules.catalog.gpu(rec.gpu.id)) * USABLE_MEMORY_FRACTION
        assert e.memory_per_gpu_gb <= usable + 1e-9

    law()
    reach.check()


def test_a_pinned_gpu_is_never_replaced() -> None:
    """Law: with the GPU pinned, the recommendation uses that GPU model, whatever it takes."""
    reach = Reach("pinned GPU kept")

    @SETTINGS
    @given(workloads(pinned=True))
    def law(w: Workload) -> None:
        reach.run()
        assert w.gpu is not None
        got = evaluate(w).gpu.id
        reach.hit()
        assert got == w.gpu

    law()
    reach.check()


def pinned_count(gpu: str, size: float, qps: float, tokens: int) -> int:
    """GPUs recommended for a generic model on a pinned GPU, latency no constraint."""
    workload = Workload(
        params_b=size,
        peak_qps=qps,
        output_tokens=tokens,
        gpu=gpu,
        latency_ms=60_000,
        prompt_tokens=512,
        stage="development",
    )
    return evaluate(workload).gpu.count


def test_pinned_sizing_is_monotone() -> None:
    """Law: with the GPU pinned, more QPS, longer outputs or a bigger model never give
    fewer GPUs."""
    reach = Reach("monotone sizing")

    @SETTINGS
    @given(
        st.sampled_from(GPU_IDS),
        st.floats(0.05, 50),
        st.floats(1.0, 4.0),
        st.integers(64, 4096),
        st.sampled_from((1.5, 7, 13, 33, 70)),
    )
    def law(gpu: str, qps: float, factor: float, tokens: int, size: float) -> None:
        reach.run()
        count = pinned_count(gpu, size, qps, tokens)
        more_qps = pinned_count(gpu, size, qps * factor, tokens)
        longer = pinned_count(gpu, size, qps, math.ceil(tokens * factor))
        bigger = pinned_count(gpu, size * factor, qps, tokens)
        reach.hit()
        assert more_qps >= count and longer >= count and bigger >= count

    law()
    reach.check()


def test_estimated_throughput_covers_the_peak_load() -> None:
    """Law: the recommended deployment's estimated output rate covers peak QPS x output
    tokens, the load it was sized for."""
    reach = Reach("throughput covers load")

    @SETTINGS
    @given(workloads())
    def law(w: Workload) -> None:
        reach.run()
        rec = evaluate(w)
        if not rec.facts["deploy_feasible"]:
            reach.note("infeasible")
            return
        reach.hit()
        assert w.peak_qps is not None
        demand = w.peak_qps * w.output_tokens
        assert rec.estimates.throughput_tokens_per_s >= demand * 0.99

    law()
    reach.check()
