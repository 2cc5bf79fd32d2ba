"""Roofline timing: prefill, decode steps and whole-deployment estimates (pure, no I/O).

A step takes ``max(bytes / (bandwidth x eff), flops / (peak x MFU))`` on each GPU, plus the
tensor-parallel all-reduces (two per layer), plus the launch latency of each layer's kernels,
plus the hops between pipeline stages.
Times are in milliseconds, sizes in GB (10^9 bytes), rates as in the GPU record (GB/s,
dense TFLOPS). Everything model-dependent is cached per (model, precision, kv_precision, tp);
the GPU enters only as a few floats, so a call is plain arithmetic.
"""

from __future__ import annotations

import functools
import math

import attrs

from r1rules._errors import WorkloadError
from r1rules.catalog import Gpu, Model
from r1rules.physics._memory import (
    GB,
    check_precision,
    kv_cache_bytes_per_token_per_gpu,
    kv_head_fraction,
    runtime_overhead_gb,
    weight_profile,
    weights_gb_per_gpu,
)

__all__ = [
    "ALLREDUCE_BASE_LATENCY_US",
    "DECODE_BANDWIDTH_EFFICIENCY",
    "HOP_LATENCY_US",
    "INTERNODE_GBPS",
    "KERNELS_PER_LAYER",
    "KERNEL_LATENCY_US",
    "MFU_DENSE",
    "MFU_MOE",
    "PCIE_GBPS",
    "compute_tflops",
    "decode_step_ms",
    "native_support",
    "prefill_ms",
]

# Achieved fraction of peak memory bandwidth while streaming weights and KV cache. STREAM on
# an Azure ND H100 v5: copy 2.90, triad 2.97 TB/s of 3.35 (87-89 %; Azure AI-benchmarking-guide
# ND_H100_v5_results.md); GEMV-shaped kernels stream a little below that.
DECODE_BANDWIDTH_EFFICIENCY = 0.85
# Every layer is a chain of dependent kernels, each costing a launch-and-drain latency that
# bandwidth does not hide (CUDA graphs included). vLLM runs ~12 kernels per Llama/Qwen layer
# (norm, qkv, rope, cache write, attention, o_proj, all-reduce, norm, gate_up, act, down,
# all-reduce) and ~32 per DeepSeek-V3 layer (MLA: fused q_a/kv_a, two norms, q_b, absorb bmm,
# rope, cache write, FlashMLA x2, bmm, o_proj; MoE: gate, top-k, align, fused_moe x2, act,
# shared expert x3, reduce, all-reduce; plus an FP8 activation-quant kernel per FP8 GEMM).
# Latency per kernel fitted to vLLM, Llama-3.1-8B BF16, one request on an A100 40GB: 75 tok/s
# = 13.3 ms/token (johnmusgrave.com/p/vllm-throughput-latency-sweep-on), of which streaming
# 15.2 GB at 0.85 x 1,555 GB/s takes 11.5 ms: 1.9 ms over 32 layers x 12 kernels = 4.9 us.
KERNEL_LATENCY_US = 4.9
KERNELS_PER_LAYER = {"dense": 12, "moe": 32}
# Model-FLOPs utilisation of the dense tensor peak when compute-bound. Dense: large BF16/FP8
# GEMMs reach 60-75 % of peak on Hopper; attention, norms and launches take the rest.
# NVIDIA's Llama-3.3-70B max-throughput table (B200, 2048 in / 128 out: 1,339 out tok/s/GPU)
# implies ~2/3 of FP8 peak in prefill. MoE: SGLang's 96xH100 DeepSeek deployment prefills
# 52.3k tok/s per node at 2K input (lmsys.org/blog/2025-05-05-large-scale-ep) = 76 GFLOP x
# 52.3k / (8 x 1,979 TFLOPS) ~ 25 % of FP8 peak; DeepSeek's own day-6 average is lower still.
MFU_DENSE = 0.50
MFU_MOE = 0.25
# TF32 tensor rate is half the BF16 rate on Ampere and Hopper (A100 156 vs 312; H100 495 vs
# 989): used for fp32 when the record lists no fp32 rate.
TF32_OF_BF16 = 0.5
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


def native_support(gpu: Gpu, precision: str) -> bool:
    """True when the GPU lists a dense tensor rate for ``precision`` (tflops > 0)."""
    return gpu.tflops.get(check_precision(precision), 0.0) > 0.0


def compute_tflops(gpu: Gpu, precision: str) -> float:
    """Dense TFLOPS the matmuls of a ``precision`` model run at on ``gpu``.

    fp8/int8 use their own rate when native, else the BF16 rate (weight-only kernels such as
    Marlin dequantise to BF16). int4 always uses the BF16 rate: GPTQ/AWQ kernels are W4A16.
    fp16 uses the BF16 rate when listed (PyTorch accumulates FP16 GEMMs in FP32, the rate
    GeForce cards halve). fp32 uses its own rate, else TF32 = half the BF16 rate.
    """
    check_precision(precision)
    tf = gpu.tflops
    half = tf.get("bf16", 0.0) or tf.get("fp16", 0.0)
    assert half > 0.0, "a Gpu record always has a bf16 or fp16 rate (catalog._schema)"
    if precision in ("bf16", "fp16", "int4"):
        return half
    own = tf.get(precision, 0.0)
    if own > 0.0:
        return own
    return half * TF32_OF_BF16 if precision == "fp32" else half


@attrs.frozen
class Consts:
    """Per-GPU quantities of one (model, precision, kv_precision, tp); pipeline stages divide."""

    tp: int
    static_bytes: float  # decode reads every step: all but embedding table and routed experts
    expert_bytes: float  # one routed expert across all MoE layers, this rank's shard
    n_experts: int
    top_k: int
    kv_bytes_per_token: float
    flops_per_token: float  # 2 x params a token multiplies through (lm_head excluded)
    head_flops: float  # lm_head, once per sampled token
    attn_flops_decode: float  # per (query, cached key) pair, all layers
    attn_flops_prefill: float
    mfu: float
    layers: int
    hidden: int
    kernels_ms: float  # launch latency of every kernel of every layer, once per forward pass
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
        flops_per_token=2.0 * w.matmul_params_per_token,
        head_flops=2.0 * w.lm_head_params,
        attn_flops_decode=float(decode_pair * layers),
        attn_flops_prefill=float(prefill_pair * layers),
        mfu=MFU_MOE if w.moe_layers else MFU_DENSE,
        layers=layers,
        hidden=model.hidden_size,
        kernels_ms=layers
        * KERNELS_PER_LAYER["moe" if w.moe_layers else "dense"]
        * KERNEL_LATENCY_US
        / 1e3,
        weights_gb=w.total_bytes / GB,
        weights_gb_per_gpu=weights_gb_per_gpu(model, precision, tp),
        overhead_gb=runtime_overhead_gb(model, tp),
    )


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
    c: Consts, gpu: Gpu, precision: str, pp: int, batch: int, context: float
) -> float:
    """Per-token latency of a sequence in a batch of ``batch`` with ``context`` cached each."""
    # vLLM keeps pp micro-batches in flight: each stage serves every micro-batch once per round,
    # and a sequence's next token needs the whole round, i.e. pp stage steps plus the hops.
    micro = math.ceil(batch / min(pp, batch))
    nbytes = c.static_bytes + _experts_bytes(c, micro) + micro * context * c.kv_bytes_per_token
    flops = micro * (c.flops_per_token + c.head_flops + context * c.attn_flops_decode) / c.tp
    mem_ms = nbytes / (gpu.memory_bandwidth_gbps * DECODE_BANDWIDTH_EFFICIENCY * 1e6)
    compute_ms = flops / (compute_tflops(gpu, precision) * c.mfu * 1e9)
    comm_ms = 2 * c.layers * _allreduce_ms(gpu, c.tp, micro * c.hidden * ACTIVATION_BYTES)
    hops_ms = _pp_hops_ms(gpu, c.tp, pp, micro, c.hidden)
    return max(mem_ms, compute_ms) + comm_ms + c.kernels_ms + hops_ms


def positive(**values: object) -> None:
    """Raise WorkloadError naming the first argument that is not an integer >= 1."""
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise WorkloadError(f"{name}: must be an integer >= 1, got {value!r}")


def decode_step_ms(
    model: Model,
    precision: str,
    kv_precision: str,
    gpu: Gpu,
    tensor_parallel: int,
    pipeline_parallel: int,
    batch: int,
    context_tokens: int,
) -> float:
    """Time of one decode step (one new token for each of ``batch`` sequences), in ms.

    Bytes read per GPU: the weights the step touches (dense: all but the embedding table; MoE:
    attention, dense layers, shared experts, lm_head and the E x (1 - (1 - k/E)^batch) routed
    experts a batch this size reaches) plus the KV cache of ``batch`` x ``context_tokens``.
    Time is the roofline max of memory and compute, plus 2 all-reduces per layer, plus the
    launch latency of every layer's kernels. With ``pipeline_parallel`` > 1 the batch runs as
    pp micro-batches and one token passes every stage in turn, so the result is the per-token
    latency of a sequence, hops included.
    """
    positive(
        tensor_parallel=tensor_parallel,
        pipeline_parallel=pipeline_parallel,
        batch=batch,
        context_tokens=context_tokens,
    )
    c = consts(model, precision, check_precision(kv_precision, "kv_precision"), tensor_parallel)
    return decode_core_ms(c, gpu, precision, pipeline_parallel, batch, float(context_tokens))


def prefill_core_ms(c: Consts, gpu: Gpu, precision: str, pp: int, prompt: int, batch: int) -> float:
    """Prefill of ``batch`` prompts; stages run one after another, so pp adds only hops."""
    tokens = float(prompt * batch)
    pairs = prompt * (prompt + 1) / 2.0  # causal attention
    flops = tokens * c.flops_per_token + batch * (c.head_flops + pairs * c.attn_flops_prefill)
    compute_ms = flops / c.tp / (compute_tflops(gpu, precision) * c.mfu * 1e9)
    floor_ms = (c.static_bytes + _experts_bytes(c, tokens)) / (
        gpu.memory_bandwidth_gbps * DECODE_BANDWIDTH_EFFICIENCY * 1e6
    )
    comm_ms = 2 * c.layers * _allreduce_ms(gpu, c.tp, tokens * c.hidden * ACTIVATION_BYTES)
    hops_ms = _pp_hops_ms(gpu, c.tp, pp, tokens, c.hidden)
    return max(compute_ms, floor_ms) + comm_ms + c.kernels_ms + hops_ms


def prefill_ms(
    model: Model,
    precision: str,
    gpu: Gpu,
    tensor_parallel: int,
    pipeline_parallel: int,
    prompt_tokens: int,
    batch: int = 1,
) -> float:
    """Time to prefill ``batch`` prompts of ``prompt_tokens`` each on one replica, in ms.

    FLOPs = 2 x params-per-token x tokens + causal attention (quadratic in the prompt) + lm_head
    for the last token of each prompt, at :func:`compute_tflops` x MFU over tp ranks; never
    below the time to read the touched weights once; plus 2 all-reduces per layer and the
    pipeline hops (stages run one after another for one prompt).
    """
    positive(
        tensor_parallel=tensor_parallel,
        pipeline_parallel=pipeline_parallel,
        prompt_tokens=prompt_tokens,
        batch=batch,
    )
    c = consts(model, check_precision(precision), "bf16", tensor_parallel)
    return prefill_core_ms(c, gpu, precision, pipeline_parallel, prompt_tokens, batch)
