"""Catalog records are valid however they are built, and the physics is sound for any of them.

``Model`` and ``Gpu`` check their fields on construction (so ``attrs.evolve`` does too);
a config.json's problems name the file and the config key; for random valid models and
GPUs the memory and roofline physics gives finite, non-negative figures.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import attrs
import pytest
from hfconfigs import LLAMA_CONFIG, R1_CONFIG
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import Reach

from r1rules import CatalogError, EvaluationError, Gpu, Model, model_from_hf_config
from r1rules._vocabulary import KV_PRECISIONS, PRECISIONS
from r1rules.catalog import default_catalog
from r1rules.catalog._schema import HF_KEYS, MODEL_SCHEMA, dense_count
from r1rules.physics import estimate_deployment, kv_cache_bytes_per_token, size, weights_gb

CATALOG = default_catalog()
R1 = CATALOG.model("deepseek-r1")
QWEN_7B = CATALOG.model("deepseek-r1-distill-qwen-7b")
H100 = CATALOG.gpu("h100-sxm")


@pytest.mark.parametrize(
    ("record", "changes", "message"),
    [
        (R1, {"num_layers": 0}, "num_layers: expected a positive integer, got 0"),
        (
            QWEN_7B,
            {"num_attention_heads": -28},
            "num_attention_heads: expected a positive integer, got -28",
        ),
        (QWEN_7B, {"head_dim": 128.0}, "head_dim: expected an integer, got 128.0"),
        (QWEN_7B, {"vocab_size": True}, "vocab_size: expected an integer, got true (a boolean)"),
        (R1, {"total_params_b": math.inf}, "total_params_b: expected a finite number, got inf"),
        (R1, {"active_params_b": math.nan}, "active_params_b: expected a finite number, got nan"),
        (QWEN_7B, {"num_kv_heads": 3}, "num_kv_heads: must divide num_attention_heads (28)"),
        (
            QWEN_7B,
            {"hidden_size": 3585},
            "hidden_size: must be a multiple of num_attention_heads (28)",
        ),
        (
            R1,
            {"experts_per_token": 257},
            "experts_per_token: must not exceed n_routed_experts (256)",
        ),
        (R1, {"first_dense_layers": 61}, "first_dense_layers: must be below num_layers (61)"),
        (R1, {"kv_lora_rank": -1}, "kv_lora_rank: expected a non-negative integer, got -1"),
        (
            R1,
            {"native_precision": "fp9"},
            "native_precision: unknown value 'fp9' (did you mean 'fp8'?); "
            "allowed: fp32, bf16, fp16, fp8, int8, int4",
        ),
        (R1, {"id": " "}, "id: expected a non-empty string, got ' '"),
        (H100, {"memory_gb": 0}, "memory_gb: expected a positive number, got 0"),
        (
            H100,
            {"memory_bandwidth_gbps": math.nan},
            "memory_bandwidth_gbps: expected a finite number, got nan",
        ),
        (
            H100,
            {"interconnect_bw_gbps": -1.0},
            "interconnect_bw_gbps: expected a non-negative number, got -1.0",
        ),
        (H100, {"max_per_node": 0}, "max_per_node: expected a positive integer, got 0"),
        (
            H100,
            {"tflops": {**H100.tflops, "int8": -1}},
            "tflops.int8: expected a non-negative number, got -1",
        ),
        (
            H100,
            {"tflops": {**H100.tflops, "fp32": math.inf}},
            "tflops.fp32: expected a finite number, got inf",
        ),
        (H100, {"price_usd": -5.0}, "price_usd: expected a positive number, got -5.0"),
        (
            H100,
            {"tflops": {**H100.tflops, "fp32": 1e-300}},
            "tflops.fp32: expected 0 or a number in [0.01, 1e+06], got 1e-300",
        ),
        (
            H100,
            {"memory_bandwidth_gbps": 5e-324},
            "memory_bandwidth_gbps: expected a number in [1, 1e+06], got 5e-324",
        ),
    ],
)
def test_evolve_refuses_a_bad_field_naming_it_and_its_value(
    record: Model | Gpu, changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(CatalogError) as caught:
        attrs.evolve(record, **changes)
    assert str(caught.value) == message


def test_every_problem_of_a_record_is_listed() -> None:
    with pytest.raises(CatalogError) as caught:
        attrs.evolve(R1, num_layers=0, vocab_size=-1)
    assert str(caught.value) == (
        "2 problems in model 'deepseek-r1':\n"
        "  num_layers: expected a positive integer, got 0\n"
        "  vocab_size: expected a positive integer, got -1"
    )


def test_a_valid_change_is_accepted() -> None:
    deeper = attrs.evolve(QWEN_7B, num_layers=56)
    assert deeper.num_layers == 56 and kv_cache_bytes_per_token(deeper) == 2 * (
        kv_cache_bytes_per_token(QWEN_7B)
    )


def test_the_one_field_table_names_every_config_key() -> None:
    """Each architecture field a config.json fills maps to one key, and back."""
    assert set(HF_KEYS) <= set(MODEL_SCHEMA)
    keys = [hf.key for hf in HF_KEYS.values()]
    assert len(set(keys)) == len(keys)
    assert HF_KEYS["num_layers"].key == "num_hidden_layers"
    assert HF_KEYS["first_dense_layers"].key == "first_k_dense_replace"


# --- config.json: each problem names the file and the config key ----------------------------

LLAMA = LLAMA_CONFIG


def _config(tmp_path: Path, config: dict[str, Any]) -> Path:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    return path


def test_hf_config_model_problems_name_the_file_and_the_config_key(tmp_path: Path) -> None:
    path = _config(tmp_path, {**R1_CONFIG, "num_experts_per_tok": 300, "first_k_dense_replace": 61})
    with pytest.raises(CatalogError) as caught:
        model_from_hf_config(path)
    assert str(caught.value) == (
        "2 problems in the Hugging Face config:\n"
        f"  {path}: num_experts_per_tok: must not exceed n_routed_experts (256)\n"
        f"  {path}: first_k_dense_replace: must be below num_layers (61)"
    )
    path = _config(tmp_path, {**LLAMA, "num_key_value_heads": 5})
    with pytest.raises(CatalogError) as caught:
        model_from_hf_config(path)
    assert str(caught.value) == (
        "1 problem in the Hugging Face config:\n"
        f"  {path}: num_key_value_heads: must divide num_attention_heads (32)"
    )


def test_hf_config_without_head_dim_needs_heads_dividing_hidden_size(tmp_path: Path) -> None:
    path = _config(tmp_path, {**LLAMA, "hidden_size": 4100})
    with pytest.raises(CatalogError) as caught:
        model_from_hf_config(path)
    assert str(caught.value) == (
        "1 problem in the Hugging Face config:\n"
        f"  {path}: hidden_size: 4100 is not a multiple of num_attention_heads (32), "
        "and no head_dim is given"
    )
    assert model_from_hf_config(_config(tmp_path, {**LLAMA, "head_dim": 128})).head_dim == 128


def test_hf_config_of_a_deepseek_v3_shape_matches_r1(tmp_path: Path) -> None:
    model = model_from_hf_config(_config(tmp_path, {**R1_CONFIG, "_name_or_path": "x/y"}))
    for field in HF_KEYS:
        assert getattr(model, field) == getattr(R1, field), field
    assert model.total_params_b == pytest.approx(R1.total_params_b, rel=0.01)


# --- the physics is sound for every valid model and GPU -------------------------------------


@st.composite
def dense_models(draw: st.DrawFn) -> Model:
    kv_heads = draw(st.integers(1, 16))
    heads = kv_heads * draw(st.integers(1, 8))
    fields: dict[str, Any] = {
        "hidden_size": heads * draw(st.integers(1, 64)),
        "num_layers": draw(st.integers(1, 64)),
        "intermediate_size": draw(st.integers(1, 30_000)),
        "num_attention_heads": heads,
        "num_kv_heads": kv_heads,
        "head_dim": draw(st.integers(1, 256)),
        "vocab_size": draw(st.integers(1, 160_000)),
        "tie_word_embeddings": draw(st.booleans()),
        "max_context_tokens": draw(st.integers(2, 1_000_000)),
    }
    total = dense_count(fields) / 1e9
    return Model(
        id="dense-x",
        name="x",
        hf_repo=None,
        aliases=(),
        kind="dense",
        attention="gqa",
        nominal_params_b=total,
        total_params_b=total,
        active_params_b=total,
        native_precision=draw(st.sampled_from(PRECISIONS)),
        source="hypothesis",
        **fields,
    )


@st.composite
def mla_moe_models(draw: st.DrawFn) -> Model:
    heads = draw(st.integers(1, 128))
    layers = draw(st.integers(2, 32))
    routed = draw(st.integers(1, 64))
    fields: dict[str, Any] = {
        "hidden_size": heads * draw(st.integers(1, 32)),
        "num_layers": layers,
        "intermediate_size": draw(st.integers(1, 20_000)),
        "num_attention_heads": heads,
        "num_kv_heads": heads,
        "head_dim": draw(st.integers(1, 256)),
        "vocab_size": draw(st.integers(1, 160_000)),
        "tie_word_embeddings": draw(st.booleans()),
        "max_context_tokens": draw(st.integers(2, 1_000_000)),
        "kv_lora_rank": draw(st.integers(1, 1024)),
        "qk_rope_head_dim": draw(st.integers(1, 128)),
        "n_routed_experts": routed,
        "n_shared_experts": draw(st.integers(0, 2)),
        "experts_per_token": draw(st.integers(1, routed)),
        "moe_intermediate_size": draw(st.integers(1, 2048)),
        "first_dense_layers": draw(st.integers(0, layers - 1)),
    }
    base: dict[str, Any] = dict(
        id="moe-x", name="x", hf_repo=None, aliases=(), kind="moe", attention="mla"
    )
    base.update(native_precision=draw(st.sampled_from(PRECISIONS)), source="hypothesis")
    # the total must leave room for attention: find the floor from the record's own refusal
    try:
        Model(**base, **fields, nominal_params_b=1e-9, total_params_b=1e-9, active_params_b=1e-9)
        floor = 1e-9
    except CatalogError as exc:
        floor = float(str(exc).split(" are ")[1].split()[0])
    total = floor * draw(st.floats(1.01, 3.0))
    active = total * draw(st.floats(0.01, 1.0))
    return Model(
        **base, **fields, nominal_params_b=total, total_params_b=total, active_params_b=active
    )


@st.composite
def gpus(draw: st.DrawFn) -> Gpu:
    half = draw(st.floats(1.0, 5000.0))
    fp8 = draw(st.sampled_from((0.0, 2 * half)))
    int4 = draw(st.sampled_from((0.0, 4 * half)))
    rates = {"fp32": draw(st.just(0.0) | st.floats(0.01, half)), "bf16": half, "fp16": half}
    rates.update(fp8=fp8, int8=draw(st.just(0.0) | st.floats(0.01, 4 * half)), int4=int4)
    domain = draw(st.sampled_from((1, 2, 4, 8, 72)))
    hbm = draw(st.booleans())
    return Gpu(
        id="gpu-x",
        name="x",
        vendor="x",
        aliases=(),
        segment=draw(st.sampled_from(("consumer", "datacenter"))),
        memory_gb=draw(st.floats(8.0, 300.0)),
        memory_type="HBM3" if hbm else "GDDR6",
        hbm=hbm,
        memory_bandwidth_gbps=draw(st.floats(50.0, 10_000.0)),
        tflops=rates,
        fp8_native=fp8 > 0,
        int4_native=int4 > 0,
        interconnect="x",
        interconnect_bw_gbps=0.0 if domain == 1 else draw(st.floats(10.0, 2000.0)),
        nvlink_domain=domain,
        max_per_node=draw(st.sampled_from((1, 2, 4, 8, 16))),
        tdp_w=300.0,
        price_usd=None,
        cloud_usd_per_hour=None,
        source="hypothesis",
    )


def _sound(value: float, name: str) -> None:
    assert math.isfinite(value) and value >= 0, (name, value)


def test_the_physics_is_finite_and_non_negative_for_any_valid_model_and_gpu() -> None:
    reach = Reach("physics over random valid records")

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        st.one_of(dense_models(), mla_moe_models()),
        gpus(),
        st.sampled_from(PRECISIONS),
        st.sampled_from(KV_PRECISIONS),
        st.integers(1, 64),
        st.integers(1, 512),
        st.integers(1, 8192),
        st.integers(1, 8192),
    )
    def law(
        model: Model,
        gpu: Gpu,
        precision: str,
        kv: str,
        count: int,
        users: int,
        prompt: int,
        output: int,
    ) -> None:
        reach.run()
        _sound(weights_gb(model, precision), "weights_gb")
        assert kv_cache_bytes_per_token(model, kv) > 0
        est = estimate_deployment(model, precision, gpu, count, users, prompt, output, kv)
        for field in attrs.fields(type(est)):
            value = getattr(est, field.name)
            if field.name in ("ttft_ms", "tpot_ms") and not est.fits:
                assert value == math.inf  # documented: nothing runs
            elif isinstance(value, (int, float)):
                _sound(float(value), field.name)
        try:
            sizing = size(
                model,
                precision,
                kv,
                gpu,
                peak_qps=1.0,
                latency_ms=1000.0,
                prompt_tokens=prompt,
                output_tokens=output,
                headroom_fraction=0.2,
                max_nodes=2,
            )
        except EvaluationError:
            reach.note("does not fit even over 1,024 nodes")
            return
        for name in ("ttft_ms", "best_ttft_ms", "tpot_ms", "concurrency"):
            _sound(getattr(sizing, name), name)
        assert sizing.sized_gpu_count >= 1 and sizing.replicas >= 1
        if est.fits:
            assert est.ttft_ms > 0 and est.tpot_ms > 0 and est.throughput_tokens_per_s > 0
            reach.hit("fits: every figure finite and non-negative")
        else:
            reach.note("estimate does not fit")

    law()
    reach.check(share=0.5)
