"""Physics-grounded sizing (issue: ground every recommendation in physics).

Published figures used here:
- DeepSeek-R1 FP8 weights ~689 GB incl. the 14B MTP module (reference models.toml; HF listing);
  8 x H100 80 GB = 640 GB can never hold them; 8 x H200 141 GB = 1,128 GB can.
- DeepSeek-R1-Distill-Llama-70B BF16 checkpoint 141.1 GB (reference models.toml).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, cast

import pytest

from r1rules import EvaluationError, Workload, estimate, evaluate, load_rules
from r1rules.catalog import default_catalog
from r1rules.physics import size
from r1rules.physics._memory import kv_cache_bytes_per_token, usable_gb_per_gpu, weights_gb

CATALOG = default_catalog()
LIGHT: dict[str, Any] = {
    "peak_qps": 0.01,
    "latency_ms": 60_000,
    "prompt_tokens": 1000,
    "output_tokens": 1000,
}


def test_fp8_r1_needs_a_full_h200_node_or_two_h100_nodes() -> None:
    h200 = evaluate(Workload(model="deepseek-r1", gpu="h200", **LIGHT))
    assert (h200.gpu.count, h200.nodes, h200.facts["pipeline_parallel"]) == (8, 1, 1)
    h100 = evaluate(Workload(model="deepseek-r1", gpu="h100-sxm", **LIGHT))
    assert (h100.gpu.count, h100.nodes, h100.facts["pipeline_parallel"]) == (16, 2, 2)
    assert not estimate(model="deepseek-r1", gpu="h100-sxm", gpu_count=8, concurrency=1).fits
    assert estimate(model="deepseek-r1", gpu="h200", gpu_count=8, concurrency=1).fits


def test_fp8_r1_unpinned_stays_on_the_article_h100_over_two_nodes() -> None:
    rec = evaluate(Workload(model="deepseek-r1", objective="article", **LIGHT))
    assert rec.edition == "enterprise"
    assert (rec.gpu.id, rec.gpu.count, rec.nodes) == ("h100-sxm", 16, 2)


def test_70b_distill_in_bf16_needs_4_l40s() -> None:
    rec = evaluate(Workload(model="deepseek-r1-distill-llama-70b", gpu="l40s", **LIGHT))
    assert rec.gpu.count == 4 and rec.facts["tensor_parallel"] == 4
    # 3 cards cannot hold it (and 3 is no tensor-parallel degree a 64-head model allows)
    assert not estimate(
        model="deepseek-r1-distill-llama-70b", gpu="l40s", gpu_count=3, concurrency=1
    ).fits
    assert any(w.rule_id == "tensor-parallel-over-pcie" for w in rec.warnings)


def test_70b_at_1_qps_needs_4_h100_because_2_leave_no_room_for_the_kv_cache() -> None:
    w = Workload(
        model="deepseek-r1-distill-llama-70b",
        gpu="h100-sxm",
        peak_qps=1,
        latency_ms=5000,
        prompt_tokens=1000,
        output_tokens=1000,
    )
    rec = evaluate(w)
    assert rec.gpu.count == 4
    model, h100 = CATALOG.model(str(w.model)), CATALOG.gpu("h100-sxm")
    weights = weights_gb(model, "bf16")
    assert weights < 2 * h100.memory_gb  # two H100s hold the weights ...
    load_kv_gb = (
        cast(float, rec.facts["concurrency"]) * 2000 * kv_cache_bytes_per_token(model, "bf16") / 1e9
    )
    room = 2 * usable_gb_per_gpu(h100, model, 2) - weights
    assert room < load_kv_gb  # ... but not the KV cache this load keeps in flight


def test_article_gpu_that_cannot_hold_the_model_moves_up_the_ladder() -> None:
    # R1 in FP32 is ~2.7 TB of weights: 4 nodes of 8 x H100 (the enterprise span) hold
    # ~2.3 TB, so the rules move to the next GPU of the ladder, and say which rule did it.
    rec = evaluate(Workload(model="deepseek-r1", precision="fp32", objective="article", **LIGHT))
    assert rec.edition == "enterprise"
    assert rec.gpu.id == "h200"
    assert rec.justification_for("gpu")[0].rule_id == "gpu-upgraded-for-memory"
    warning = next(w for w in rec.warnings if w.rule_id == "gpu-upgraded-for-memory")
    assert warning.text.startswith("The article's h100-sxm cannot hold deepseek-r1 in fp32")
    assert any(n.rule_id == "remedy-quantize" for n in rec.notes)


def test_pinned_gpu_is_honoured_with_a_poor_fit_warning() -> None:
    rec = evaluate(Workload(model="deepseek-r1", gpu="rtx-4090", **LIGHT))
    assert rec.gpu.id == "rtx-4090"
    ids = {w.rule_id for w in rec.warnings}
    assert {"fp8-not-native", "consumer-gpu-in-production"} <= ids or "pinned-gpu-too-small" in ids
    fp8_a100 = evaluate(
        Workload(model="deepseek-r1-distill-qwen-7b", precision="fp8", gpu="a100-80gb", **LIGHT)
    )
    assert any(w.rule_id == "fp8-not-native" for w in fp8_a100.warnings)


def test_int8_on_a_gpu_whose_int8_units_are_slower_than_bf16_is_said_to_run_dequantised() -> None:
    """Blackwell Ultra (B300) computes INT8 at 150 TOPS against BF16's 2,250: the answer
    warns that INT8 weights run dequantised; on the B200 (INT8 4,500) it does not."""
    asked = dict(model="deepseek-r1-distill-llama-70b", precision="int8", **LIGHT)
    b300 = evaluate(Workload(**asked, gpu="b300"))
    b200 = evaluate(Workload(**asked, gpu="b200"))
    warning = next(w for w in b300.warnings if w.rule_id == "int8-served-dequantised")
    assert warning.text.startswith("b300 computes INT8 slower than BF16")
    assert b300.facts["precision_native_on_gpu"] is False
    assert b200.facts["precision_native_on_gpu"] is True
    assert all(w.rule_id != "int8-served-dequantised" for w in b200.warnings)


def test_unreachable_latency_target_is_reported_with_the_best_figure() -> None:
    rec = evaluate(
        Workload(
            model="deepseek-r1-distill-llama-70b",
            gpu="l4",
            peak_qps=1,
            latency_ms=5,
            prompt_tokens=4000,
            output_tokens=500,
        )
    )
    warning = next(w for w in rec.warnings if w.rule_id == "latency-target-unmet")
    best = rec.facts["best_ttft_ms"]
    assert isinstance(best, float) and best > 5
    assert f"{best:,.0f} ms" in warning.text and "5 ms" in warning.text


def test_estimates_are_exposed_with_units_in_names() -> None:
    rec = evaluate(Workload(model="deepseek-r1", gpu="h200", **LIGHT))
    e = rec.estimates
    assert e.kv_cache_bytes_per_token == 70_272  # (512 + 64) x 61 layers x 2 bytes
    assert 660 < e.weights_gb < 700  # ~671B x 1 byte + BF16 embeddings + scales, no MTP
    for name in (
        "kv_cache_gb",
        "total_memory_gb",
        "memory_per_gpu_gb",
        "ttft_ms",
        "tpot_ms",
        "throughput_tokens_per_s",
    ):
        assert math.isfinite(getattr(e, name)) and getattr(e, name) > 0, name
    assert e.max_concurrency >= 1


def test_seed_formula_is_shown_beside_physics() -> None:
    rec = evaluate(Workload(params_b=65, peak_qps=150, latency_ms=100))
    note = next(n for n in rec.notes if n.rule_id.startswith("gpu-count-"))
    assert f"{rec.facts['formula_gpu_count']}" in note.text
    assert rec.gpu.count == max(
        cast(int, rec.facts["formula_gpu_count"]),
        cast(int, rec.facts["physics_gpu_count"]),
    )


def test_headroom_is_the_rules_fact_for_replicas_and_the_seed_formula(rules_copy: Path) -> None:
    """The 20% headroom lives in one rule: change it there and both the replicas (peak x
    (1 + headroom)) and the seed's §4.3 formula (its 1.2 factor) follow."""
    workload = Workload(params_b=65, gpu="h100-sxm", peak_qps=150, latency_ms=2000)
    shipped = evaluate(workload)
    assert shipped.facts["headroom_fraction"] == 0.2
    tree = rules_copy / "20-decision-tree.toml"
    text = tree.read_text(encoding="utf-8")
    assert text.count("set = { headroom_fraction = 0.2 }") == 1
    tree.write_text(text.replace("headroom_fraction = 0.2 }", "headroom_fraction = 1.0 }"))
    doubled = evaluate(workload, load_rules(rules_copy))
    assert doubled.facts["headroom_fraction"] == 1.0
    for name in ("formula_gpu_count", "replicas"):
        before, after = shipped.facts[name], doubled.facts[name]
        assert isinstance(before, int) and isinstance(after, int)
        # 2.0 / 1.2 as much demand, give or take the rounding up to whole GPUs / replicas
        assert (before - 1) * 2.0 / 1.2 <= after <= (before + 1) * 2.0 / 1.2, name


def test_size_reads_headroom_as_given() -> None:
    model, gpu = CATALOG.model("deepseek-r1-distill-llama-8b"), CATALOG.gpu("h100-sxm")
    common = dict(peak_qps=400.0, latency_ms=2000.0, prompt_tokens=1024, output_tokens=1024)
    counts = {
        h: size(model, "bf16", "bf16", gpu, **common, headroom_fraction=h, max_nodes=1)
        for h in (0.0, 0.5, 1.0)
    }
    assert counts[0.0].formula_gpu_count < counts[0.5].formula_gpu_count
    assert counts[0.5].formula_gpu_count < counts[1.0].formula_gpu_count
    assert counts[0.0].replicas <= counts[0.5].replicas <= counts[1.0].replicas
    assert counts[0.0].replicas < counts[1.0].replicas


def test_a_load_needing_more_than_2_53_gpus_is_refused_by_name() -> None:
    """The failing example the hostile-workload property drew: the sized count is beyond any
    deployment (and beyond what the rules compare exactly); the refusal says so, for the
    answer, and the options leave such a GPU out. (The property drew 627,743,526 requests/s;
    since the search reaches as many pipeline stages as whole layers need, deeper pipelines
    leave more room for the cache and that load needs 6.7e15 GPUs, so the limit of the
    workload's range is taken.)"""
    huge = Workload(params_b=4340.0, peak_qps=1e9, latency_ms=1.0, gpu="a10", output_tokens=88146)
    with pytest.raises(EvaluationError, match=r"needs .* a10 GPUs, beyond 2\*\*53: no deployment"):
        evaluate(huge)
