"""Roofline timing against public measurements, layout choice, errors and monotonicity laws.

The efficiencies are fitted to measurements (``benchmarks/accuracy.py`` scores them on a
held-out split); the bands below are wide checks of the physics around them and can still
fail. Records come from ``test_memory`` (the catalog, or hand-built copies of the reference).
"""

from __future__ import annotations

import math

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_memory import ALL_MODELS, DISTILLS, gpu, model

from r1rules._errors import CatalogError, WorkloadError
from r1rules._vocabulary import PRECISIONS
from r1rules.catalog import default_catalog
from r1rules.physics import _ep, _layout, _memory, _placement, _roofline
from r1rules.physics._efficiency import default_engine, efficiency
from r1rules.physics._estimates import estimate_deployment as estimate
from r1rules.physics._memory import kv_cache_bytes_per_token
from r1rules.physics._roofline import (
    GEFORCE_FP16_ACCUMULATE,
    KERNELS_PER_LAYER,
    compute_tflops,
    consts,
    decode_step_ms,
    native_support,
    prefill_ms,
)

GPUS = ("h100-sxm", "h200", "a100-80gb", "l40s", "rtx-4090")


def _tps(model_id: str) -> list[int]:
    heads = model(model_id).num_attention_heads
    return [tp for tp in (1, 2, 4, 8) if heads % tp == 0]


# --- compute rates --------------------------------------------------------------------------


def test_fp8_on_a100_runs_at_the_bf16_rate() -> None:
    a100, h100 = gpu("a100-80gb"), gpu("h100-sxm")
    assert not native_support(a100, "fp8")
    assert compute_tflops(a100, "fp8") == 312  # A100 BF16 dense (MLENG table)
    assert native_support(h100, "fp8")
    assert compute_tflops(h100, "fp8") == 1979  # H100 SXM FP8 dense


def test_int8_on_b300_runs_at_the_bf16_rate_its_own_is_below() -> None:
    """Blackwell Ultra cut INT8 to 150 TOPS dense (BF16 2,250): INT8 weights are served
    dequantised at the BF16 rate, not on the INT8 units (a native rate below BF16 loses)."""
    b300, b200 = gpu("b300"), gpu("b200")
    assert b300.tflops["int8"] == 150
    assert not native_support(b300, "int8") and native_support(b200, "int8")
    assert compute_tflops(b300, "int8") == compute_tflops(b300, "bf16") == 2250
    assert compute_tflops(b300, "fp8") == 4500  # FP8 unchanged from the B200
    assert compute_tflops(b200, "int8") == 4500


def test_int4_is_weight_only_and_fp16_accumulates_in_fp32() -> None:
    l40s = gpu("l40s")
    assert native_support(l40s, "int4")
    assert compute_tflops(l40s, "int4") == 362  # GPTQ/AWQ kernels are W4A16: BF16 rate
    assert compute_tflops(l40s, "fp16") == 362


def test_int4_on_a_geforce_card_accumulates_in_fp16() -> None:
    """GGUF/EXL2 int4 kernels on GeForce cards run FP16-accumulate tensor math, which those
    cards run at twice the FP32-accumulate rate the catalog lists (RTX 4090: 330.3 vs 165.2
    dense, Ada whitepaper). Changed on purpose: int4 was charged the 165.2 rate."""
    rtx4090 = gpu("rtx-4090")
    assert compute_tflops(rtx4090, "int4") == pytest.approx(2 * 165.2)
    assert GEFORCE_FP16_ACCUMULATE == 2.0
    assert compute_tflops(rtx4090, "bf16") == compute_tflops(rtx4090, "fp16") == 165.2
    assert compute_tflops(rtx4090, "fp8") == 330.3  # its own rate (FP32 accumulate)
    datacenter = attrs.evolve(rtx4090, segment="datacenter")
    assert compute_tflops(datacenter, "int4") == 165.2


def test_fp32_without_a_rate_uses_tf32() -> None:
    h100 = gpu("h100-sxm")
    no_fp32 = attrs.evolve(h100, tflops={**h100.tflops, "fp32": 0.0})
    assert compute_tflops(no_fp32, "fp32") == 989 / 2  # TF32 494.7 dense on H100


def test_a_gpu_without_half_precision_rate_is_a_catalog_error() -> None:
    """compute_tflops falls back to the bf16/fp16 rate: a GPU without one is refused whole."""
    h100 = gpu("h100-sxm")
    with pytest.raises(CatalogError) as caught:
        attrs.evolve(h100, tflops={p: 0.0 for p in PRECISIONS}, fp8_native=False)
    assert str(caught.value) == (
        "tflops: needs a bf16 or fp16 rate above 0 (the rate matmuls fall back to)"
    )


# --- against public measurements ------------------------------------------------------------


def test_single_stream_8b_decode_on_h100() -> None:
    # Llama-3.1-8B-class BF16 on one H100 SXM, one request: ~100-200 tok/s in public vLLM and
    # TensorRT-LLM runs (bandwidth ceiling 3,350 GB/s / 15 GB = 223 tok/s).
    step = decode_step_ms(
        model("deepseek-r1-distill-llama-8b"), "bf16", "bf16", gpu("h100-sxm"), 1, 1, 1, 1088
    )
    assert 100 < 1000 / step < 200


def test_single_stream_8b_decode_on_a100_is_near_the_measurement() -> None:
    # vLLM, Llama-3.1-8B BF16, A100 40GB, 1024 in / 128 out, one request: ~75 tok/s
    # (johnmusgrave.com/p/vllm-throughput-latency-sweep-on). It used to be the one point
    # KERNEL_LATENCY_US was fitted to (within 10 %); now it is one training case of
    # STEP_MS and kernel_us among ten, so the band is the benchmark's 2x target, tightened.
    step = decode_step_ms(
        model("deepseek-r1-distill-llama-8b"), "bf16", "bf16", gpu("a100-40gb"), 1, 1, 1, 1088
    )
    assert 1000 / step == pytest.approx(75, rel=0.15)


@pytest.mark.parametrize(("users", "measured_tok_s_per_user"), [(16, 20.0), (64, 10.4)])
def test_r1_on_8_h200_against_sglang(users: int, measured_tok_s_per_user: float) -> None:
    # Inspur NF5688G7 (8 x H200), SGLang 0.4.3, DeepSeek-R1 FP8: ~20 tok/s per user at 16
    # users, 10.4 at 64 (besthub.dev write-up of Inspur's Metabrain R1 results). The
    # roofline may be faster than early-2025 kernels, by less than 4x; never much slower.
    # Inspur ran TP8 (the search alone may pick EP8 with DP attention at 64 users).
    e = estimate(model("deepseek-r1"), "fp8", gpu("h200"), 8, users, 1000, 1000, tensor_parallel=8)
    assert (e.tensor_parallel, e.pipeline_parallel, e.fits) == (8, 1, True)
    per_user = 1000 / e.tpot_ms
    assert 0.8 * measured_tok_s_per_user < per_user < 4 * measured_tok_s_per_user


def test_r1_decode_per_node_against_tp16_and_deepseek() -> None:
    # LMSYS, 96 x H100 (lmsys.org/blog/2025-05-05-large-scale-ep): EP decode 22,282 tok/s per
    # node at 2K input, "5.2x over the TP16 baseline" -> TP over 2 nodes ~4,300 tok/s/node.
    # DeepSeek day 6 (open-infra-index): 14.8k tok/s per H800 node with EP144 -- a TP layout
    # cannot reach it.
    r1, h100 = model("deepseek-r1"), gpu("h100-sxm")
    e = estimate(r1, "fp8", h100, 16, 100_000, 2000, 100, tensor_parallel=8, pipeline_parallel=2)
    assert (e.tensor_parallel, e.pipeline_parallel) == (8, 2)
    step = decode_step_ms(r1, "fp8", "bf16", h100, 8, 2, e.max_concurrency, 2050)
    per_node = e.max_concurrency * 1000 / step / 2
    assert 4300 / 3 < per_node < 4300 * 3
    assert per_node < 14_800


def test_r1_prefill_per_node_against_tp8_runs_and_expert_parallel() -> None:
    # Tensor-parallel R1 (each rank holds 1/8 of every expert) prefills far below SGLang's
    # expert-parallel EP32 (50,302 tok/s per 8 x H100 node at 4K prompts, lmsys.org/blog/
    # 2025-05-05-large-scale-ep), which r1rules does not model. GPUStack's vLLM 0.11 TP8 on
    # 8 x H200 prefilled 500 prompts of 4,000 tokens at ~15k tok/s (1,997,530 prompt tokens
    # in a 132.7 s run that also decoded 100,000 tokens), 2,000-token ones at ~17k
    # (gpustack-vllm011-* in benchmarks/measurements.toml). Early-2025 vLLM (dstack, 3,200
    # tokens) implied 5-13k; the old 25 % MoE MFU of the EP deployment, 4-10x that.
    r1, h200 = model("deepseek-r1"), gpu("h200")
    per_node = 8 * 4096 * 1000 / prefill_ms(r1, "fp8", h200, 8, 1, 4096, batch=8)
    assert 15_000 * 0.8 < per_node < 15_000 * 2 < 50_302


def test_attention_runs_in_bf16_whatever_the_weights() -> None:
    """A long prompt's attention FLOPs are charged at the BF16 rate: a GPU with a 100x FP8
    rate speeds up the matmuls of an FP8 model, never its attention."""
    r1, h200 = model("deepseek-r1"), gpu("h200")
    fast_fp8 = attrs.evolve(h200, tflops={**h200.tflops, "fp8": 100 * h200.tflops["fp8"]})
    prompt = 32_768
    c = consts(r1, "fp8", "bf16", 8)
    attention_ms = (
        prompt
        * (prompt + 1)
        / 2
        * c.attn_flops_prefill
        / 8
        / (h200.tflops["bf16"] * 1e9 * efficiency(h200).attention)
    )
    assert prefill_ms(r1, "fp8", fast_fp8, 8, 1, prompt) > attention_ms
    assert prefill_ms(r1, "fp8", h200, 8, 1, prompt) > prefill_ms(r1, "fp8", fast_fp8, 8, 1, prompt)


@pytest.mark.parametrize("model_id", ALL_MODELS)
def test_every_pass_pays_the_host_step_and_each_kernel(model_id: str) -> None:
    """A forward pass never takes less than the host's work plus one launch latency for each
    kernel of each layer (a per-pass overhead, whatever the batch)."""
    m, h100 = model(model_id), gpu("h100-sxm")
    kind = "moe" if m.kind == "moe" else "dense"
    eff = efficiency(h100)
    floor_ms = eff.step_ms + m.num_layers * KERNELS_PER_LAYER[kind] * eff.kernel_us / 1e3
    tp = 8 if m.kind == "moe" else 1
    for batch in (1, 64):
        assert decode_step_ms(m, "fp8", "bf16", h100, tp, 1, batch, 1) > floor_ms
    assert prefill_ms(m, "fp8", h100, tp, 1, 1) > floor_ms


def test_efficiencies_are_fractions_and_times() -> None:
    for engine in default_catalog().engines.values():
        for row in engine.profiles.values():
            fractions = (row.bandwidth, row.dense_gemm, row.expert_gemm, row.expert_gemm_ep)
            for fraction in (*fractions, row.attention):
                assert 0.0 < fraction <= 1.0
            assert row.kernel_us > 0.0
            assert row.step_ms >= 0.0


def test_each_vendor_and_segment_has_its_own_efficiencies() -> None:
    h200, mi300x, rtx4090 = gpu("h200"), gpu("mi300x"), gpu("rtx-4090")
    profiles = default_engine().profiles
    assert efficiency(h200) is profiles["NVIDIA datacenter"]
    assert efficiency(mi300x) is profiles["AMD datacenter"]
    assert efficiency(rtx4090) is profiles["NVIDIA consumer"]
    # another vendor: the engine's fallback vendor (NVIDIA) of the same segment
    assert efficiency(attrs.evolve(mi300x, vendor="Intel")) is profiles["NVIDIA datacenter"]
    assert efficiency(attrs.evolve(rtx4090, vendor="AMD")) is profiles["NVIDIA consumer"]


def test_amd_uses_its_own_fractions() -> None:
    """MI300X decode is timed with AMD's measured bandwidth fraction and kernel latency, not
    CUDA's: the same R1 step on an MI300X-shaped NVIDIA card is faster. Changed on purpose
    (ROCm used the CUDA constants: throughput +68 % to +188 %, TTFT -82 %)."""
    r1, mi300x = model("deepseek-r1"), gpu("mi300x")
    as_nvidia = attrs.evolve(mi300x, vendor="NVIDIA")
    assert decode_step_ms(r1, "fp8", "bf16", mi300x, 8, 1, 4, 3600) > decode_step_ms(
        r1, "fp8", "bf16", as_nvidia, 8, 1, 4, 3600
    )


# --- layouts --------------------------------------------------------------------------------


def test_llama_70b_bf16_on_l40s() -> None:
    m, l40s = model("deepseek-r1-distill-llama-70b"), gpu("l40s")
    three = estimate(m, "bf16", l40s, 3, 1, 1024, 1024)
    # TP must divide 64 heads, so 3 GPUs can at best be 3 pipeline stages of whole layers
    # (27, 27 and 26 of 80): 3 x 43 GB usable < 141 GB of weights
    assert (three.fits, three.tensor_parallel, three.pipeline_parallel) == (False, 1, 3)
    assert three.replicas == 1
    assert three.memory_per_gpu_gb > 48 and three.weights_gb == pytest.approx(141.1, rel=0.01)
    assert (three.ttft_ms, three.tpot_ms, three.throughput_tokens_per_s) == (math.inf,) * 2 + (0.0,)
    assert three.max_concurrency == 0 and three.kv_limited
    four = estimate(m, "bf16", l40s, 4, 1, 1024, 1024)
    assert (four.fits, four.tensor_parallel, four.pipeline_parallel) == (True, 4, 1)
    assert four.memory_per_gpu_gb < 48 and four.max_concurrency >= 1
    with pytest.raises(WorkloadError, match=r"^tensor_parallel: 3 must divide"):
        estimate(m, "bf16", l40s, 3, 1, 1024, 1024, tensor_parallel=3)


def test_r1_fp8_needs_more_than_8_h100() -> None:
    r1 = model("deepseek-r1")
    eight = estimate(r1, "fp8", gpu("h100-sxm"), 8, 64, 1000, 1000)
    assert not eight.fits and eight.weights_per_gpu_gb > 80
    assert estimate(r1, "fp8", gpu("h200"), 8, 64, 1000, 1000).fits
    # On 16 the placement search may take TP8 x PP2 or expert parallelism (its choice is
    # tested in test_estimates_placement.py); tensor parallelism alone needs both nodes.
    sixteen = estimate(r1, "fp8", gpu("h100-sxm"), 16, 64, 1000, 1000)
    assert sixteen.fits and sixteen.idle_gpus == 0
    tp = estimate(r1, "fp8", gpu("h100-sxm"), 16, 64, 1000, 1000, tensor_parallel=8)
    assert (tp.fits, tp.tensor_parallel, tp.pipeline_parallel) == (True, 8, 2)


def test_small_models_replicate_and_split_the_users() -> None:
    e = estimate(
        model("deepseek-r1-distill-llama-8b"),
        "bf16",
        gpu("h100-sxm"),
        8,
        64,
        1000,
        1000,
        tensor_parallel=1,
        pipeline_parallel=1,
    )
    assert (e.tensor_parallel, e.replicas, e.batch_per_replica) == (1, 8, 8)
    assert e.kv_cache_gb == pytest.approx(64 * 2000 * 131072 / 1e9)
    assert e.total_memory_gb == pytest.approx(8 * e.memory_per_gpu_gb)


def test_one_user_on_many_replicas_is_one_stream() -> None:
    m, h100 = model("deepseek-r1-distill-llama-8b"), gpu("h100-sxm")
    one, eight = (
        estimate(m, "bf16", h100, n, 1, 1000, 1000, tensor_parallel=1, pipeline_parallel=1)
        for n in (1, 8)
    )
    assert eight.throughput_tokens_per_s == pytest.approx(one.throughput_tokens_per_s)


def test_mla_cache_is_counted_on_every_rank() -> None:
    e = estimate(model("deepseek-r1"), "fp8", gpu("h200"), 8, 10, 1000, 1000)
    assert e.kv_cache_bytes_per_token == 70272
    assert e.kv_cache_gb == pytest.approx(8 * 10 * 2000 * 70272 / 1e9)


@pytest.mark.parametrize("argument", ["gpu_count", "concurrency", "prompt_tokens", "output_tokens"])
def test_bad_arguments_name_themselves(argument: str) -> None:
    args = {"gpu_count": 8, "concurrency": 4, "prompt_tokens": 100, "output_tokens": 100}
    args[argument] = 0
    with pytest.raises(WorkloadError, match=rf"^{argument}: must be an integer >= 1, got 0$"):
        estimate(
            model("deepseek-r1"),
            "fp8",
            gpu("h200"),
            args["gpu_count"],
            args["concurrency"],
            args["prompt_tokens"],
            args["output_tokens"],
        )


def test_bad_precisions_name_themselves() -> None:
    with pytest.raises(WorkloadError, match=r"^kv_precision: unknown precision 'fp3'"):
        estimate(model("deepseek-r1"), "fp8", gpu("h200"), 8, 1, 1, 1, kv_precision="fp3")
    with pytest.raises(WorkloadError, match=r"^precision: unknown precision 'fp6'"):
        prefill_ms(model("deepseek-r1"), "fp6", gpu("h200"), 8, 1, 100)


def test_estimate_is_cheap() -> None:
    """The hot path recomputes nothing of the model's: after one estimate, 500 more at other
    loads miss none of the caches of its per-model work (weights, KV bytes, runtime
    overhead, the roofline's constants, the layouts' weights and static bytes). This is a
    count, not a timing (a timed assertion fails on a slow or busy machine, as one did
    under coverage: ~0.8 ms a call there, ~0.3 ms without; `python
    benchmarks/bench_evaluate.py` prints the timings)."""
    caches = (
        _memory.weight_profile,
        _memory.kv_cache_bytes_per_token,
        _memory.runtime_overhead_gb,
        _roofline.consts,
        _ep._static_bytes,
        _layout.layout_weights_gb,
    )
    r1, h200 = model("deepseek-r1"), gpu("h200")
    for cache in (*caches, _placement.place, _placement.placements):  # the latter hold
        cache.cache_clear()  # whole placements: warm, they would answer without the others
    estimate(r1, "fp8", h200, 8, 64, 1000, 1000)
    before = [cache.cache_info().misses for cache in caches]
    assert all(before)  # each cache is on the path: the first estimate filled it
    for users in range(1, 501):
        estimate(r1, "fp8", h200, 8, users, 1000, 1000)
    assert [cache.cache_info().misses for cache in caches] == before


# --- laws -----------------------------------------------------------------------------------


@st.composite
def _setups(draw: st.DrawFn) -> tuple[str, str, str, int]:
    model_id = draw(st.sampled_from(ALL_MODELS))
    return (
        model_id,
        draw(st.sampled_from(("bf16", "fp8", "int4"))),
        draw(st.sampled_from(GPUS)),
        draw(st.sampled_from(_tps(model_id))),
    )


@given(_setups(), st.integers(1, 512), st.integers(1, 32_768))
def test_more_batch_costs_time_but_buys_throughput(
    setup: tuple[str, str, str, int], batch: int, context: int
) -> None:
    """Law: a bigger batch never shortens a step, and never lowers tokens per second."""
    model_id, precision, gpu_id, tp = setup
    m, g = model(model_id), gpu(gpu_id)
    small = decode_step_ms(m, precision, "bf16", g, tp, 1, batch, context)
    big = decode_step_ms(m, precision, "bf16", g, tp, 1, batch + 1, context)
    assert big >= small
    assert (batch + 1) / big >= batch / small


@given(_setups(), st.integers(1, 256), st.integers(1, 32_768), st.integers(1, 4))
def test_longer_context_reads_more(
    setup: tuple[str, str, str, int], batch: int, context: int, pp: int
) -> None:
    """Law: more cached tokens never shorten a decode step (any pipeline depth)."""
    model_id, precision, gpu_id, tp = setup
    m, g = model(model_id), gpu(gpu_id)
    assert decode_step_ms(m, precision, "fp8", g, tp, pp, batch, context + 1000) > decode_step_ms(
        m, precision, "fp8", g, tp, pp, batch, context
    )


@given(_setups(), st.integers(1, 32_768))
def test_pipeline_stages_never_speed_up_one_sequence(
    setup: tuple[str, str, str, int], context: int
) -> None:
    """Law: for a single sequence, splitting layers over stages only adds hops."""
    model_id, precision, gpu_id, tp = setup
    m, g = model(model_id), gpu(gpu_id)
    assert decode_step_ms(m, precision, "bf16", g, tp, 2, 1, context) >= decode_step_ms(
        m, precision, "bf16", g, tp, 1, 1, context
    )


@given(_setups(), st.integers(1, 16_384), st.integers(1, 16))
def test_longer_prompts_take_longer(
    setup: tuple[str, str, str, int], prompt: int, batch: int
) -> None:
    """Law: prefill time never falls as the prompt or the batch grows."""
    model_id, precision, gpu_id, tp = setup
    m, g = model(model_id), gpu(gpu_id)
    base = prefill_ms(m, precision, g, tp, 1, prompt, batch)
    assert prefill_ms(m, precision, g, tp, 1, prompt + 1, batch) >= base
    assert prefill_ms(m, precision, g, tp, 1, prompt, batch + 1) >= base


@given(
    st.sampled_from(ALL_MODELS),
    st.sampled_from(("bf16", "fp8", "int4")),
    st.sampled_from(GPUS),
    st.integers(1, 32),
    st.integers(1, 32),
    st.integers(1, 8192),
    st.integers(1, 8192),
)
def test_more_gpus_never_hold_fewer_sequences(
    model_id: str, precision: str, gpu_id: str, count: int, extra: int, prompt: int, output: int
) -> None:
    """Law: adding GPUs of the same kind never lowers max_concurrency."""
    m, g = model(model_id), gpu(gpu_id)
    fewer = estimate(m, precision, g, count, 1, prompt, output)
    more = estimate(m, precision, g, count + extra, 1, prompt, output)
    assert more.max_concurrency >= fewer.max_concurrency
    assert more.fits or not fewer.fits


@given(
    st.sampled_from(DISTILLS),
    st.integers(1, 8),
    st.integers(1, 300),
    st.integers(1, 4096),
    st.integers(1, 4096),
)
def test_estimates_add_up(model_id: str, count: int, users: int, prompt: int, output: int) -> None:
    """Law: replicas fit the GPUs, the KV total is users x tokens x bytes (GQA, tp <= kv heads),
    and a deployment that fits holds at least one sequence per replica."""
    m = model(model_id)
    e = estimate(m, "bf16", gpu("h100-sxm"), count, users, prompt, output)
    assert e.replicas * e.tensor_parallel * e.pipeline_parallel <= count
    if e.tensor_parallel <= m.num_kv_heads:
        expected = users * (prompt + output) * kv_cache_bytes_per_token(m) / 1e9
        assert e.kv_cache_gb == pytest.approx(expected)
    if e.fits:
        assert e.max_concurrency >= e.replicas
        assert 0 < e.batch_per_replica <= math.ceil(users / e.replicas)
        assert e.kv_limited == (users > e.max_concurrency)


def test_counts_beyond_any_deployment_are_refused_naming_the_argument() -> None:
    """10**400 users used to overflow a float inside the estimate (OverflowError)."""
    with pytest.raises(WorkloadError, match=r"^concurrency: must be at most 9,007,199,254,740,992"):
        estimate(model("deepseek-r1"), "fp8", gpu("h200"), 8, 10**400, 100, 100)
    with pytest.raises(WorkloadError, match=r"^gpu_count: must be at most"):
        estimate(model("deepseek-r1"), "fp8", gpu("h200"), 2**60, 1, 100, 100)
