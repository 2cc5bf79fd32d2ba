"""Roofline of any layout: expert parallelism, data-parallel attention, MTP speculation.

Plain tensor x pipeline layouts without MTP go to ``_roofline`` unchanged. Otherwise, per
rank of a stage (bytes and FLOPs of the whole model on that rank's share, as ``_roofline``
counts a replica column):

- attention (projections, core, KV read) for the requests of the rank's attention group:
  with data-parallel attention ``ceil(batch / groups)`` requests, whole heads; else the batch
  over tensor-parallel heads;
- dense FFN, shared experts and lm_head over ``tp`` (replicated when ``tp`` is 1);
- routed experts: the rank's share of the experts the whole batch touches, at the grouped
  GEMM efficiency (``Efficiency.expert_gemm_ep``) when experts are whole per rank;
- links: an all-reduce per layer of the tensor-parallel attention; per MoE layer an
  all-to-all dispatch (FP8, DeepEP) and combine (BF16) of each token's ``experts_per_token``
  copies at the slowest link among the ranks (NVLink within a node, RDMA across nodes, from
  ``_roofline.link``); across nodes the engines overlap it with the other micro-batch
  (DeepSeek's dual micro-batch, SGLang two-batch overlap), so it counts only beyond compute.

MTP (multi-token prediction, DeepSeek-V3 §2.2): one draft token per step from the MTP module
(one more layer), verified in the next step; ``mtp_acceptance`` of them are kept, so a step
carries 2 tokens per request and yields ``1 + mtp_acceptance``. DeepSeek-V3's report (§5.4.3)
measures 85-90 % acceptance for the second token ("1.8 times TPS"); no engine turns MTP on
by default (SGLang and vLLM need ``--speculative-algorithm`` / ``--speculative-config``), so
the default here is 0 (off).
"""

from __future__ import annotations

import functools
import math

from r1rules.catalog import Engine, Gpu, Model
from r1rules.physics._efficiency import Efficiency, efficiency
from r1rules.physics._layout import Layout, experts_per_rank_share
from r1rules.physics._memory import kv_head_fraction, weight_profile
from r1rules.physics._roofline import (
    ACTIVATION_BYTES,
    ALLREDUCE_BASE_LATENCY_US,
    Consts,
    allreduce_ms,
    compute_tflops,
    consts,
    decode_core_ms,
    link,
    overhead_ms,
    pp_hops_ms,
    prefill_core_ms,
)
from r1rules.physics._stages import stage_balance

__all__ = [
    "COMBINE_BYTES",
    "DISPATCH_BYTES",
    "layout_decode_ms",
    "layout_prefill_ms",
    "prefill_cost_ms",
]

# DeepEP dispatches FP8 activations (plus a small scale) and combines in BF16 (DeepEP README).
DISPATCH_BYTES = 1
COMBINE_BYTES = 2


def _touched_experts(model: Model, tokens: float) -> float:
    e, k = model.n_routed_experts, model.experts_per_token
    if not e:
        return 0.0
    return e * (1.0 - math.pow(1.0 - k / e, tokens))


@functools.lru_cache(maxsize=4096)
def _static_bytes(model: Model, precision: str, layout: Layout) -> float:
    """Bytes every forward pass reads on a rank: all but the embedding and routed experts."""
    w = weight_profile(model, precision)
    atp = layout.attention_tp
    dense = w.sharded_bytes - w.attention_sharded_bytes
    return (
        w.attention_sharded_bytes / atp
        + w.kv_proj_bytes * kv_head_fraction(model, atp)
        + w.replicated_bytes
        + (dense + w.lm_head_bytes) / layout.tensor_parallel
    )


def _a2a_ms(model: Model, gpu: Gpu, layout: Layout, tokens: float) -> float:
    """Dispatch + combine of ``tokens`` (this rank's) over every MoE layer."""
    ranks = layout.ranks
    if layout.expert_parallel <= 1 or ranks <= 1:
        return 0.0
    bw, hop = link(gpu, ranks)
    moe_layers = weight_profile(model, "bf16").moe_layers
    per_layer = tokens * model.experts_per_token * model.hidden_size * (ranks - 1) / ranks
    nbytes = per_layer * (DISPATCH_BYTES + COMBINE_BYTES)
    latency = 2 * (ALLREDUCE_BASE_LATENCY_US + hop) / 1e3
    return moe_layers * (latency + nbytes / (bw * 1e6))


def _pass_ms(
    model: Model,
    precision: str,
    gpu: Gpu,
    layout: Layout,
    c: Consts,
    eff: Efficiency,
    *,
    requests: int,
    per_request: float,
    kv_tokens: float,
    attn_pairs: float,
    attn_flops: float,
    heads_per_request: float,
    floor_only: bool,
    stages: float = 1.0,
) -> float:
    """One forward pass of ``requests`` requests of ``per_request`` tokens each, per rank.

    ``kv_tokens`` is the cache each request reads (0 in prefill), ``attn_pairs`` its
    (query, key) pairs; ``floor_only``: weights bound the time from below but the KV read
    does not apply (prefill); ``stages``: the factor on all but the pipeline hops
    (``stage_balance``, a decode round paced by the most loaded stage).
    """
    w = weight_profile(model, precision)
    ranks, atp, tp = layout.ranks, layout.attention_tp, layout.tensor_parallel
    groups = layout.attention_groups
    local = math.ceil(requests / groups)  # requests of the busiest attention group
    tokens_local, tokens_all = local * per_request, requests * per_request
    dense_tokens = tokens_all / tp if tp > 1 else tokens_local
    experts = _touched_experts(model, tokens_all) * w.routed_expert_bytes * w.moe_layers
    experts *= experts_per_rank_share(model, layout)
    kv = local * kv_tokens * c.kv_bytes_per_token  # c is of the attention TP degree
    nbytes = _static_bytes(model, precision, layout) + experts + (0.0 if floor_only else kv)
    mem_ms = nbytes / (gpu.memory_bandwidth_gbps * eff.bandwidth * 1e6)
    f_attn = 2.0 * w.attention_params
    f_dense = c.dense_flops - f_attn
    rate = compute_tflops(gpu, precision) * 1e9
    expert_eff = eff.expert_gemm_ep if layout.expert_parallel > 1 else eff.expert_gemm
    matmul = (
        tokens_local * f_attn / atp / eff.dense_gemm
        + dense_tokens * f_dense / eff.dense_gemm
        + tokens_all * c.expert_flops / ranks / expert_eff
        + local * heads_per_request * c.head_flops / (tp if tp > 1 else 1) / eff.dense_gemm
    ) / rate
    core = local * attn_pairs * attn_flops / atp
    attention = core / (compute_tflops(gpu, "bf16") * 1e9 * eff.attention)
    roof = max(mem_ms, matmul + attention)
    hidden_bytes = model.hidden_size * ACTIVATION_BYTES
    comm = c.layers * allreduce_ms(gpu, atp, tokens_local * hidden_bytes)
    a2a = _a2a_ms(model, gpu, layout, tokens_all / ranks)
    if layout.expert_parallel > 1:
        dense_layers = c.layers - w.moe_layers
        comm += dense_layers * allreduce_ms(gpu, tp, dense_tokens * tp * hidden_bytes)
    else:
        comm += c.layers * allreduce_ms(gpu, ranks, tokens_all * hidden_bytes)
    if layout.ranks > gpu.max_per_node:  # across nodes: hidden behind the other micro-batch
        roof, a2a = max(roof, a2a), 0.0
    hops = pp_hops_ms(gpu, ranks, layout.pipeline_parallel, tokens_all, model.hidden_size)
    return (roof + comm + a2a + overhead_ms(c, eff, local)) * stages + hops


def layout_decode_ms(
    model: Model,
    precision: str,
    kv_precision: str,
    gpu: Gpu,
    layout: Layout,
    batch: int,
    context: float,
    mtp_acceptance: float = 0.0,
    engine: Engine | None = None,
) -> float:
    """Time per output token of a request in a replica decoding ``batch`` requests, on
    ``engine`` (default: the default engine)."""
    c = consts(model, precision, kv_precision, layout.attention_tp)
    eff = efficiency(gpu, engine)
    if layout.plain and not mtp_acceptance:
        return decode_core_ms(c, gpu, eff, precision, layout.pipeline_parallel, batch, context)
    pp = layout.pipeline_parallel
    micro = math.ceil(batch / min(pp, batch))
    tokens = 2.0 if mtp_acceptance else 1.0
    step = _pass_ms(
        model,
        precision,
        gpu,
        layout,
        c,
        eff,
        requests=micro,
        per_request=tokens,
        kv_tokens=context,
        attn_pairs=tokens * context,
        attn_flops=c.attn_flops_decode,
        heads_per_request=tokens,
        floor_only=False,
        stages=stage_balance(c.layers, pp, min(pp, batch)),  # paced by the most loaded stage
    )
    if not mtp_acceptance:
        return step
    # the MTP module is one more transformer layer, run once per step
    return step * (1.0 + 1.0 / c.layers) / (1.0 + mtp_acceptance)


def layout_prefill_ms(
    model: Model,
    precision: str,
    gpu: Gpu,
    layout: Layout,
    prompt: int,
    batch: int = 1,
    engine: Engine | None = None,
) -> float:
    """Prefill of ``batch`` prompts on one replica (stages one after another)."""
    c = consts(model, precision, "bf16", layout.attention_tp)
    eff = efficiency(gpu, engine)
    if layout.plain:
        return prefill_core_ms(c, gpu, eff, precision, layout.pipeline_parallel, prompt, batch)
    return _pass_ms(
        model,
        precision,
        gpu,
        layout,
        c,
        eff,
        requests=batch,
        per_request=float(prompt),
        kv_tokens=0.0,
        attn_pairs=prompt * (prompt + 1) / 2.0,
        attn_flops=c.attn_flops_prefill,
        heads_per_request=1.0,
        floor_only=True,
    )


def prefill_cost_ms(
    model: Model,
    precision: str,
    gpu: Gpu,
    layout: Layout,
    prompt: int,
    engine: Engine | None = None,
) -> float:
    """Replica time one request's prefill costs when prompts keep every attention group busy:
    a plain layout prefills one prompt at a time; with data-parallel attention each group
    takes its own."""
    groups = layout.attention_groups
    if groups == 1:
        return layout_prefill_ms(model, precision, gpu, layout, prompt, 1, engine)
    return layout_prefill_ms(model, precision, gpu, layout, prompt, groups, engine) / groups
