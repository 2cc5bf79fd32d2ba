"""Estimates: memory, latency and throughput of a deployment the caller describes.

Built on the roofline step times of ``_roofline``; used by ``r1rules.estimate`` and for the
estimates attached to every recommendation.
"""

from __future__ import annotations

import math
from bisect import bisect_left

import attrs

from r1rules._errors import CatalogError, WorkloadError
from r1rules._vocabulary import ENGINES, KV_PRECISIONS, PRECISIONS
from r1rules._workload import (
    DEFAULT_ENGINE,
    DEFAULT_KV_CACHE_PRECISION,
    DEFAULT_OUTPUT_TOKENS,
    DEFAULT_PROMPT_TOKENS,
    checked,
    choice,
)
from r1rules.catalog import Catalog, Engine, Gpu, Model, default_catalog
from r1rules.physics._degrees import check_degrees
from r1rules.physics._efficiency import efficiency, engine_or_default, with_overhead
from r1rules.physics._ep import layout_decode_ms, layout_prefill_ms
from r1rules.physics._layout import Layout
from r1rules.physics._memory import (
    GB,
    check_precision,
    kv_cache_bytes_per_token,
    kv_head_fraction,
    runtime_overhead_gb,
    weight_profile,
)
from r1rules.physics._placement import Placement, candidate_layouts, place, uneven_layouts
from r1rules.physics._roofline import positive

__all__ = ["Estimates", "estimate_deployment", "estimate_in"]


@attrs.frozen
class Estimates:
    """Memory and latency of serving one model on ``gpu_count`` GPUs of one kind.

    Memory: ``weights_gb`` is one copy of the model; ``kv_cache_gb`` is the cache the
    ``concurrency`` full sequences (prompt + output) occupy across the deployment, counting
    MLA's per-rank copies; ``memory_per_gpu_gb`` = weights + KV of its replica's share +
    runtime overhead; ``total_memory_gb`` sums that over the GPUs in use.
    Latency: ``ttft_ms`` is one prompt's prefill on an idle replica (no queueing); ``tpot_ms``
    a decode step at the running batch and mean context (prompt + output / 2);
    ``throughput_tokens_per_s`` is output tokens/s of all replicas, prefill time included.
    The running batch per replica is the requested share capped by what the KV cache holds.
    When ``fits`` is False the layout is the largest tried, latencies are inf and throughput 0.
    ``ttft_ms`` = prefill of one prompt + one decode step at the running batch (as sizing);
    ``tpot_ms`` counts MTP's accepted tokens; ``request_ms`` is the part of ``ttft_ms`` spent
    off the GPU (the engine profile's figure, or a stated ``request_overhead_ms``).
    Layout: tensor/pipeline/expert parallel degrees and data-parallel attention;
    ``idle_gpus`` are those no whole replica uses.
    ``memory_per_gpu_gb`` never exceeds ``usable_memory_per_gpu_gb + runtime_overhead_gb``
    when ``fits``: the running batch is capped by what the KV cache holds.
    """

    weights_gb: float
    weights_per_gpu_gb: float
    kv_cache_bytes_per_token: int
    kv_cache_gb: float
    usable_memory_per_gpu_gb: float
    memory_per_gpu_gb: float
    total_memory_gb: float
    ttft_ms: float
    tpot_ms: float
    throughput_tokens_per_s: float
    max_concurrency: int
    batch_per_replica: int
    kv_limited: bool  # concurrency > max_concurrency: the excess waits
    tensor_parallel: int
    pipeline_parallel: int
    replicas: int
    gpu_count: int
    fits: bool
    expert_parallel: int = 1
    data_parallel_attention: bool = False
    idle_gpus: int = 0  # gpu_count beyond whole replicas
    runtime_overhead_gb: float = 0.0  # per GPU, inside memory_per_gpu_gb
    mtp_acceptance: float = 0.0
    request_ms: float = 0.0  # of ttft_ms, the way off the GPU: API, tokenizer, admission


def _candidates(
    model: Model,
    gpu: Gpu,
    gpu_count: int,
    tp: int | None,
    pp: int | None,
    ep: int | None,
    dpa: bool | None,
    engine: Engine,
) -> list[Layout]:
    """The layouts the caller's stated degrees allow within ``gpu_count`` GPUs."""
    if tp is not None:
        most = max(1, min(gpu_count // tp, model.num_layers))
        pps = [pp] if pp is not None else list(range(1, most + 1))
        stated = [Layout(tp, p, ep or 1, bool(dpa)) for p in pps]
        within = [lay for lay in stated if lay.gpus <= gpu_count]
        return within or stated[:1]
    if ep is not None:
        split = dpa is not False
        return [Layout(1 if split else ep, pp or 1, ep, split)]
    nodes = math.ceil(gpu_count / gpu.max_per_node)
    found = [
        lay
        for lay in candidate_layouts(model, gpu, max(nodes, 1), engine)
        if lay.gpus <= gpu_count
        and (pp is None or lay.pipeline_parallel == pp)
        and (dpa is None or lay.data_parallel_attention == dpa)
    ]
    if pp is not None and not found:  # the stated stages over as many GPUs each as fit
        tps = {lay.tensor_parallel for lay in candidate_layouts(model, gpu, 1, engine) if lay.plain}
        found = [Layout(tp, pp) for tp in sorted(tps | {1}) if tp * pp <= gpu_count]
    return found


def _score(p: Placement, gpu_count: int, concurrency: int) -> tuple[bool, float, int]:
    """Higher is better: holds the load's requests, throughput, fewer GPUs per replica."""
    replicas = gpu_count // p.gpus
    if replicas == 0:  # a stated layout larger than the GPUs given: it cannot run
        return (False, 0.0, -p.gpus)
    batch = min(math.ceil(concurrency / replicas), p.max_batch)
    index = bisect_left(p.batches, batch)
    step = p.step_ms[min(index, len(p.step_ms) - 1)] if p.step_ms else math.inf
    rate = min(concurrency, replicas * batch) / step if p.holds_model else 0.0
    return (p.holds_model and replicas * p.max_batch >= concurrency, rate, -p.gpus)


def estimate_deployment(
    model: Model,
    precision: str,
    gpu: Gpu,
    gpu_count: int,
    concurrency: int,
    prompt_tokens: int,
    output_tokens: int,
    kv_precision: str = DEFAULT_KV_CACHE_PRECISION,
    tensor_parallel: int | None = None,
    pipeline_parallel: int | None = None,
    *,
    expert_parallel: int | None = None,
    data_parallel_attention: bool | None = None,
    mtp_acceptance: float = 0.0,
    engine: Engine | None = None,
) -> Estimates:
    """Estimate memory, TTFT, TPOT and throughput of ``concurrency`` users on ``gpu_count`` GPUs.

    Layout: the placement search of ``_placement`` (the one sizing uses) over the layouts
    the stated degrees allow: TP within a node, PP over nodes, and for MoE models EP with
    data-parallel attention. Degrees left None are searched; among layouts whose replicas
    fit in ``gpu_count``, it takes the one whose KV cache holds every request, then the
    highest throughput, then the fewest GPUs per replica. replicas = gpu_count // GPUs per
    replica; the rest are ``idle_gpus``; the concurrency splits evenly over replicas.
    ``mtp_acceptance`` > 0 turns on MTP speculative decoding with that acceptance rate.
    ``engine`` (default: the default engine) gives the efficiencies and the layouts searched.
    Raises WorkloadError naming the argument for counts < 1, an unknown precision, an
    engine that does not run on ``gpu``, or degrees that the model, ``gpu_count`` or the
    engine does not allow. A deployment that cannot hold
    the model returns ``fits=False``.
    """
    positive(
        gpu_count=gpu_count,
        concurrency=concurrency,
        prompt_tokens=prompt_tokens,
        output_tokens=output_tokens,
    )
    check_precision(precision)
    check_precision(kv_precision, "kv_precision")
    engine = engine_or_default(engine)
    refusal = engine.refusal(gpu)
    if refusal:
        raise WorkloadError(f"engine: {refusal}")
    degrees = (tensor_parallel, pipeline_parallel, expert_parallel, data_parallel_attention)
    check_degrees(model, gpu_count, *degrees, mtp_acceptance, engine)
    layouts = _candidates(model, gpu, gpu_count, *degrees, engine)
    mtp = float(mtp_acceptance)
    options = [
        place(model, precision, kv_precision, gpu, lay, prompt_tokens, output_tokens, mtp, engine)
        for lay in layouts
    ]
    holding = [p for p in options if p.holds_model]
    uneven = not holding and degrees == (None, None, None, None)
    if uneven:
        # none of the usual layouts holds the model on these GPUs: stages of whole layers
        # over any count of them may (6 x H200 or 3 x B300 for R1 in FP8)
        options += [
            place(
                model, precision, kv_precision, gpu, lay, prompt_tokens, output_tokens, mtp, engine
            )
            for lay in uneven_layouts(model, gpu, gpu_count, engine)
            if lay not in layouts
        ]
        holding = [p for p in options if p.holds_model]
    lengths = (prompt_tokens, output_tokens)
    fixed = (model, precision, kv_precision, gpu)
    if not holding:
        p = max(options, key=lambda q: q.gpus)
        return _estimates(*fixed, p, gpu_count, concurrency, lengths, engine)
    # Rank by the figures reported, not an approximation of them: a deployment given more
    # GPUs can always run the layout it had, so its reported throughput never drops. Among
    # the uneven layouts (GPU counts below the first a usual layout holds the model on),
    # throughput comes first: a layout whose cache holds every request but serves fewer
    # tokens (many thin stages) would otherwise make one more GPU serve less.
    scored = [
        (
            not uneven and _score(p, gpu_count, concurrency)[0],
            e.throughput_tokens_per_s,
            -p.gpus,
            i,
            e,
        )
        for i, p in enumerate(holding)
        for e in [_estimates(*fixed, p, gpu_count, concurrency, lengths, engine)]
    ]
    return max(scored, key=lambda t: t[:4])[4]


def _estimates(
    model: Model,
    precision: str,
    kv_precision: str,
    gpu: Gpu,
    p: Placement,
    gpu_count: int,
    concurrency: int,
    lengths: tuple[int, int],
    engine: Engine,
) -> Estimates:
    """The figures of placement ``p`` at ``concurrency`` users over ``gpu_count`` GPUs."""
    layout = p.layout
    prompt_tokens, output_tokens = lengths
    replicas = gpu_count // p.gpus
    used = replicas * p.gpus
    fits = p.holds_model and replicas >= 1
    seq = prompt_tokens + output_tokens
    overhead = runtime_overhead_gb(model, layout.tensor_parallel)
    wanted = math.ceil(concurrency / max(1, replicas))
    # every layer's cache once, on each rank of an attention group (MLA: whole on each)
    atp = layout.attention_tp
    per_token = kv_cache_bytes_per_token(model, kv_precision) * kv_head_fraction(model, atp)
    kv_cache_gb = concurrency * seq * per_token * atp / GB
    ttft = tpot = math.inf
    throughput = 0.0
    batch = 0
    memory = p.memory_per_gpu_gb(wanted) + overhead
    request_ms = efficiency(gpu, engine).request_ms
    if fits:
        batch = max(1, min(wanted, p.max_batch))
        memory = p.memory_per_gpu_gb(batch) + overhead
        context = prompt_tokens + output_tokens // 2
        tpot = layout_decode_ms(
            model, precision, kv_precision, gpu, layout, batch, context, p.mtp_acceptance, engine
        )
        ttft = p.first_token_ms(tpot, request_ms)
        # each request costs its prefill plus its share of the decode steps
        prefill = layout_prefill_ms(model, precision, gpu, layout, prompt_tokens, batch, engine)
        cycle_ms = output_tokens * tpot + prefill
        running = min(concurrency, replicas * batch)
        throughput = running * output_tokens * 1e3 / cycle_ms
    w = weight_profile(model, precision)
    return Estimates(
        weights_gb=w.total_bytes / GB,
        weights_per_gpu_gb=p.weights_gb_per_gpu,
        kv_cache_bytes_per_token=kv_cache_bytes_per_token(model, kv_precision),
        kv_cache_gb=kv_cache_gb,
        usable_memory_per_gpu_gb=max(0.0, p.usable_gb_per_gpu),
        memory_per_gpu_gb=memory,
        total_memory_gb=used * (p.weights_gb_per_gpu + overhead) + kv_cache_gb,
        ttft_ms=ttft,
        tpot_ms=tpot,
        throughput_tokens_per_s=throughput,
        max_concurrency=p.max_batch * replicas,
        batch_per_replica=batch,
        kv_limited=concurrency > p.max_batch * replicas,
        tensor_parallel=layout.tensor_parallel,
        pipeline_parallel=layout.pipeline_parallel,
        replicas=replicas,
        gpu_count=gpu_count,
        fits=fits,
        expert_parallel=layout.expert_parallel,
        data_parallel_attention=layout.data_parallel_attention,
        idle_gpus=gpu_count - used,
        runtime_overhead_gb=overhead,
        mtp_acceptance=p.mtp_acceptance,
        request_ms=request_ms,
    )


def _count(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise WorkloadError(
            f"{name}: expected a whole number, not {type(value).__name__}; got {value!r}"
        )
    if value < 1:
        raise WorkloadError(f"{name}: must be at least 1; got {value!r}")
    return value


def estimate_in(
    *,
    model: str | Model,
    gpu: str | Gpu,
    gpu_count: int,
    concurrency: int,
    precision: str | None = None,
    prompt_tokens: int = DEFAULT_PROMPT_TOKENS,
    output_tokens: int = DEFAULT_OUTPUT_TOKENS,
    kv_cache_precision: str = DEFAULT_KV_CACHE_PRECISION,
    tensor_parallel: int | None = None,
    catalog: Catalog | None = None,
    pipeline_parallel: int | None = None,
    expert_parallel: int | None = None,
    data_parallel_attention: bool | None = None,
    mtp_acceptance: float = 0.0,
    engine: str | Engine | None = None,
    request_overhead_ms: float | None = None,
) -> Estimates:
    """Memory, TTFT, TPOT and throughput of ``concurrency`` users on ``gpu_count`` GPUs.

    ``model`` and ``gpu`` are ids or aliases in ``catalog`` (default: the shipped one), or
    records; ``precision`` defaults to the model's native one; ``engine`` is an engine id
    of ``catalog`` (default ``vllm``) or an Engine record; ``request_overhead_ms`` (as
    ``Workload``'s) replaces its profiles' ``request_ms``. ``r1rules.estimate`` is this
    with the catalog of a rule set. Bad arguments raise WorkloadError naming the argument;
    a deployment that cannot hold the model returns ``fits=False``.
    """
    catalog = default_catalog() if catalog is None else catalog
    model_record = model if isinstance(model, Model) else _record("model", model, catalog)
    gpu_record = gpu if isinstance(gpu, Gpu) else _record("gpu", gpu, catalog)
    assert isinstance(model_record, Model) and isinstance(gpu_record, Gpu)
    chosen = model_record.native_precision if precision is None else precision
    choice("precision", chosen, PRECISIONS)
    choice("kv_cache_precision", kv_cache_precision, KV_PRECISIONS)
    chosen_engine = engine if isinstance(engine, Engine) else _engine(engine, catalog)
    overhead = checked("request_overhead_ms", request_overhead_ms)
    return estimate_deployment(
        model_record,
        chosen,
        gpu_record,
        _count("gpu_count", gpu_count),
        _count("concurrency", concurrency),
        _count("prompt_tokens", prompt_tokens),
        _count("output_tokens", output_tokens),
        kv_precision=kv_cache_precision,
        tensor_parallel=_maybe("tensor_parallel", tensor_parallel),
        pipeline_parallel=_maybe("pipeline_parallel", pipeline_parallel),
        expert_parallel=_maybe("expert_parallel", expert_parallel),
        data_parallel_attention=data_parallel_attention,
        mtp_acceptance=mtp_acceptance,
        engine=with_overhead(chosen_engine, overhead, "estimate(request_overhead_ms=...)"),
    )


def _engine(value: object, catalog: Catalog) -> Engine:
    """The catalog's engine ``value`` names (None: the default); WorkloadError otherwise."""
    name = choice("engine", DEFAULT_ENGINE if value is None else value, ENGINES)
    try:
        return catalog.engine(name)
    except CatalogError as exc:
        raise WorkloadError(f"engine: {exc}") from None


def _maybe(name: str, value: object) -> int | None:
    return None if value is None else _count(name, value)


def _record(name: str, value: object, catalog: Catalog) -> Model | Gpu:
    """The catalog record ``value`` names; WorkloadError naming the argument otherwise."""
    if not isinstance(value, str):
        raise WorkloadError(
            f"{name}: expected a catalog id (str), not {type(value).__name__}; got {value!r}"
        )
    try:
        return catalog.model(value) if name == "model" else catalog.gpu(value)
    except CatalogError as exc:
        raise WorkloadError(f"{name}: {exc}") from None
