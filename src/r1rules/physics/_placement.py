"""The one placement search: every layout of a replica on a GPU, with its memory and speed.

Sizing (``_sizing.size``) and estimates (``_estimates.estimate_deployment``) both read
:class:`Placement` records made here, so one layout gives the same figures wherever it is
shown. Layouts: tensor parallelism within a node (powers of two dividing the heads), pipeline
stages across nodes over the largest of them, and for MoE models expert parallelism with
data-parallel attention (EP over 2, 4, ... GPUs of a node, then over whole nodes) and, within
a node, expert parallelism under tensor-parallel attention. Per layout: weights and KV per
GPU (``_layout``), the largest batch that fits (0: the model does not), prefill and decode
step times (``_ep``, which hands plain layouts to ``_roofline``), and the request rate one
replica sustains at each batch. The serving engine gives the efficiencies and the layouts
it can run (llama.cpp: no expert parallelism, no data-parallel attention). Cached per
(model, precision, GPU, lengths, layouts, engine).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable

import attrs

from r1rules.catalog import Engine, Gpu, Model
from r1rules.physics._efficiency import engine_or_default
from r1rules.physics._ep import layout_decode_ms, layout_prefill_ms, prefill_cost_ms
from r1rules.physics._layout import (
    Layout,
    check_layout,
    kv_gb_per_sequence_per_gpu,
    kv_gb_per_token_rank,
    layout_usable_gb,
    layout_weights_gb,
)

__all__ = [
    "BATCH_STEPS",
    "Placement",
    "candidate_layouts",
    "place",
    "placements",
    "uneven_layouts",
]

# Batch sizes (concurrent sequences per attention group) at which capacity is tabulated;
# serving engines schedule up to a few hundred sequences (vLLM's default max_num_seqs is 256),
# so the table stops at 1,024 per group.
BATCH_STEPS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


@attrs.frozen
class Placement:
    """One replica's shape on a GPU, with its memory and its capacity at each batch size.

    ``kv_gb_per_sequence_per_gpu`` is what one more request adds per GPU on average (with
    data-parallel attention only its group keeps it); ``max_batch`` counts requests the
    replica's KV space holds, so weights + KV of ``max_batch`` never exceed the usable memory.
    """

    tensor_parallel: int
    pipeline_parallel: int
    weights_gb_per_gpu: float
    kv_gb_per_sequence_per_gpu: float
    kv_space_gb_per_gpu: float
    max_batch: int  # sequences the KV space holds (0: not even one)
    prefill_ms: float  # one prompt on an idle replica
    batches: tuple[int, ...]
    step_ms: tuple[float, ...]  # time per output token at each batch
    capacity_qps: tuple[float, ...]  # requests/s one replica sustains at each batch
    expert_parallel: int = 1
    data_parallel_attention: bool = False
    prefill_cost_ms: float = 0.0  # replica time one request's prefill takes under load
    usable_gb_per_gpu: float = 0.0
    mtp_acceptance: float = 0.0

    def first_token_ms(self, tpot_ms: float, request_ms: float) -> float:
        """Time to the first token: the prompt's prefill, one decode step (a step emits
        1 + the MTP acceptance tokens, so it lasts that many times ``tpot_ms``) and the
        request's way to its first token off the GPU (``request_ms``). Sizing and
        ``estimate`` both take it from here."""
        return self.prefill_ms + tpot_ms * (1.0 + self.mtp_acceptance) + request_ms

    @property
    def layout(self) -> Layout:
        return Layout(
            self.tensor_parallel,
            self.pipeline_parallel,
            self.expert_parallel,
            self.data_parallel_attention,
        )

    @property
    def gpus(self) -> int:
        return self.layout.gpus

    @property
    def holds_model(self) -> bool:
        return self.max_batch >= 1

    @property
    def best_capacity_qps(self) -> float:
        return max(self.capacity_qps, default=0.0)

    def memory_per_gpu_gb(self, batch: int) -> float:
        """Weights + KV of ``batch`` running requests per GPU (the busiest group's share)."""
        groups = self.layout.attention_groups
        per_group = math.ceil(batch / groups)
        kv = self.kv_gb_per_sequence_per_gpu * groups * per_group
        return self.weights_gb_per_gpu + kv


def _tp_options(model: Model, gpu: Gpu) -> tuple[int, ...]:
    """Powers of two that divide the attention heads, up to one node's GPUs."""
    options = []
    tp = 1
    while tp <= gpu.max_per_node:
        if model.num_attention_heads % tp == 0:
            options.append(tp)
        tp *= 2
    return tuple(options)


def candidate_layouts(
    model: Model,
    gpu: Gpu,
    max_nodes: int,
    engine: Engine | None = None,
    ep_nodes: int | None = None,
) -> tuple[Layout, ...]:
    """Every layout one replica of ``model`` may take within ``max_nodes`` nodes on
    ``engine`` (default: the default engine), and expert-parallel layouts across nodes
    within ``ep_nodes`` (default: ``max_nodes``): expert-parallel layouts only when the
    engine runs expert parallelism, and those with data-parallel attention only when it
    runs that."""
    ep_nodes = max_nodes if ep_nodes is None else ep_nodes
    engine = engine_or_default(engine)
    if engine.multi_gpu == "layers":  # whole layers per GPU: a pipeline over every GPU
        node = gpu.max_per_node
        stages = [*range(1, node + 1), *(node * n for n in range(2, max_nodes + 1))]
        return tuple(Layout(1, pp) for pp in stages if pp <= model.num_layers)
    tps = _tp_options(model, gpu)
    out = [Layout(tp) for tp in tps]
    out += [Layout(tps[-1], pp) for pp in range(2, min(max_nodes, model.num_layers) + 1)]
    dp_attention = engine.data_parallel_attention
    if model.kind == "moe" and model.n_routed_experts > 1 and engine.expert_parallel:
        node = gpu.max_per_node
        within = [r for r in (2, 4, 8, 16, 32, 64) if r <= node]
        across = [node * n for n in range(2, ep_nodes + 1)]
        for ranks in within + across:
            if ranks > model.n_routed_experts:
                break
            if dp_attention:
                out.append(Layout(1, 1, ranks, True))
            if ranks <= node and model.num_attention_heads % ranks == 0:
                out.append(Layout(ranks, 1, ranks, False))
    return tuple(out)


def uneven_layouts(
    model: Model, gpu: Gpu, gpu_count: int, engine: Engine | None = None
) -> tuple[Layout, ...]:
    """Tensor x pipeline layouts over up to ``gpu_count`` GPUs with stages of any count,
    within a node or over part of one: the edge case vLLM's distributed-serving guide
    names ("if the model fits in a single node with multiple GPUs, but the number of GPUs
    cannot divide the model size evenly, you can use pipeline parallelism, which splits
    the model along layers and supports uneven splits"), for a fleet (6 GPUs, 12, 3) on
    which no layout of ``candidate_layouts`` holds the model. Each stage holds its share
    of whole layers (``stage_share``). An engine that splits whole layers (``multi_gpu``
    ``layers``) takes stages of one GPU each."""
    layers = engine_or_default(engine).multi_gpu == "layers"
    return tuple(
        Layout(tp, pp)
        for tp in ((1,) if layers else _tp_options(model, gpu))
        for pp in range(2, min(gpu_count // tp, model.num_layers) + 1)
    )


@functools.lru_cache(maxsize=16384)
def place(
    model: Model,
    precision: str,
    kv_precision: str,
    gpu: Gpu,
    layout: Layout,
    prompt_tokens: int,
    output_tokens: int,
    mtp_acceptance: float = 0.0,
    engine: Engine | None = None,
) -> Placement:
    """The :class:`Placement` of one layout on ``engine`` (default: the default engine),
    checked: WorkloadError names a bad degree."""
    check_layout(model, layout)
    sequence = prompt_tokens + output_tokens
    mean_context = prompt_tokens + output_tokens // 2
    weights = layout_weights_gb(model, precision, layout)
    usable = layout_usable_gb(gpu, model, layout, engine_or_default(engine), weights)
    space = usable - weights
    groups = layout.attention_groups
    per_group_kv = kv_gb_per_token_rank(model, kv_precision, layout) * sequence
    per_group = max(0, math.floor(space / per_group_kv)) if space > 0 else 0
    max_batch = per_group * groups
    prefill = layout_prefill_ms(model, precision, gpu, layout, prompt_tokens, 1, engine)
    cost = prefill_cost_ms(model, precision, gpu, layout, prompt_tokens, engine)
    steps_of = [b * groups for b in BATCH_STEPS]
    batches = tuple(b for b in steps_of if b < max_batch) + ((max_batch,) if max_batch else ())
    steps = tuple(
        layout_decode_ms(
            model, precision, kv_precision, gpu, layout, b, mean_context, mtp_acceptance, engine
        )
        for b in batches
    )
    capacity = tuple(
        capacity_qps(b, s, prefill, cost, output_tokens)
        for b, s in zip(batches, steps, strict=True)
    )
    return Placement(
        layout.tensor_parallel,
        layout.pipeline_parallel,
        weights,
        kv_gb_per_sequence_per_gpu(model, kv_precision, layout, sequence),
        space,
        max_batch,
        prefill,
        batches,
        steps,
        capacity,
        layout.expert_parallel,
        layout.data_parallel_attention,
        cost,
        usable,
        mtp_acceptance,
    )


@functools.lru_cache(maxsize=4096)
def placements(
    model: Model,
    precision: str,
    kv_precision: str,
    gpu: Gpu,
    prompt_tokens: int,
    output_tokens: int,
    max_nodes: int,
    mtp_acceptance: float = 0.0,
    engine: Engine | None = None,
    ep_nodes: int | None = None,
) -> tuple[Placement, ...]:
    """Every placement of one replica within ``max_nodes`` nodes (expert-parallel ones
    across nodes within ``ep_nodes``, default ``max_nodes``) on ``engine``, plain layouts
    first."""
    return _all(
        model,
        precision,
        kv_precision,
        gpu,
        candidate_layouts(model, gpu, max_nodes, engine, ep_nodes),
        prompt_tokens,
        output_tokens,
        mtp_acceptance,
        engine,
    )


def _all(
    model: Model,
    precision: str,
    kv_precision: str,
    gpu: Gpu,
    layouts: Iterable[Layout],
    prompt_tokens: int,
    output_tokens: int,
    mtp_acceptance: float,
    engine: Engine | None,
) -> tuple[Placement, ...]:
    return tuple(
        place(
            model,
            precision,
            kv_precision,
            gpu,
            lay,
            prompt_tokens,
            output_tokens,
            mtp_acceptance,
            engine,
        )
        for lay in layouts
    )


def capacity_qps(
    batch: int, step_ms: float, prefill: float, prefill_cost: float, output_tokens: int
) -> float:
    """Requests/s one replica sustains with ``batch`` sequences in flight.

    Bounded by replica time (each request costs its prefill plus its share of the decode
    steps) and by Little's law (``batch`` slots, each busy for the request's whole duration).
    """
    gpu_time_ms = prefill_cost + output_tokens * step_ms / batch
    duration_ms = prefill + output_tokens * step_ms
    return min(1000.0 / gpu_time_ms, 1000.0 * batch / duration_ms)
