"""Layouts of one replica: tensor, pipeline and expert parallelism, data-parallel attention.

A layout is what the engines are told: ``--tp``, ``--pp``, ``--ep`` and, for MoE models,
``--enable-dp-attention`` (SGLang), ``enable_attention_dp`` (TensorRT-LLM) or DeepSeek's own
"Routed Expert EP144, MLA/Shared Expert DP144" (open-infra-index, day 6). Each pipeline stage
has ``ranks = max(tp, ep)`` GPUs:

- attention is tensor-parallel over all ranks, or with data-parallel attention each rank runs
  attention whole for its own requests and keeps only their MLA cache (the latent is
  replicated on every TP rank otherwise);
- the dense FFN, shared experts and lm_head are tensor-parallel over ``tp`` (replicated on
  every rank when ``tp`` is 1, as DeepSeek's "Shared Expert DP");
- routed experts are split over ``ep`` ranks, each expert sliced over ``ranks / ep``.

Memory here, per GPU; timing in ``_ep``. Pure and cached.
"""

from __future__ import annotations

import functools
import math

import attrs

from r1rules._errors import WorkloadError
from r1rules.catalog import Engine, Gpu, Model
from r1rules.physics._memory import (
    GB,
    kv_cache_bytes_per_token,
    kv_head_fraction,
    usable_gb_per_gpu,
    weight_profile,
    weights_gb_per_gpu,
)
from r1rules.physics._stages import stage_share

__all__ = ["Layout", "kv_gb_per_sequence_per_gpu", "layout_usable_gb", "layout_weights_gb"]


@attrs.frozen
class Layout:
    """One replica's parallelism: degrees as the engines take them."""

    tensor_parallel: int
    pipeline_parallel: int = 1
    expert_parallel: int = 1
    data_parallel_attention: bool = False

    @property
    def ranks(self) -> int:
        """GPUs of one pipeline stage."""
        return max(self.tensor_parallel, self.expert_parallel)

    @property
    def gpus(self) -> int:
        return self.ranks * self.pipeline_parallel

    @property
    def attention_tp(self) -> int:
        return 1 if self.data_parallel_attention else self.ranks

    @property
    def attention_groups(self) -> int:
        """Attention data-parallel groups: each holds its own requests' cache."""
        return self.ranks // self.attention_tp

    @property
    def plain(self) -> bool:
        """Tensor x pipeline parallelism alone (the roofline of ``_roofline`` as it is)."""
        return self.expert_parallel == 1 and not self.data_parallel_attention

    def describe(self) -> str:
        parts = [f"TP{self.tensor_parallel}"]
        if self.pipeline_parallel > 1:
            parts.append(f"PP{self.pipeline_parallel}")
        if self.expert_parallel > 1:
            parts.append(f"EP{self.expert_parallel}")
        if self.data_parallel_attention:
            parts.append(f"DP-attention {self.attention_groups}")
        return " x ".join(parts)


def check_layout(model: Model, layout: Layout) -> Layout:
    """``layout`` if the model allows it; else WorkloadError naming the argument at fault."""
    tp, ep = layout.tensor_parallel, layout.expert_parallel
    if layout.ranks % tp or layout.ranks % ep:
        raise WorkloadError(
            f"expert_parallel: {ep} and tensor_parallel {tp} must divide one another"
        )
    if ep > 1 and model.kind != "moe":
        raise WorkloadError(f"expert_parallel: {model.id} has no experts; got {ep}")
    if ep > max(1, model.n_routed_experts):
        raise WorkloadError(
            f"expert_parallel: {ep} exceeds the {model.n_routed_experts} routed experts"
        )
    if not layout.data_parallel_attention and ep > tp:
        raise WorkloadError(
            f"expert_parallel: {ep} > tensor_parallel {tp} needs data_parallel_attention "
            "(each rank runs attention for its own requests)"
        )
    if model.num_attention_heads % layout.attention_tp:
        name = "tensor_parallel" if layout.plain else "expert_parallel"
        raise WorkloadError(
            f"{name}: attention over {layout.attention_tp} ranks must divide "
            f"num_attention_heads ({model.num_attention_heads})"
        )
    if layout.pipeline_parallel > model.num_layers:
        raise WorkloadError(
            f"pipeline_parallel: {layout.pipeline_parallel} exceeds the {model.num_layers} layers"
        )
    return layout


def experts_per_rank_share(model: Model, layout: Layout) -> float:
    """Share of all routed-expert bytes one rank holds: ceil(E / ep) whole experts, each
    sliced over ranks / ep."""
    e, ep = model.n_routed_experts, layout.expert_parallel
    if not e:
        return 0.0
    return math.ceil(e / ep) / e / (layout.ranks // ep)


@functools.lru_cache(maxsize=8192)
def layout_weights_gb(model: Model, precision: str, layout: Layout) -> float:
    """Weight GB on each GPU of the replica (the most loaded rank)."""
    if layout.plain:
        return weights_gb_per_gpu(
            model, precision, layout.tensor_parallel, layout.pipeline_parallel
        )
    w = weight_profile(model, precision)
    atp, tp = layout.attention_tp, layout.tensor_parallel
    dense = w.sharded_bytes - w.attention_sharded_bytes
    per_rank = (
        w.attention_sharded_bytes / atp
        + w.kv_proj_bytes * kv_head_fraction(model, atp)
        + w.replicated_bytes
        + (dense + w.embedding_bytes + w.lm_head_bytes) / tp
        + w.routed_total_bytes * experts_per_rank_share(model, layout)
    )
    return per_rank * stage_share(model, layout.pipeline_parallel) / GB


def kv_gb_per_token_rank(model: Model, kv_precision: str, layout: Layout) -> float:
    """KV GB one token of one request takes on each GPU that holds that request's cache."""
    per_token = kv_cache_bytes_per_token(model, kv_precision)
    share = stage_share(model, layout.pipeline_parallel)
    return per_token * kv_head_fraction(model, layout.attention_tp) * share / GB


def kv_gb_per_sequence_per_gpu(
    model: Model, kv_precision: str, layout: Layout, sequence_tokens: int
) -> float:
    """KV GB one request of ``sequence_tokens`` adds per GPU of the replica, on average: with
    data-parallel attention only its own group keeps it, so it spreads over the groups."""
    per_seq = kv_gb_per_token_rank(model, kv_precision, layout) * sequence_tokens
    return per_seq / layout.attention_groups


def layout_usable_gb(
    gpu: Gpu, model: Model, layout: Layout, engine: Engine, weights_gb: float
) -> float:
    """GB one GPU offers to weights + KV cache under ``engine``'s memory budget (its
    activations split over the dense TP), holding ``weights_gb`` of weights."""
    return usable_gb_per_gpu(
        gpu,
        model,
        layout.tensor_parallel,
        engine.memory_fraction,
        engine.memory_budget,
        weights_gb,
    )
