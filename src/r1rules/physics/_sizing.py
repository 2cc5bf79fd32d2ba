"""Sizing physics: the smallest deployment of a GPU that holds the model and serves the load.

For each placement a GPU allows (tensor-parallel degree within a node, pipeline stages
across nodes) it computes the memory per GPU and the request capacity of one replica from
the roofline; replicas cover the peak load with headroom; the §4.3 formula of the seed is
computed beside it. Capacity tables depend only on (model, precision, GPU, placement,
token lengths) and are cached; the per-workload work is arithmetic on them.
"""

from __future__ import annotations

import functools
import math
from bisect import bisect_left
from collections.abc import Iterable, Sequence

import attrs

from r1rules._errors import EvaluationError
from r1rules.catalog import Engine, Gpu, Model
from r1rules.physics._efficiency import efficiency, engine_or_default
from r1rules.physics._ep import layout_prefill_ms
from r1rules.physics._memory import usable_gb_per_gpu, weights_gb_per_gpu
from r1rules.physics._placement import Placement, placements
from r1rules.physics._roofline import MAX_COUNT, native_support

__all__ = ["SIZING_CACHE_SIZE", "Placement", "Sizing", "placements", "size"]


@attrs.frozen
class Sizing:
    """The deployment the physics settles on for one GPU, with the facts rules act on."""

    gpu: Gpu
    feasible: bool
    placement: Placement
    replicas: int
    physics_gpu_count: int
    formula_gpu_count: int
    sized_gpu_count: int
    nodes: int
    gpus_per_node: int
    min_gpus_for_memory: int
    fits_on_one_gpu: bool
    concurrency: float
    batch_per_replica: int
    ttft_ms: float
    best_ttft_ms: float
    tpot_ms: float
    meets_latency: bool
    precision_native: bool
    meets_tpot: bool = True
    # output tokens/s with every replica running its operating batch: each request's cycle
    # is its decode steps plus the prefill of a batch of prompts (``estimate``'s figure for
    # the same deployment, and the basis of the cost per million tokens)
    output_tokens_per_s: float = 0.0


# A replica never spans more nodes than this, even when it is only a what-if figure.
MAX_NODES_PER_REPLICA = 1024


# Sizings kept (``size``'s cache): a planner's working set of deployments, each GPU of the
# catalog for each workload it evaluates again.
SIZING_CACHE_SIZE = 16384


@functools.lru_cache(maxsize=SIZING_CACHE_SIZE)
def size(
    model: Model,
    precision: str,
    kv_precision: str,
    gpu: Gpu,
    *,
    peak_qps: float,
    latency_ms: float,
    prompt_tokens: int,
    output_tokens: int,
    headroom_fraction: float,
    max_nodes: int,
    mtp_acceptance: float = 0.0,
    tpot_ms: float | None = None,
    in_flight: float | None = None,
    engine: Engine | None = None,
    max_ep_nodes: int | None = None,
) -> Sizing:
    """Size a deployment of ``gpu`` for the load.

    ``headroom_fraction`` is the rules' fact of that name: replicas cover
    ``peak_qps x (1 + headroom_fraction)``, and the seed's §4.3 formula takes the same
    factor as its safety margin (its 1.2 is the rules' 20% headroom).

    ``feasible`` is false when no placement within ``max_nodes`` nodes per replica (an
    expert-parallel one with data-parallel attention: within ``max_ep_nodes``, default
    ``max_nodes``) holds the model; the figures are then those of the smallest placement
    over more nodes that does, so that a pinned GPU still gets an honest (if impractical)
    count. Pure, so results are cached (planners repeat the same sizing across budgets,
    stages and policies).

    ``latency_ms``, the time-to-first-token target, caps each replica's batch at peak at the
    largest whose first token (prefill, then one decode step at that batch) meets it, when
    one does: more replicas, each running fewer requests, so more load never needs fewer
    GPUs. ``tpot_ms``, a time-per-output-token target, caps each replica's batch at the
    largest whose decode step meets it: more replicas, each running fewer requests. A placement
    whose single-request step already misses it cannot meet the target; it is then sized
    uncapped and ``meets_tpot`` is false. ``in_flight`` (a load given as concurrent
    requests) makes the replicas hold that many requests at once, each within that cap.
    ``engine`` (default: the default engine) gives the efficiencies and the layouts searched;
    EvaluationError when it does not run on ``gpu`` (TensorRT-LLM on an AMD GPU): that GPU
    is then no option.
    """
    refusal = engine_or_default(engine).refusal(gpu)
    if refusal:
        raise EvaluationError(refusal)
    ep_nodes = max_nodes if max_ep_nodes is None else max_ep_nodes
    reach = max(max_nodes, _nodes_to_hold(model, precision, gpu, engine_or_default(engine)))

    def search(ep_reach: int) -> tuple[Placement, ...]:
        return placements(
            model,
            precision,
            kv_precision,
            gpu,
            prompt_tokens,
            output_tokens,
            min(reach, MAX_NODES_PER_REPLICA),
            mtp_acceptance,
            engine,
            min(ep_reach, MAX_NODES_PER_REPLICA),
        )

    options = search(max(reach, ep_nodes))
    holding = [p for p in options if p.holds_model]
    within = [
        p
        for p in holding
        if p.gpus <= (ep_nodes if p.data_parallel_attention else max_nodes) * gpu.max_per_node
    ]
    # Nothing holds the model within the spans: the what-if figures come from the smallest
    # placement that does, expert-parallel ones over as many nodes as there are experts to
    # spread included (each rank keeps the attention weights whole, so the weights alone do
    # not say how many nodes expert parallelism needs).
    widest = -(-model.n_routed_experts // gpu.max_per_node)
    if not within and widest > max(reach, ep_nodes):
        options = search(widest)
        holding = [p for p in options if p.holds_model]
    if not holding:
        raise EvaluationError(
            f"{model.id} in {precision} does not fit {gpu.id} even over "
            f"{MAX_NODES_PER_REPLICA} nodes per replica"
        )
    feasible = bool(within)
    if feasible:
        holding = within
    target_qps = peak_qps * (1.0 + headroom_fraction)
    request_ms = efficiency(gpu, engine).request_ms  # the way to the first token off the GPU
    best_ttft = min(p.first_token_ms(p.step_ms[0], request_ms) for p in holding)
    scored = []
    for p in holding:
        cap = _batch_cap(p, tpot_ms)
        meets_tpot = cap >= 0
        capacity = _running_max(p.capacity_qps)[cap] if meets_tpot else p.best_capacity_qps
        replicas = max(1, math.ceil(target_qps / capacity))
        if in_flight is not None:
            largest = p.batches[cap if meets_tpot else -1]
            replicas = max(replicas, math.ceil(in_flight / largest))
        # the time to first token grows with the running batch (each decode step does): when
        # the fewest replicas for the load miss the target but a smaller batch meets it, as
        # many more replicas as bring each one's batch at peak down to that batch
        fast = _latency_cap(p, latency_ms, request_ms) if meets_tpot else -1
        if fast >= 0:
            replicas = max(replicas, math.ceil(peak_qps / _running_max(p.capacity_qps)[fast]))
            if in_flight is not None:
                replicas = max(replicas, math.ceil(in_flight / p.batches[fast]))
        if in_flight is not None:
            batch_index = max(
                _operating_batch(p, peak_qps / replicas),
                bisect_left(p.batches, math.ceil(in_flight / replicas)),
            )
        else:
            batch_index = _operating_batch(p, peak_qps / replicas)
        if meets_tpot:
            batch_index = min(batch_index, cap)
        ttft = p.first_token_ms(p.step_ms[batch_index], request_ms)
        meets = ttft <= latency_ms
        scored.append(
            (
                not (meets and meets_tpot),
                p.gpus * replicas,
                p.gpus,
                p,
                replicas,
                batch_index,
                ttft,
                meets,
                meets_tpot,
            )
        )
    _, count, _, p, replicas, batch_index, ttft, meets, meets_tpot = min(
        scored, key=lambda s: s[:3]
    )
    step = p.step_ms[batch_index]
    duration_s = (p.prefill_ms + output_tokens * step) / 1000.0
    per_gpu_tokens_s = p.best_capacity_qps * (prompt_tokens + output_tokens) / p.gpus
    formula = max(
        1,
        math.ceil(
            peak_qps
            * (prompt_tokens + output_tokens)
            / per_gpu_tokens_s
            * (1.0 + headroom_fraction)
        ),
    )
    sized = max(count, math.ceil(formula / p.gpus) * p.gpus)
    if sized > MAX_COUNT:  # beyond what any figure downstream (or any deployment) can be
        raise EvaluationError(
            f"{model.id} at {peak_qps:g} requests/s needs {sized:.3g} {gpu.id} GPUs, beyond "
            f"2**53: no deployment is that large; lower the load or the model size"
        )
    concurrency = max(peak_qps * duration_s, in_flight or 0.0)
    batch = p.batches[batch_index]
    prefill = layout_prefill_ms(model, precision, gpu, p.layout, prompt_tokens, batch, engine)
    tokens_per_s = (
        (sized // p.gpus) * batch * output_tokens * 1000.0 / (output_tokens * step + prefill)
    )
    for_memory = min(q.gpus * max(1, math.ceil(concurrency / q.max_batch)) for q in holding)
    one_gpu = options[0].gpus == 1 and options[0].holds_model
    return Sizing(
        gpu,
        feasible,
        p,
        sized // p.gpus,
        count,
        formula,
        sized,
        math.ceil(sized / gpu.max_per_node),
        min(gpu.max_per_node, sized),
        for_memory,
        one_gpu,
        concurrency,
        batch,
        ttft,
        best_ttft,
        step,
        meets,
        native_support(gpu, precision),
        meets_tpot,
        tokens_per_s,
    )


def _batch_cap(p: Placement, tpot_ms: float | None) -> int:
    """Index of the largest tabulated batch whose decode step meets ``tpot_ms`` (the last
    without a target; -1 when even the first misses it)."""
    if tpot_ms is None:
        return len(p.batches) - 1
    return _last_within(p.step_ms, tpot_ms)


def _latency_cap(p: Placement, latency_ms: float, request_ms: float) -> int:
    """Index of the largest tabulated batch at which a prompt's first token meets
    ``latency_ms`` (-1 when even a batch of one misses it): the prefill is the same at any
    batch, the decode step that follows it grows with the batch."""
    return _last_within((p.first_token_ms(step, request_ms) for step in p.step_ms), latency_ms)


def _last_within(values: Iterable[float], bound: float) -> int:
    """Index of the last of the leading ``values`` within ``bound`` (-1: not even the
    first). Steps grow with the batch, so the leading ones are those that meet it."""
    meeting = 0
    for value in values:
        if value > bound:
            break
        meeting += 1
    return meeting - 1


def _nodes_to_hold(model: Model, precision: str, gpu: Gpu, engine: Engine) -> int:
    """Nodes a replica needs for its weights alone under ``engine``'s memory budget (a
    bound to search up to; KV needs may add one). A node, one pipeline stage, holds whole
    layers: as many stages as it takes at the layers one node holds."""
    fraction, budget = engine.memory_fraction, engine.memory_budget
    per_node = usable_gb_per_gpu(gpu, model, 1, fraction, budget) * gpu.max_per_node
    if per_node <= 0:
        return 1
    layers = model.num_layers
    per_layer = weights_gb_per_gpu(model, precision, 1, 1) / layers
    held = math.floor(per_node / per_layer)  # whole layers one node holds
    return (math.ceil(layers / held) if held else layers) + 1


def _operating_batch(p: Placement, qps_per_replica: float) -> int:
    """Index of the smallest tabulated batch whose capacity covers the replica's load."""
    index = bisect_left(_running_max(p.capacity_qps), qps_per_replica)
    return min(index, len(p.batches) - 1)


@functools.lru_cache(maxsize=4096)
def _running_max(values: Sequence[float]) -> tuple[float, ...]:
    out, best = [], 0.0
    for v in values:
        best = max(best, v)
        out.append(best)
    return tuple(out)
