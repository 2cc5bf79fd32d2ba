"""Facts for the rules: from the workload (before any rule) and from sizing (between strata)."""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from r1rules._errors import EvaluationError
from r1rules._vocabulary import SIZING_INPUTS
from r1rules._workload import Workload
from r1rules.catalog import Catalog, Engine, Gpu, Model
from r1rules.physics import Cost, Sizing, kv_cache_bytes_per_token, size, weights_gb, with_overhead
from r1rules.recommend._cache import COST_CACHE_SIZE, Identity, cost_by_identity, on_clear

__all__ = [
    "cost_facts",
    "deploy_facts",
    "engine_for",
    "facts_of",
    "gpu_in",
    "input_facts",
    "shared_facts_of",
    "sizing_facts",
    "sizing_for",
    "sizings_for",
]


@functools.lru_cache(maxsize=1024)
def _model_facts(model: Model, precision: str, kv_precision: str) -> tuple[tuple[str, object], ...]:
    return (
        ("model", model.id),
        ("model_kind", model.kind),
        ("params_b", float(model.total_params_b)),
        ("size_class_b", float(model.nominal_params_b)),
        ("active_params_b", float(model.active_params_b)),
        ("precision_is_native", precision == model.native_precision),
        ("weights_gb", weights_gb(model, precision)),
        ("kv_cache_bytes_per_token", kv_cache_bytes_per_token(model, kv_precision)),
        ("context_window_tokens", model.max_context_tokens),
    )


def input_facts(workload: Workload, model: Model) -> dict[str, object]:
    """The facts known before any rule runs: the workload and its model's memory physics."""
    assert workload.precision is not None
    facts: dict[str, object] = dict(
        _model_facts(model, workload.precision, workload.kv_cache_precision)
    )
    facts["precision"] = workload.precision
    facts["kv_cache_precision"] = workload.kv_cache_precision
    facts["engine"] = workload.engine
    facts["gpu_pinned"] = workload.gpu is not None
    facts["pinned_gpu"] = workload.gpu or "none"
    facts["peak_qps"] = workload.peak_qps
    facts["latency_ms"] = workload.latency_ms
    facts["prompt_tokens"] = workload.prompt_tokens
    facts["output_tokens"] = workload.output_tokens
    facts["sequence_tokens"] = workload.sequence_tokens
    facts["stage"] = workload.stage
    facts["objective"] = workload.objective
    facts["has_budget"] = workload.budget_usd is not None
    if workload.budget_usd is not None:
        facts["budget_usd"] = workload.budget_usd
    facts["has_tpot_target"] = workload.tpot_ms is not None
    if workload.tpot_ms is not None:
        facts["tpot_target_ms"] = workload.tpot_ms
    if workload.concurrent_requests is not None:
        facts["concurrent_requests"] = workload.concurrent_requests
    if workload.request_overhead_ms is not None:
        facts["request_overhead_ms"] = workload.request_overhead_ms
    return facts


def engine_for(workload: Workload, catalog: Catalog) -> Engine:
    """The workload's serving engine in ``catalog`` (the rule set's); a resolved workload
    names it by its id, found without normalising the name. A stated
    ``request_overhead_ms`` replaces every profile's ``request_ms``."""
    found = catalog.engines.get(workload.engine)
    engine = catalog.engine(workload.engine) if found is None else found
    return with_overhead(engine, workload.request_overhead_ms, "Workload.request_overhead_ms")


def sizing_for(
    workload: Workload,
    model: Model,
    gpu: Gpu,
    facts: Mapping[str, object],
    engine: Engine,
) -> Sizing:
    """The sizing of ``gpu`` for the workload on ``engine`` (the workload's engine in the
    rule set's catalog: :func:`engine_for`); EvaluationError when that engine does not run
    on ``gpu``."""
    return _size_cached(model, gpu, engine, *_sizing_inputs(workload, facts))


def sizings_for(
    workload: Workload,
    model: Model,
    gpus: tuple[Gpu, ...],
    facts: Mapping[str, object],
    engine: Engine,
) -> tuple[Sizing | None, ...]:
    """``sizing_for`` each of ``gpus`` (None for one that ``engine`` does not run on),
    cached as one entry (sizing, cached itself, is looked up once per GPU otherwise),
    keyed by the identity of ``gpus`` (the same tuple for a catalog: hashing its GPUs
    costs more than the lookup)."""
    return _sizings(model, Identity(gpus), engine, *_sizing_inputs(workload, facts))


_SizingInputs = tuple[str, str, float, float, float | None, float | None, int, int, float, int, int]


def _sizing_inputs(workload: Workload, facts: Mapping[str, object]) -> _SizingInputs:
    assert workload.precision is not None
    assert workload.peak_qps is not None and workload.latency_ms is not None  # resolved
    return (
        workload.precision,
        workload.kv_cache_precision,
        workload.peak_qps,
        workload.latency_ms,
        workload.tpot_ms,
        workload.concurrent_requests,
        workload.prompt_tokens,
        workload.output_tokens,
        float(facts["headroom_fraction"]),  # type: ignore[arg-type]
        int(facts["max_nodes_per_replica"]),  # type: ignore[call-overload]
        int(facts["max_nodes_per_ep_replica"]),  # type: ignore[call-overload]
    )


def _size(
    model: Model,
    gpu: Gpu,
    engine: Engine,
    precision: str,
    kv_precision: str,
    peak_qps: float,
    latency_ms: float,
    tpot_ms: float | None,
    in_flight: float | None,
    prompt_tokens: int,
    output_tokens: int,
    headroom_fraction: float,
    max_nodes: int,
    max_ep_nodes: int,
) -> Sizing:
    return size(
        model,
        precision,
        kv_precision,
        gpu,
        peak_qps=peak_qps,
        latency_ms=latency_ms,
        tpot_ms=tpot_ms,
        in_flight=in_flight,
        prompt_tokens=prompt_tokens,
        output_tokens=output_tokens,
        headroom_fraction=headroom_fraction,
        max_nodes=max_nodes,
        max_ep_nodes=max_ep_nodes,
        engine=engine,
    )


# ``physics.size`` is cached, but looked up by keyword: its key costs more than this one's.
@functools.lru_cache(maxsize=4096, typed=True)
def _size_cached(model: Model, gpu: Gpu, engine: Engine, *inputs: Any) -> Sizing:
    return _size(model, gpu, engine, *inputs)


@functools.lru_cache(maxsize=1024, typed=True)
def _sizings(
    model: Model, gpus: Identity, engine: Engine, *inputs: Any
) -> tuple[Sizing | None, ...]:
    found: list[Sizing | None] = []
    every = gpus.item
    assert isinstance(every, tuple)
    for gpu in every:
        try:
            found.append(_size(model, gpu, engine, *inputs))
        except EvaluationError:  # the engine does not run on this GPU
            found.append(None)
    return tuple(found)


on_clear(_sizings.cache_clear)
on_clear(_size_cached.cache_clear)


def deploy_facts(
    workload: Workload,
    model: Model,
    gpu: Gpu,
    facts: Mapping[str, object],
    engine: Engine,
) -> tuple[dict[str, object], Sizing]:
    """The sizing facts of a deployment of ``gpu`` (which may not hold the model) on
    ``engine`` (as :func:`sizing_for`)."""
    deploy = sizing_for(workload, model, gpu, facts, engine)
    return facts_of(deploy, gpu), deploy


def facts_of(deploy: Sizing, gpu: Gpu) -> dict[str, object]:
    """The sizing facts of ``deploy``, a sizing of ``gpu`` (as ``deploy_facts`` finds)."""
    return dict(_deploy_facts(Identity(deploy), gpu))


def shared_facts_of(deploy: Sizing, gpu: Gpu) -> Mapping[str, object]:
    """``facts_of(deploy, gpu)`` without the copy: the cached mapping itself, to read
    (never to change)."""
    return _deploy_facts(Identity(deploy), gpu)


# Keyed by the Sizing's identity: sizing (``physics.size``, cached) returns the same record
# for the same deployment, and hashing one by value costs more than these facts.
@functools.lru_cache(maxsize=16384)
def _deploy_facts(sizing: Identity, gpu: Gpu) -> Mapping[str, object]:
    deploy = sizing.item
    assert isinstance(deploy, Sizing)
    placement = deploy.placement
    tp = placement.tensor_parallel
    out: dict[str, object] = {
        "deploy_gpu": gpu.id,
        "deploy_feasible": deploy.feasible,
        "fits_on_one_gpu": deploy.fits_on_one_gpu,
        "gpu_memory_gb": float(gpu.memory_gb),
        "gpu_segment": gpu.segment,
        "gpu_hbm": gpu.hbm,
        "gpu_fp8_native": gpu.fp8_native,
        "precision_native_on_gpu": deploy.precision_native,
        "gpu_nvlink_domain": gpu.nvlink_domain,
        "gpu_memory_bandwidth_gbps": float(gpu.memory_bandwidth_gbps),
        "tp_over_pcie": tp > 1 and gpu.nvlink_domain < tp,
        "ep_over_pcie": placement.expert_parallel > 1
        and gpu.nvlink_domain < min(placement.expert_parallel, gpu.max_per_node),
        "min_gpus_for_memory": deploy.min_gpus_for_memory,
        "tensor_parallel": tp,
        "pipeline_parallel": placement.pipeline_parallel,
        "expert_parallel": placement.expert_parallel,
        "data_parallel_attention": placement.data_parallel_attention,
        "gpus_per_replica": placement.gpus,
        "nodes_per_replica": -(-placement.gpus // gpu.max_per_node),
        "replicas": deploy.replicas,
        "physics_gpu_count": deploy.physics_gpu_count,
        "formula_gpu_count": deploy.formula_gpu_count,
        "sized_gpu_count": deploy.sized_gpu_count,
        "sized_nodes": deploy.nodes,
        "gpus_per_node": deploy.gpus_per_node,
        "formula_exceeds_physics": deploy.formula_gpu_count > deploy.physics_gpu_count,
        "concurrency": deploy.concurrency,
        "ttft_ms": deploy.ttft_ms,
        "best_ttft_ms": deploy.best_ttft_ms,
        "tpot_ms": deploy.tpot_ms,
        "meets_latency": deploy.meets_latency,
        "meets_tpot": deploy.meets_tpot,
        "option_meets_targets": deploy.feasible and deploy.meets_latency and deploy.meets_tpot,
        "output_tokens_per_s": deploy.output_tokens_per_s,
        "memory_per_gpu_gb": placement.weights_gb_per_gpu
        + min(
            placement.kv_space_gb_per_gpu,
            placement.kv_gb_per_sequence_per_gpu * deploy.batch_per_replica,
        ),
    }
    if not all(map(math.isfinite, [v for v in out.values() if isinstance(v, float)])):
        raise EvaluationError(f"sizing produced a non-finite figure for {gpu.id}: {out}")
    return out


on_clear(_deploy_facts.cache_clear)


def gpu_in(catalog: Catalog, name: str) -> Gpu:
    """``catalog.gpu(name)``; a canonical id (what the rules and the catalog write) is
    found without normalising the name (every GPU's id is one of its names)."""
    gpu = catalog.gpus.get(name)
    return catalog.gpu(name) if gpu is None else gpu


def sizing_facts(
    workload: Workload,
    model: Model,
    catalog: Catalog,
    facts: Mapping[str, object],
    engine: Engine,
) -> tuple[dict[str, object], Sizing]:
    """Size the candidate GPU; when it cannot hold the model, the first ladder GPU that can.

    This is the article's configuration (seed §2.1/§3.1/§4.1, upgraded only for memory).
    Returns its sizing facts and its Sizing. ``engine``: the workload's serving engine in
    ``catalog`` (:func:`engine_for`).
    """
    missing = [n for n in SIZING_INPUTS if n not in facts]
    if missing:
        raise EvaluationError(
            f"no rule set {', '.join(repr(m) for m in missing)} for this "
            "workload, and the sizing physics needs it"
        )
    candidate = gpu_in(catalog, str(facts["candidate_gpu"]))
    out, deploy = deploy_facts(workload, model, candidate, facts, engine)
    candidate_feasible = deploy.feasible
    if not candidate_feasible:
        ladder = facts["upgrade_ladder"]
        assert isinstance(ladder, tuple)
        for gpu_id in ladder:
            out, deploy = deploy_facts(workload, model, gpu_in(catalog, gpu_id), facts, engine)
            if deploy.feasible:
                break
    out["candidate_feasible"] = candidate_feasible
    return out, deploy


def cost_facts(
    prices: Identity, gpu: Gpu, sized: Mapping[str, object], facts: Mapping[str, object]
) -> tuple[Mapping[str, object], Cost | None]:
    """Cost facts of a sized deployment (``sized``: its sizing facts) for the budget rules,
    to read (never to change: cached); ``prices``: the rule set's price list as a cache key
    (``Plan.prices``); ``facts``: the run's, for its fabric and budget."""
    return _cost_facts(prices, gpu, sized, *_fabric_and_budget(facts))


def _fabric_and_budget(facts: Mapping[str, object]) -> tuple[str, float | None]:
    """The run's fabric, and its budget (None unless a positive amount)."""
    budget = facts.get("budget_usd")
    return str(facts.get("fabric", "")), (
        budget if isinstance(budget, float) and budget > 0 else None
    )


def _cost_facts(
    prices: Identity, gpu: Gpu, sized: Mapping[str, object], fabric: str, budget: float | None
) -> tuple[Mapping[str, object], Cost | None]:
    cost = cost_by_identity(
        prices,
        gpu,
        int(sized["sized_gpu_count"]),  # type: ignore[call-overload]
        int(sized["sized_nodes"]),  # type: ignore[call-overload]
        fabric,
        float(sized["output_tokens_per_s"]),  # type: ignore[arg-type]
        True,
    )
    if cost is None:
        return _UNPRICED, None
    return _priced(Identity(cost), budget), cost


_UNPRICED: Mapping[str, object] = MappingProxyType({"gpu_price_known": False})


def option_facts(
    prices: Identity, deploy: Sizing, facts: Mapping[str, object]
) -> tuple[Mapping[str, object], Cost | None]:
    """The sizing facts of ``deploy`` and its cost facts (``shared_facts_of`` and
    ``cost_facts`` in one mapping, to read, never to change: cached), and its cost."""
    return _option_facts(prices, Identity(deploy), *_fabric_and_budget(facts))


# Keyed by the Sizing's identity, as ``_deploy_facts`` (one entry per option priced).
@functools.lru_cache(maxsize=COST_CACHE_SIZE, typed=True)
def _option_facts(
    prices: Identity, deploy: Identity, fabric: str, budget: float | None
) -> tuple[Mapping[str, object], Cost | None]:
    sizing = deploy.item
    assert isinstance(sizing, Sizing)
    found = shared_facts_of(sizing, sizing.gpu)
    costs, cost = _cost_facts(prices, sizing.gpu, found, fabric, budget)
    return MappingProxyType({**found, **costs}), cost


on_clear(_option_facts.cache_clear)


# Keyed by the Cost's identity: ``cost_by_identity`` returns the same record for the same
# deployment while it holds it (as large: one entry per priced deployment).
@functools.lru_cache(maxsize=COST_CACHE_SIZE, typed=True)
def _priced(priced: Identity, budget: float | None) -> Mapping[str, object]:
    cost = priced.item
    assert isinstance(cost, Cost)
    out: dict[str, object] = {
        "gpu_price_known": True,
        "gpu_cost_usd": cost.gpus_usd,
        "network_cost_usd": cost.fabric_usd,
        "capital_cost_usd": cost.capital_usd,
        "onprem_usd_per_hour": cost.onprem_usd_per_hour,
    }
    if cost.onprem_usd_per_million_tokens is not None:
        out["usd_per_million_tokens"] = cost.onprem_usd_per_million_tokens
    if cost.cloud_usd_per_hour is not None:
        out["cloud_usd_per_hour"] = cost.cloud_usd_per_hour
    if budget is not None:
        out["gpu_budget_share"] = cost.gpus_usd / budget
        out["budget_share"] = cost.capital_usd / budget
        out["over_budget_usd"] = max(0.0, cost.capital_usd - budget)
    return MappingProxyType(out)


on_clear(_priced.cache_clear)
