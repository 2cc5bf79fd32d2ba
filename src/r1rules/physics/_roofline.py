"""Roofline timing: prefill, decode steps and whole-deployment estimates (pure, no I/O).

A forward pass takes ``max(bytes / (bandwidth x eff), matmul time + attention time)`` on each
GPU, plus the tensor-parallel all-reduces (two per layer), plus the per-pass overhead (host
work, and every layer's kernels' launch latency), plus the hops between pipeline stages.
Matmuls run at the weights' tensor rate (:func:`compute_tflops`), dense layers and routed
experts at their own efficiency; attention runs in BF16 whatever the weights. The
efficiencies are the serving engine's profile for the GPU's vendor and segment
(``_efficiency``, ``rules/catalog/engines.toml``). Times are in milliseconds, sizes in GB (10^9
bytes), rates as in the GPU record (GB/s, dense TFLOPS). Everything model-dependent is cached
per (model, precision, kv_precision, tp); the GPU enters only as a few floats.
"""

from __future__ import annotations

import functools
import math

import attrs

from r1rules._errors import WorkloadError
from r1rules.catalog import Engine, Gpu, Model
from r1rules.physics._efficiency import Efficiency, efficiency
from r1rules.physics._memory import (
    GB,
    check_precision,
    kv_cache_bytes_per_token_per_gpu,
    kv_head_fraction,
    runtime_overhead_gb,
    weight_profile,
    weights_gb_per_gpu,
)
from r1rules.physics._stages import stage_balance

__all__ = [
    "ALLREDUCE_BASE_LATENCY_US",
    "GEFORCE_FP16_ACCUMULATE",
    "HOP_LATENCY_US",
    "INTERNODE_GBPS",
    "KERNELS_PER_LAYER",
    "MAX_COUNT",
    "PCIE_GBPS",
    "compute_tflops",
    "decode_step_ms",
    "native_support",
    "prefill_ms",
]

# Kernels in one layer's forward pass, each costing a launch-and-drain latency that bandwidth
# does not hide (CUDA graphs included; Efficiency.kernel_us). vLLM runs ~12 per Llama/Qwen
# layer (norm, qkv, rope, cache write, attention, o_proj, all-reduce, norm, gate_up, act, down,
# all-reduce) and ~32 per DeepSeek-V3 layer (MLA: fused q_a/kv_a, two norms, q_b, absorb bmm,
# rope, cache write, FlashMLA x2, bmm, o_proj; MoE: gate, top-k, align, fused_moe x2, act,
# shared expert x3, reduce, all-reduce; plus an FP8 activation-quant kernel per FP8 GEMM).
KERNELS_PER_LAYER = {"dense": 12, "moe": 32}
# TF32 tensor rate is half the BF16 rate on Ampere and Hopper (A100 156 vs 312; H100 495 vs
# 989): used for fp32 when the record lists no fp32 rate.
TF32_OF_BF16 = 0.5
# GeForce cards run FP16 tensor math with FP16 accumulate at twice the FP32-accumulate rate the
# catalog lists (RTX 4090: 330.3 vs 165.2 dense, Ada whitepaper; RTX 3090: 142 vs 71, GA102
# whitepaper). Weight-only int4 on a GeForce card is GGUF/EXL2 territory: llama.cpp's cuBLAS
# path (CUBLAS_COMPUTE_16F) and ExLlama accumulate in FP16, so int4 gets this rate there.
GEFORCE_FP16_ACCUMULATE = 2.0
# Links, GB/s per direction. NVLink/XGMI: Gpu.interconnect_bw_gbps is bidirectional, so half.
# PCIe-only GPUs (interconnect_bw_gbps 0, or more ranks than the NVLink domain): PCIe gen4 x16
# is 32 GB/s per direction (gen5 64); the Gpu record has no PCIe generation, so gen4 it is.
PCIE_GBPS = 32.0
# Across nodes: one 400 Gb/s NDR NIC per GPU as in DGX H100 (ml-engineering network table).
INTERNODE_GBPS = 50.0
# NCCL's own cost model (src/graph/tuning.cc): ring all-reduce latency = baseLat + 2(n-1) x
# hwLat; LL protocol baseLat 3.6 us, hwLat NVLink 0.47, PCI 1.0, network 2.7 us.
ALLREDUCE_BASE_LATENCY_US = 3.6
HOP_LATENCY_US = {"nvlink": 0.47, "pcie": 1.0, "net": 2.7}
ACTIVATION_BYTES = 2  # BF16 activations cross the links


def _half_rate(gpu: Gpu) -> float:
    """The dense BF16 rate (FP16 where no BF16 is listed): what dequantised weights run at."""
    half = gpu.tflops.get("bf16", 0.0) or gpu.tflops.get("fp16", 0.0)
    assert half > 0.0, "a Gpu record always has a bf16 or fp16 rate (catalog._schema)"
    return half


def native_support(gpu: Gpu, precision: str) -> bool:
    """True when the GPU lists a dense tensor rate for ``precision`` (tflops > 0) that the
    engines compute in: an 8-bit rate below the half-precision one (Blackwell Ultra's INT8)
    is served dequantised, as :func:`compute_tflops` estimates it."""
    own = gpu.tflops.get(check_precision(precision), 0.0)
    if precision in ("fp8", "int8"):
        return own > 0.0 and own >= _half_rate(gpu)
    return own > 0.0


def compute_tflops(gpu: Gpu, precision: str) -> float:
    """Dense TFLOPS the matmuls of a ``precision`` model run at on ``gpu``.

    fp8/int8 use their own rate when native, else the BF16 rate (weight-only kernels such as
    Marlin dequantise to BF16), and the BF16 rate too where their own is slower: Blackwell
    Ultra (B300) runs INT8 at 150 TOPS against BF16's 2,250, and an engine serves INT8 weights
    there dequantised, not on the INT8 units. int4 is weight-only (W4A16): the BF16 rate, or
    on a GeForce card the FP16-accumulate rate (x :data:`GEFORCE_FP16_ACCUMULATE`) its
    kernels use. bf16 and fp16 use the BF16 rate when listed (PyTorch accumulates FP16 GEMMs
    in FP32, the rate GeForce cards halve). fp32 uses its own rate, else TF32 = half the BF16
    rate.
    """
    check_precision(precision)
    tf = gpu.tflops
    half = _half_rate(gpu)
    if precision == "int4" and gpu.segment == "consumer" and gpu.vendor == "NVIDIA":
        return (tf.get("fp16", 0.0) or half) * GEFORCE_FP16_ACCUMULATE
    if precision in ("bf16", "fp16", "int4"):
        return half
    own = tf.get(precision, 0.0)
    if precision == "fp32":
        return own if own > 0.0 else half * TF32_OF_BF16
    return max(own, half)


@attrs.frozen
class Consts:
    """Per-GPU quantities of one (model, precision, kv_precision, tp); pipeline stages divide."""

    tp: int
    static_bytes: float  # decode reads every step: all but embedding table and routed experts
    expert_bytes: float  # one routed expert across all MoE layers, this rank's shard
    n_experts: int
    top_k: int
    kv_bytes_per_token: float
    dense_flops: float  # per token: 2 x params outside routed experts (lm_head excluded)
    expert_flops: float  # per token: 2 x params of its experts_per_token routed experts
    head_flops: float  # lm_head, once per sampled token
    attn_flops_decode: float  # per (query, cached key) pair, all layers
    attn_flops_prefill: float
    layers: int
    hidden: int
    kernels: int  # kernels of every layer, launched once per forward pass
    weights_gb: float  # one whole copy of the model
    weights_gb_per_gpu: float  # with pp = 1
    overhead_gb: float  # runtime overhead per GPU


@functools.lru_cache(maxsize=2048)
def consts(model: Model, precision: str, kv_precision: str, tp: int) -> Consts:
    w = weight_profile(model, precision)
    static = (
        (w.lm_head_bytes + w.sharded_bytes) / tp
        + w.kv_proj_bytes * kv_head_fraction(model, tp)
        + w.replicated_bytes
    )
    heads, layers = model.num_attention_heads, model.num_layers
    if model.attention == "mla":
        rank, rope = model.kv_lora_rank, model.qk_rope_head_dim
        # decode absorbs W_UK/W_UV: scores over the 576-wide latent, output in the 512 latent
        decode_pair = 2 * heads * (2 * rank + rope)
        # prefill runs plain MHA: q.k over nope+rope dims, p.v over v_head_dim (head_dim is the
        # per-head nope/value width, 128 for DeepSeek-V3)
        prefill_pair = 2 * heads * (2 * model.head_dim + rope)
    else:
        decode_pair = prefill_pair = 4 * heads * model.head_dim
    return Consts(
        tp=tp,
        static_bytes=static,
        expert_bytes=w.routed_expert_bytes * w.moe_layers / tp,
        n_experts=model.n_routed_experts,
        top_k=model.experts_per_token,
        kv_bytes_per_token=kv_cache_bytes_per_token_per_gpu(model, kv_precision, tp),
        dense_flops=2.0 * (w.matmul_params_per_token - w.routed_params_per_token),
        expert_flops=2.0 * w.routed_params_per_token,
        head_flops=2.0 * w.lm_head_params,
        attn_flops_decode=float(decode_pair * layers),
        attn_flops_prefill=float(prefill_pair * layers),
        layers=layers,
        hidden=model.hidden_size,
        kernels=layers * KERNELS_PER_LAYER["moe" if w.moe_layers else "dense"],
        weights_gb=w.total_bytes / GB,
        weights_gb_per_gpu=weights_gb_per_gpu(model, precision, tp),
        overhead_gb=runtime_overhead_gb(model, tp),
    )


def _compute_ms(
    c: Consts, gpu: Gpu, eff: Efficiency, precision: str, tokens: float, heads: float, attn: float
) -> float:
    """Matmul and attention time on one rank: ``tokens`` through the layers, ``heads``
    through lm_head, ``attn`` attention FLOPs in all (BF16, whatever the weights)."""
    rate = compute_tflops(gpu, precision) * 1e9  # FLOPs per ms
    matmul = (
        tokens * c.dense_flops / eff.dense_gemm
        + tokens * c.expert_flops / eff.expert_gemm
        + heads * c.head_flops / eff.dense_gemm
    ) / rate
    attention = attn / (compute_tflops(gpu, "bf16") * 1e9 * eff.attention)
    return (matmul + attention) / c.tp


def _overhead_ms(c: Consts, eff: Efficiency, sequences: float = 1.0) -> float:
    """Host work of one forward pass (a fixed part, and a part per sequence it carries:
    sampling, logits, scheduling) plus every kernel's launch latency."""
    return eff.step_ms + sequences * eff.seq_us / 1e3 + c.kernels * eff.kernel_us / 1e3


def _experts_bytes(c: Consts, tokens: float) -> float:
    """Routed-expert bytes a batch of ``tokens`` touches: E x (1 - (1 - k/E)^tokens) experts."""
    if not c.n_experts:
        return 0.0
    distinct = c.n_experts * (1.0 - math.pow(1.0 - c.top_k / c.n_experts, tokens))
    return distinct * c.expert_bytes


def _link(gpu: Gpu, ranks: int) -> tuple[float, float]:
    """(GB/s per direction, per-hop latency in us) of the slowest link among ``ranks`` GPUs."""
    if gpu.interconnect_bw_gbps > 0 and ranks <= gpu.nvlink_domain:
        return gpu.interconnect_bw_gbps / 2.0, HOP_LATENCY_US["nvlink"]
    if ranks <= gpu.max_per_node:
        return PCIE_GBPS, HOP_LATENCY_US["pcie"]
    return INTERNODE_GBPS, HOP_LATENCY_US["net"]


def _allreduce_ms(gpu: Gpu, tp: int, nbytes: float) -> float:
    """Ring all-reduce of ``nbytes`` over ``tp`` ranks: NCCL's latency + 2(n-1)/n x S / bw."""
    if tp <= 1:
        return 0.0
    bw, hop = _link(gpu, tp)
    steps = 2 * (tp - 1)
    return (ALLREDUCE_BASE_LATENCY_US + steps * hop) / 1e3 + steps / tp * nbytes / (bw * 1e6)


def _pp_hops_ms(gpu: Gpu, tp: int, pp: int, tokens: float, hidden: int) -> float:
    """Send the activations of ``tokens`` tokens across the pp - 1 stage boundaries."""
    if pp <= 1:
        return 0.0
    bw, hop = _link(gpu, tp * pp)
    one_hop = (ALLREDUCE_BASE_LATENCY_US + hop) / 1e3
    return (pp - 1) * (one_hop + tokens * hidden * ACTIVATION_BYTES / (bw * 1e6))


def decode_core_ms(
    c: Consts, gpu: Gpu, eff: Efficiency, precision: str, pp: int, batch: int, context: float
) -> float:
    """Per-token latency of a sequence in a batch of ``batch`` with ``context`` cached each."""
    # vLLM keeps pp micro-batches in flight: each stage serves every micro-batch once per round,
    # and a sequence's next token needs the whole round, i.e. pp stage steps plus the hops.
    micro = math.ceil(batch / min(pp, batch))
    nbytes = c.static_bytes + _experts_bytes(c, micro) + micro * context * c.kv_bytes_per_token
    mem_ms = nbytes / (gpu.memory_bandwidth_gbps * eff.bandwidth * 1e6)
    compute_ms = _compute_ms(
        c, gpu, eff, precision, micro, micro, micro * context * c.attn_flops_decode
    )
    comm_ms = 2 * c.layers * _allreduce_ms(gpu, c.tp, micro * c.hidden * ACTIVATION_BYTES)
    hops_ms = _pp_hops_ms(gpu, c.tp, pp, micro, c.hidden)
    stages = stage_balance(c.layers, pp, min(pp, batch))  # paced by the most loaded stage
    return (max(mem_ms, compute_ms) + comm_ms + _overhead_ms(c, eff, micro)) * stages + hops_ms


# Counts above this are not deployments, and their products overflow a float.
MAX_COUNT = 2**53


def positive(**values: object) -> None:
    """Raise WorkloadError naming the first argument that is not an integer in
    [1, MAX_COUNT]."""
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise WorkloadError(f"{name}: must be an integer >= 1, got {value!r}")
        if value > MAX_COUNT:
            raise WorkloadError(
                f"{name}: must be at most {MAX_COUNT:,}, got an integer of "
                f"{value.bit_length()} bits"
            )


def decode_step_ms(
    model: Model,
    precision: str,
    kv_precision: str,
    gpu: Gpu,
    tensor_parallel: int,
    pipeline_parallel: int,
    batch: int,
    context_tokens: int,
    *,
    engine: Engine | None = None,
) -> float:
    """Time of one decode step (one new token for each of ``batch`` sequences), in ms.

    Bytes read per GPU: the weights the step touches (dense: all but the embedding table; MoE:
    attention, dense layers, shared experts, lm_head and the E x (1 - (1 - k/E)^batch) routed
    experts a batch this size reaches) plus the KV cache of ``batch`` x ``context_tokens``.
    Time is the roofline max of memory and compute (matmuls at the weights' rate, attention at
    BF16, each at its efficiency for the GPU's vendor), plus 2 all-reduces per layer, plus the
    per-pass overhead (host work and every kernel's launch). With ``pipeline_parallel`` > 1 the
    batch runs as pp micro-batches and one token passes every stage in turn, so the result is
    the per-token latency of a sequence, hops included. ``engine``: the serving engine
    whose profile gives the efficiencies (default: the default engine).
    """
    positive(
        tensor_parallel=tensor_parallel,
        pipeline_parallel=pipeline_parallel,
        batch=batch,
        context_tokens=context_tokens,
    )
    c = consts(model, precision, check_precision(kv_precision, "kv_precision"), tensor_parallel)
    eff = efficiency(gpu, engine)
    return decode_core_ms(c, gpu, eff, precision, pipeline_parallel, batch, float(context_tokens))


def prefill_core_ms(
    c: Consts, gpu: Gpu, eff: Efficiency, precision: str, pp: int, prompt: int, batch: int
) -> float:
    """Prefill of ``batch`` prompts; stages run one after another, so pp adds only hops."""
    tokens = float(prompt * batch)
    pairs = prompt * (prompt + 1) / 2.0  # causal attention
    compute_ms = _compute_ms(
        c, gpu, eff, precision, tokens, batch, batch * pairs * c.attn_flops_prefill
    )
    floor_ms = (c.static_bytes + _experts_bytes(c, tokens)) / (
        gpu.memory_bandwidth_gbps * eff.bandwidth * 1e6
    )
    comm_ms = 2 * c.layers * _allreduce_ms(gpu, c.tp, tokens * c.hidden * ACTIVATION_BYTES)
    hops_ms = _pp_hops_ms(gpu, c.tp, pp, tokens, c.hidden)
    return max(compute_ms, floor_ms) + comm_ms + _overhead_ms(c, eff, batch) + hops_ms


def prefill_ms(
    model: Model,
    precision: str,
    gpu: Gpu,
    tensor_parallel: int,
    pipeline_parallel: int,
    prompt_tokens: int,
    batch: int = 1,
    *,
    engine: Engine | None = None,
) -> float:
    """Time to prefill ``batch`` prompts of ``prompt_tokens`` each on one replica, in ms.

    Matmul FLOPs (2 x params-per-token x tokens, plus lm_head for the last token of each prompt)
    at :func:`compute_tflops`, dense layers and routed experts each at their efficiency; causal
    attention (quadratic in the prompt) at the BF16 rate; all over tp ranks; never below the
    time to read the touched weights once; plus 2 all-reduces per layer, the per-pass overhead
    and the pipeline hops (stages run one after another for one prompt).
    """
    positive(
        tensor_parallel=tensor_parallel,
        pipeline_parallel=pipeline_parallel,
        prompt_tokens=prompt_tokens,
        batch=batch,
    )
    c = consts(model, check_precision(precision), "bf16", tensor_parallel)
    eff = efficiency(gpu, engine)
    return prefill_core_ms(c, gpu, eff, precision, pipeline_parallel, prompt_tokens, batch)


# Public names of the helpers ``_ep`` shares (same functions).
allreduce_ms = _allreduce_ms
link = _link
overhead_ms = _overhead_ms
pp_hops_ms = _pp_hops_ms
