"""A stack's measured way to its first token off the GPU (``request_overhead_ms``).

Published runs of one engine image and launch script reach the first token of a 1k prompt
~90 ms apart on different machines (InferenceX, SGLang 0.5.12, 8 x B300 71 ms, 8 x B200
160 ms at one user), so a user who measured their own stack states it: it is validated,
replaces the engine profile's ``request_ms`` in every time to first token (sizing,
``estimate``, ``fleet``), is shown in the report and the row, and a faster stack never
costs more.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import LAW, Reach

from r1rules import (
    CatalogError,
    Workload,
    WorkloadError,
    estimate,
    evaluate,
    fleet,
    load_rules,
)
from r1rules.catalog import default_catalog

ON_B300 = dict(
    model="deepseek-r1",
    gpu="b300",
    gpu_count=8,
    concurrency=1,
    prompt_tokens=1024,
    output_tokens=1024,
    engine="sglang",
)


def _profile_ms(engine: str, gpu: str) -> float:
    catalog = default_catalog()
    return catalog.engine(engine).profile(catalog.gpu(gpu)).request_ms


def test_a_stated_overhead_replaces_the_profiles_in_ttft_only() -> None:
    default = estimate(**ON_B300)  # type: ignore[arg-type]
    stated = estimate(**ON_B300, request_overhead_ms=40)  # type: ignore[arg-type]
    profile = _profile_ms("sglang", "b300")
    assert default.request_ms == profile and stated.request_ms == 40.0
    assert stated.ttft_ms == pytest.approx(default.ttft_ms - (profile - 40.0))
    assert stated.tpot_ms == default.tpot_ms
    assert stated.throughput_tokens_per_s == default.throughput_tokens_per_s
    zero = estimate(**ON_B300, request_overhead_ms=0)  # type: ignore[arg-type]
    assert zero.ttft_ms == pytest.approx(default.ttft_ms - profile)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (-1, "must be in [0, 10000] ms"),
        (10_000.5, "must be in [0, 10000] ms"),
        (math.nan, "must be a finite number"),
        (math.inf, "must be a finite number"),
        ("30", "expected a number, not str"),
        (True, "expected a number, not bool"),
    ],
)
def test_a_bad_overhead_is_refused_by_name_with_its_range(value: object, problem: str) -> None:
    with pytest.raises(WorkloadError) as raised:
        Workload(model="deepseek-r1", peak_qps=1, latency_ms=500, request_overhead_ms=value)  # type: ignore[arg-type]
    assert str(raised.value).startswith("request_overhead_ms: ") and problem in str(raised.value)
    with pytest.raises(WorkloadError) as raised:
        estimate(**ON_B300, request_overhead_ms=value)  # type: ignore[arg-type]
    assert str(raised.value).startswith("request_overhead_ms: ") and problem in str(raised.value)


def test_an_engine_with_a_stated_overhead_records_its_source_and_keeps_its_bounds() -> None:
    engine = default_catalog().engine("trtllm")
    faster = engine.with_request_ms(25.0, "stated: measured")
    assert faster != engine
    assert {p.request_ms for p in faster.profiles.values()} == {25.0}
    assert {p.sources["request_ms"] for p in faster.profiles.values()} == {"stated: measured"}
    assert all(  # nothing else moves
        (p.step_ms, p.bandwidth, p.kernel_us) == (q.step_ms, q.bandwidth, q.kernel_us)
        for p, q in zip(faster.profiles.values(), engine.profiles.values(), strict=True)
    )
    with pytest.raises(CatalogError, match="request_ms"):
        engine.with_request_ms(-1.0, "stated")


def test_evaluate_sizes_with_the_stated_overhead_and_says_so() -> None:
    asked = dict(model="deepseek-r1", peak_qps=2, latency_ms=300, engine="sglang")
    default = evaluate(Workload(**asked))  # type: ignore[arg-type]
    rec = evaluate(Workload(**asked, request_overhead_ms=30))  # type: ignore[arg-type]
    assert rec.estimates.request_ms == 30.0
    assert default.estimates.request_ms == _profile_ms("sglang", default.gpu.id)
    text = rec.report()
    assert "request_overhead_ms  30 ms (your stack's measured way" in text
    assert "(30 of it off the GPU)" in text
    figure = _profile_ms("sglang", default.gpu.id)
    assert f"request_overhead_ms  none (default: the sglang profile's {figure:g} ms)" in (
        default.report()
    )
    assert rec.to_row()["request_overhead_ms"] == 30.0
    assert default.to_row()["request_overhead_ms"] is None
    # every option weighed counts the stack's figure, not the profile's
    gap = _profile_ms("sglang", default.gpu.id) - 30.0  # the same on every NVIDIA/AMD card
    before = {(o.gpu, o.precision, o.gpu_count, o.layout): o.ttft_ms for o in default.options}
    same = [
        o for o in rec.options if o.fits and (o.gpu, o.precision, o.gpu_count, o.layout) in before
    ]
    assert len(same) >= 5
    for option in same:
        key = (option.gpu, option.precision, option.gpu_count, option.layout)
        assert option.ttft_ms == pytest.approx(before[key] - gap)


def test_a_target_the_profiles_overhead_alone_misses_is_met_on_a_faster_stack() -> None:
    """SGLang's profile spends ~120 ms off the GPU: a 100 ms target is out of reach on any
    GPU until the user states a faster stack."""
    asked = dict(model="deepseek-r1", peak_qps=1, latency_ms=100, engine="sglang")
    slow = evaluate(Workload(**asked))  # type: ignore[arg-type]
    fast = evaluate(Workload(**asked, request_overhead_ms=20))  # type: ignore[arg-type]
    assert not slow.chosen.meets_targets
    assert fast.chosen.meets_targets and fast.estimates.ttft_ms <= 100


def test_a_fleet_counts_the_stated_overhead() -> None:
    asked = dict(model="deepseek-r1", gpu="h200", gpu_count=8, latency_ms=2000, engine="sglang")
    default = fleet(Workload(**asked))  # type: ignore[arg-type]
    stated = fleet(Workload(**asked, request_overhead_ms=10))  # type: ignore[arg-type]
    gap = _profile_ms("sglang", "h200") - 10.0
    one, two = default.capacities[0].single, stated.capacities[0].single
    assert two.ttft_ms == pytest.approx(one.ttft_ms - gap)


def test_a_faster_stack_never_costs_more() -> None:
    """Law: GPU unpinned, objective cost: when the slower stack's answer meets the targets,
    the faster stack's does too and costs at most as much (every option's TTFT only falls)."""
    reach = Reach("a faster stack never costs more")

    @LAW
    @given(
        model=st.sampled_from(("deepseek-r1", "deepseek-r1-distill-llama-70b")),
        engine=st.sampled_from(("vllm", "sglang", "trtllm")),
        peak_qps=st.floats(0.1, 30.0),
        latency_ms=st.sampled_from([120.0, 200.0, 400.0, 1000.0]),
        slower=st.floats(0.0, 600.0),
        faster_by=st.floats(1.0, 600.0),
    )
    def law(
        model: str,
        engine: str,
        peak_qps: float,
        latency_ms: float,
        slower: float,
        faster_by: float,
    ) -> None:
        reach.run()
        asked = dict(model=model, engine=engine, peak_qps=peak_qps, latency_ms=latency_ms)
        slow = evaluate(Workload(**asked, request_overhead_ms=slower), options=False)  # type: ignore[arg-type]
        faster = max(0.0, slower - faster_by)
        fast = evaluate(Workload(**asked, request_overhead_ms=faster), options=False)  # type: ignore[arg-type]
        if not slow.chosen.meets_targets or slow.cost is None or fast.cost is None:
            reach.note("the slower stack's answer misses the targets")
            return
        reach.hit()
        assert fast.chosen.meets_targets
        assert fast.cost.capital_usd <= slow.cost.capital_usd + 1e-6

    law()
    reach.check()


def test_a_rule_can_read_the_stated_overhead(tmp_path: Path) -> None:
    """``request_overhead_ms`` is a workload fact when given (absent otherwise, so a
    condition on it is false): a rule folder layered on the shipped rules can warn on it."""
    (tmp_path / "50-host.toml").write_text(
        """
[[tables]]
id = "host"
title = "The stack's own way to the first token"
hit_policy = "collect"

  [[tables.rules]]
  id = "slow-host"
  title = "A slow host path"
  source = "test"
  why = "test"
  when = { request_overhead_ms = { gte = 200 } }
  warn = "{request_overhead_ms:g} ms off the GPU of a {latency_ms:g} ms target"
""",
        encoding="utf-8",
    )
    rules = load_rules(tmp_path, include_shipped=True)
    asked = dict(model="deepseek-r1", peak_qps=1, latency_ms=2000)
    slow = evaluate(Workload(**asked, request_overhead_ms=250), rules=rules)  # type: ignore[arg-type]
    fast = evaluate(Workload(**asked, request_overhead_ms=50), rules=rules)  # type: ignore[arg-type]
    unstated = evaluate(Workload(**asked), rules=rules)  # type: ignore[arg-type]
    texts = [w.text for w in slow.warnings if w.rule_id == "slow-host"]
    assert texts == ["250 ms off the GPU of a 2000 ms target"]
    assert slow.facts["request_overhead_ms"] == 250.0
    assert "request_overhead_ms" not in unstated.facts
    for rec in (fast, unstated):
        assert all(w.rule_id != "slow-host" for w in rec.warnings)
