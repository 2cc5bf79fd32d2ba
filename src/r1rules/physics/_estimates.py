"""Estimates: memory, latency and throughput of a deployment the caller describes.

Built on the roofline step times of ``_roofline``; used by ``r1rules.estimate`` and for the
estimates attached to every recommendation.
"""

from __future__ import annotations

import math

import attrs

from r1rules._errors import CatalogError, WorkloadError
from r1rules._vocabulary import KV_PRECISIONS, PRECISIONS
from r1rules._workload import (
    DEFAULT_KV_CACHE_PRECISION,
    DEFAULT_OUTPUT_TOKENS,
    DEFAULT_PROMPT_TOKENS,
    choice,
)
from r1rules.catalog import Catalog, Gpu, Model, default_catalog
from r1rules.physics._memory import (
    GB,
    USABLE_MEMORY_FRACTION,
    check_precision,
    device_memory_gb,
    kv_cache_bytes_per_token,
)
from r1rules.physics._roofline import Consts, consts, decode_core_ms, positive, prefill_core_ms

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


def _layout(
    model: Model,
    precision: str,
    kv_precision: str,
    gpu: Gpu,
    gpu_count: int,
    seq: int,
    tensor_parallel: int | None,
    pipeline_parallel: int | None = None,
) -> tuple[Consts, int, bool]:
    """Smallest power-of-two tp (dividing the heads, within a node) holding weights + one
    sequence; else pipeline stages over the largest tp. Returns (consts of tp, pp, fits).
    Given both degrees, it only checks whether that layout holds the model."""
    budget = device_memory_gb(gpu) * USABLE_MEMORY_FRACTION
    if tensor_parallel is not None and pipeline_parallel is not None:
        c = consts(model, precision, kv_precision, tensor_parallel)
        need = c.weights_gb_per_gpu + seq * c.kv_bytes_per_token / GB
        return c, pipeline_parallel, need / pipeline_parallel <= budget - c.overhead_gb
    if tensor_parallel is None:
        limit = min(gpu_count, gpu.max_per_node)
        tps = [
            1 << i for i in range(limit.bit_length()) if model.num_attention_heads % (1 << i) == 0
        ]
    else:
        tps = [tensor_parallel]
    for tp in tps:
        c = consts(model, precision, kv_precision, tp)
        if c.weights_gb_per_gpu + seq * c.kv_bytes_per_token / GB <= budget - c.overhead_gb:
            return c, 1, True
    c = consts(model, precision, kv_precision, tps[-1])
    max_pp = max(1, min(gpu_count // c.tp, model.num_layers))
    need = c.weights_gb_per_gpu + seq * c.kv_bytes_per_token / GB
    for pp in range(2, max_pp + 1):
        if need / pp <= budget - c.overhead_gb:
            return c, pp, True
    return c, max_pp, False


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
) -> Estimates:
    """Estimate memory, TTFT, TPOT and throughput of ``concurrency`` users on ``gpu_count`` GPUs.

    Layout: the smallest power-of-two TP (dividing num_attention_heads, <= gpu_count and <= the
    GPU's max_per_node) whose replica holds the weights plus one full sequence's KV; if none
    does, pipeline stages over the largest such TP. ``tensor_parallel`` forces the TP, and
    with it ``pipeline_parallel`` forces the pipeline depth.
    replicas = gpu_count // (tp x pp); the concurrency splits evenly over replicas.
    Raises WorkloadError naming the argument for gpu_count, concurrency or token counts < 1,
    an unknown precision or a tensor_parallel that does not divide the heads or exceeds
    gpu_count. A deployment that cannot hold the model returns ``fits=False``.
    """
    positive(
        gpu_count=gpu_count,
        concurrency=concurrency,
        prompt_tokens=prompt_tokens,
        output_tokens=output_tokens,
    )
    check_precision(precision)
    check_precision(kv_precision, "kv_precision")
    if tensor_parallel is not None:
        positive(tensor_parallel=tensor_parallel)
        if tensor_parallel > gpu_count or model.num_attention_heads % tensor_parallel:
            raise WorkloadError(
                f"tensor_parallel: {tensor_parallel} must divide num_attention_heads "
                f"({model.num_attention_heads}) and be <= gpu_count ({gpu_count})"
            )
    seq = prompt_tokens + output_tokens
    if pipeline_parallel is not None:
        positive(pipeline_parallel=pipeline_parallel)
        if tensor_parallel is None or tensor_parallel * pipeline_parallel > gpu_count:
            raise WorkloadError(
                f"pipeline_parallel: {pipeline_parallel} needs tensor_parallel, and "
                f"tensor_parallel x pipeline_parallel must be <= gpu_count ({gpu_count})"
            )
    c, pp, fits = _layout(
        model, precision, kv_precision, gpu, gpu_count, seq, tensor_parallel, pipeline_parallel
    )
    tp = c.tp
    replicas = gpu_count // (tp * pp)
    used = replicas * tp * pp
    w_gpu = c.weights_gb_per_gpu / pp
    usable = device_memory_gb(gpu) * USABLE_MEMORY_FRACTION - c.overhead_gb  # = usable_gb_per_gpu
    kv_gpu_token = c.kv_bytes_per_token / pp
    per_replica_max = max(0, math.floor((usable - w_gpu) * GB / (kv_gpu_token * seq)))
    wanted = math.ceil(concurrency / replicas)
    kv_cache_gb = concurrency * seq * kv_gpu_token * tp * pp / GB
    memory_per_gpu = w_gpu + wanted * seq * kv_gpu_token / GB + c.overhead_gb
    ttft = tpot = math.inf
    throughput = 0.0
    batch = 0
    if fits:
        batch = max(1, min(wanted, per_replica_max))  # fits: one sequence always does
        ttft = prefill_core_ms(c, gpu, precision, pp, prompt_tokens, 1)
        tpot = decode_core_ms(c, gpu, precision, pp, batch, prompt_tokens + output_tokens / 2.0)
        # each request costs its prefill plus its share of the decode steps
        cycle_ms = output_tokens * tpot + prefill_core_ms(
            c, gpu, precision, pp, prompt_tokens, batch
        )
        running = min(concurrency, replicas * batch)
        throughput = running * output_tokens * 1e3 / cycle_ms
    return Estimates(
        weights_gb=c.weights_gb,
        weights_per_gpu_gb=w_gpu,
        kv_cache_bytes_per_token=kv_cache_bytes_per_token(model, kv_precision),
        kv_cache_gb=kv_cache_gb,
        usable_memory_per_gpu_gb=max(0.0, usable),
        memory_per_gpu_gb=memory_per_gpu,
        total_memory_gb=used * (w_gpu + c.overhead_gb) + kv_cache_gb,
        ttft_ms=ttft,
        tpot_ms=tpot,
        throughput_tokens_per_s=throughput,
        max_concurrency=per_replica_max * replicas,
        batch_per_replica=batch,
        kv_limited=concurrency > per_replica_max * replicas,
        tensor_parallel=tp,
        pipeline_parallel=pp,
        replicas=replicas,
        gpu_count=gpu_count,
        fits=fits,
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
) -> Estimates:
    """Memory, TTFT, TPOT and throughput of ``concurrency`` users on ``gpu_count`` GPUs.

    ``model`` and ``gpu`` are ids or aliases in ``catalog`` (default: the shipped one), or
    records; ``precision`` defaults to the model's native one. ``r1rules.estimate`` is this
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
    return estimate_deployment(
        model_record,
        chosen,
        gpu_record,
        _count("gpu_count", gpu_count),
        _count("concurrency", concurrency),
        _count("prompt_tokens", prompt_tokens),
        _count("output_tokens", output_tokens),
        kv_precision=kv_cache_precision,
        tensor_parallel=None
        if tensor_parallel is None
        else _count("tensor_parallel", tensor_parallel),
    )


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
