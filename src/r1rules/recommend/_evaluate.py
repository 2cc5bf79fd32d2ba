"""evaluate(): workload -> facts -> rules before sizing -> options sized, priced and decided by
the rules after sizing -> Recommendation."""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable, Sequence
from typing import cast

import attrs

from r1rules._errors import EvaluationError, R1RulesError, WorkloadError
from r1rules._vocabulary import RECOMMENDATION_FIELDS
from r1rules._workload import (
    DEFAULT_KV_CACHE_PRECISION,
    DEFAULT_OUTPUT_TOKENS,
    DEFAULT_PROMPT_TOKENS,
    Workload,
)
from r1rules.catalog import FrozenMap, Gpu, Model, default_catalog
from r1rules.check import default_rules, load_rules
from r1rules.engine import compiled
from r1rules.physics import Estimates, estimate_in
from r1rules.recommend._cache import cached_estimates
from r1rules.recommend._decide import Decision, decide
from r1rules.recommend._derive import engine_for, gpu_in
from r1rules.recommend._message import Message, TraceStep
from r1rules.recommend._options import Option
from r1rules.recommend._plan import Pending, Step, messages, plan_of, trace_steps
from r1rules.recommend._recommendation import GpuChoice, Later, Recommendation
from r1rules.recommend._run import Run, Sessions
from r1rules.ruleset import RuleSet

__all__ = ["estimate", "evaluate", "resolve_rules"]

Messages = tuple[Message, ...]


def resolve_rules(rules: RuleSet | str | os.PathLike[str] | None) -> RuleSet:
    """The shipped rules for None, a loaded RuleSet as is, or the rule files at a path."""
    if rules is None:
        return default_rules()
    if isinstance(rules, RuleSet):
        return rules
    if isinstance(rules, (str, os.PathLike)):
        if not os.fspath(rules):  # not the current folder: an empty setting is no choice
            raise R1RulesError("rules: expected a path to rule files, got an empty path")
        return load_rules(rules)
    raise R1RulesError(
        f"rules: expected None, a RuleSet or a path to rule files, not {type(rules).__name__}"
    )


def evaluate(
    workload: Workload,
    rules: RuleSet | str | os.PathLike[str] | None = None,
    *,
    options: bool = True,
) -> Recommendation:
    """The hardware recommendation for ``workload``, priced, compared and justified.

    Pure from the caller's view: deterministic, thread-safe, and it leaves no session in
    the engine. ``rules`` is a loaded RuleSet or a path to rule files (default: shipped);
    a path is loaded and checked on every call, so load it once with ``load_rules()`` when
    evaluating many workloads. The workload's model and GPU names are looked up in the rule
    set's catalog, and the recommendation holds the workload resolved (canonical ids,
    precision filled in).

    The answer is the option the rules select for the workload's ``objective`` (see
    ``Workload.objective``); ``article`` is the article's own configuration, always
    priced. ``options=True`` (the default) also sizes, prices and ranks every catalog GPU
    in the workload's precision and in the lower precisions it could be quantized to
    (``Recommendation.options``); ``options=False`` decides the same answer with only the
    work the choice needs.
    Raises WorkloadError for a workload that is not a Workload or names what the rule
    set's catalog lacks (or exceeds its model's context window), RuleError for bad rule
    files, EvaluationError when the rules cannot decide (a gap or an overlap).
    """
    if not isinstance(workload, Workload):
        raise WorkloadError(
            f"workload: expected an r1rules.Workload, not {type(workload).__name__}"
        )
    if workload.gpu_count is not None:
        raise WorkloadError(
            f"gpu_count: {workload.gpu_count} x {workload.gpu} is a fleet you already have; "
            "evaluate() sizes a new deployment. Ask r1rules.fleet(workload) what it "
            "carries (the command: r1rules evaluate --gpu ... --gpu-count N), or leave "
            "gpu_count out"
        )
    if not isinstance(options, bool):
        raise R1RulesError(f"options: expected True or False, not {type(options).__name__}")
    ruleset = resolve_rules(rules)
    resolved, model = workload.resolve(ruleset.catalog)
    engine = compiled(ruleset)
    plan = plan_of(ruleset)

    with Sessions(engine) as sessions:  # one engine session for every run, deleted after

        def run_of(moved: Workload, texts: bool) -> Run:
            run = Run(moved, ruleset, model, plan)
            run.messages = texts
            run.run_strata(plan.pre, sessions.current())
            return run

        def base_for(precision: str, texts: bool = True) -> Run:
            moved = (
                resolved
                if precision == resolved.precision
                else attrs.evolve(resolved, precision=precision)
            )
            return run_of(moved, texts)

        def unpinned() -> Run:  # the article's own configuration, with no GPU pinned
            return run_of(attrs.evolve(resolved, gpu=None), False)

        assert resolved.precision is not None
        decision = decide(
            base_for(resolved.precision),
            plan.post,
            base_for=base_for,
            with_options=options,
            sessions=sessions,
            unpinned=unpinned,
        )
    return _assemble(decision)


def _later(
    write: Callable[[Sequence[Pending]], Messages], pending: tuple[Pending, ...]
) -> Messages:
    """Texts written on first read (``Later``), as a field of Recommendation takes them."""
    return cast(Messages, Later(functools.partial(write, pending)))


def _later_trace(pending: tuple[Step, ...]) -> tuple[TraceStep, ...]:
    """The trace written out on first read (``Later``), as Recommendation takes it."""
    return cast(tuple[TraceStep, ...], Later(functools.partial(trace_steps, pending)))


def _assemble(decision: Decision) -> Recommendation:
    run = decision.run
    facts = run.facts
    missing = [f for f in RECOMMENDATION_FIELDS if f not in facts]
    if missing:
        raise EvaluationError(
            f"no fired rule set {', '.join(repr(m) for m in missing)} for "
            "this workload; every recommendation field needs a rule"
        )
    catalog = run.rules.catalog
    gpu = gpu_in(catalog, str(facts["gpu"]))
    count = int(facts["gpu_count"])  # type: ignore[call-overload]
    nodes = int(facts["nodes"])  # type: ignore[call-overload]
    sizing = run.sizing
    assert sizing is not None and run.workload.precision is not None
    tp = pp = ep = None
    dp_attention = None
    # The estimates describe the deployment at its operating point: every replica running
    # the batch that sizing found covers its share of the peak load, in sizing's layout.
    concurrency = max(1, math.ceil(float(facts.get("concurrency", 1.0))))  # type: ignore[arg-type]
    if sizing.gpu.id == gpu.id:
        placement = sizing.placement
        tp, pp = placement.tensor_parallel, placement.pipeline_parallel
        ep, dp_attention = placement.expert_parallel, placement.data_parallel_attention
        concurrency = max(1, count // placement.gpus) * sizing.batch_per_replica
    estimates = cached_estimates(
        run.model,
        run.workload.precision,
        gpu,
        count,
        concurrency,
        run.workload.prompt_tokens,
        run.workload.output_tokens,
        run.workload.kv_cache_precision,
        tp,
        pp,
        ep,
        dp_attention,
        engine_for(run.workload, catalog),
    )
    return Recommendation(
        edition=str(facts["edition"]),
        gpu=GpuChoice(gpu.id, gpu.name, count, min(count, gpu.max_per_node), gpu.memory_gb),
        nodes=nodes,
        cpu=str(facts["cpu"]),
        memory_gb=float(facts["memory_gb"]),  # type: ignore[arg-type]
        storage=str(facts["storage"]),
        network=str(facts["network"]),
        alternatives=tuple(run.alternatives),
        notes=_later(messages, tuple(run.notes)) if run.notes else (),
        warnings=_later(messages, tuple(run.warnings)) if run.warnings else (),
        trace=_later_trace(tuple(run.trace)) if run.trace else (),
        estimates=estimates,
        ruleset_version=run.rules.version,
        facts=FrozenMap.adopting(facts),  # the answer's run ends here: nothing changes them
        workload=run.workload,
        rules=run.rules,
        cost=run.cost,
        article=(
            decision.article
            if isinstance(decision.article, Option)
            else cast(Option, Later(decision.article))
        ),
        chosen=decision.chosen,
        options=decision.options,
        objective=decision.objective,
        evaluator=evaluate,
    )


def estimate(
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
    rules: RuleSet | str | os.PathLike[str] | None = None,
    pipeline_parallel: int | None = None,
    expert_parallel: int | None = None,
    data_parallel_attention: bool | None = None,
    mtp_acceptance: float = 0.0,
    engine: str | None = None,
    request_overhead_ms: float | None = None,
) -> Estimates:
    """Memory, TTFT, TPOT and throughput of ``concurrency`` users on ``gpu_count`` GPUs.

    ``model`` and ``gpu`` are ids or aliases in the catalog of ``rules`` (as ``evaluate``
    takes it; default: the shipped rules), or records; ``precision`` defaults to the
    model's native one. "I have 8 x H200: what TPOT at 64 concurrent users?" is
    ``estimate(model="deepseek-r1", gpu="h200", gpu_count=8, concurrency=64)``.
    The layout is searched as sizing searches it (TP, PP and, for MoE models, expert
    parallelism with data-parallel attention); state ``tensor_parallel``,
    ``pipeline_parallel``, ``expert_parallel`` or ``data_parallel_attention`` to fix it.
    ``mtp_acceptance`` (0 = off) models MTP speculative decoding at that acceptance rate.
    ``engine`` is the serving engine (``vllm``, the default; ``sglang``, ``trtllm``,
    ``llama.cpp``): its profile in the rules' catalog gives the efficiencies, and the search
    offers only the layouts it runs (llama.cpp: no expert parallelism).
    ``request_overhead_ms`` is your stack's measured way to a first token off the GPU (API,
    tokenizer, admission): it replaces the profile's ``request_ms`` in ``ttft_ms``.
    Bad arguments raise WorkloadError naming the argument; a deployment that cannot hold
    the model returns ``fits=False``; GPUs beyond whole replicas are ``idle_gpus``.
    """
    catalog = default_catalog() if rules is None else resolve_rules(rules).catalog
    return estimate_in(
        model=model,
        gpu=gpu,
        gpu_count=gpu_count,
        concurrency=concurrency,
        precision=precision,
        prompt_tokens=prompt_tokens,
        output_tokens=output_tokens,
        kv_cache_precision=kv_cache_precision,
        tensor_parallel=tensor_parallel,
        catalog=catalog,
        pipeline_parallel=pipeline_parallel,
        expert_parallel=expert_parallel,
        data_parallel_attention=data_parallel_attention,
        mtp_acceptance=mtp_acceptance,
        engine=engine,
        request_overhead_ms=request_overhead_ms,
    )
