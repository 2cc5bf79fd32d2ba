"""fleet(): what a fleet the user already has carries (``Workload.gpu_count`` GPUs of
``Workload.gpu``), in the workload's precision and in each lower one it could be
quantized to.

For each precision: whether the model fits; single-user speed (one request, tokens/s);
the most requests the KV cache holds at once; and the most requests in flight whose time
to first token and time per output token stay within the workload's targets (when it
gives them), with the peak load that is by Little's law. Every figure comes from the same
placement search as ``estimate()`` and sizing. It is physics only: no rule decides
anything here (a fleet is not a purchase), so nothing is "recommended".
"""

from __future__ import annotations

import math
import os

import attrs

from r1rules._errors import WorkloadError
from r1rules._little import request_seconds
from r1rules._workload import Workload
from r1rules.catalog import Engine, Gpu, Model
from r1rules.physics import Estimates, estimate_deployment
from r1rules.recommend._decide import quantized_precisions
from r1rules.recommend._derive import engine_for
from r1rules.recommend._evaluate import resolve_rules
from r1rules.recommend._report_blocks import layout_text, target_ms
from r1rules.ruleset import RuleSet

__all__ = ["Fleet", "FleetCapacity", "fleet"]


@attrs.frozen
class FleetCapacity:
    """What the fleet carries in one precision.

    ``single``: one request alone (its ``tpot_ms`` gives ``single_user_tokens_per_s``).
    ``most``: the most requests the KV cache holds at once (``max_concurrency``).
    ``within_targets``: the most requests in flight that keep TTFT within ``latency_ms``
    and TPOT within ``tpot_ms`` (0: not even one; the most the cache holds when the
    workload sets no target), at ``within_targets_qps`` requests/s (Little's law).
    """

    precision: str
    quantized: bool
    fits: bool
    single: Estimates
    max_concurrency: int
    within_targets: int
    within_targets_qps: float
    at_targets: Estimates | None

    @property
    def single_user_tokens_per_s(self) -> float:
        tpot = self.single.tpot_ms
        return 1000.0 / tpot if self.fits and math.isfinite(tpot) and tpot > 0 else 0.0


@attrs.frozen
class Fleet:
    """The fleet, the workload it was asked about, and its capacity per precision."""

    workload: Workload
    model: Model
    gpu: Gpu
    gpu_count: int
    capacities: tuple[FleetCapacity, ...]
    engine: Engine | None = None  # the workload's, from the rules' catalog

    def report(self) -> str:
        return fleet_report(self)

    def __str__(self) -> str:
        return fleet_report(self)

    def to_dict(self) -> dict[str, object]:
        return {
            "workload": self.workload.to_dict(),
            "gpu": self.gpu.id,
            "gpu_count": self.gpu_count,
            "engine": self.workload.engine,
            "capacities": [
                {
                    "precision": c.precision,
                    "quantized": c.quantized,
                    "fits": c.fits,
                    "weights_per_gpu_gb": c.single.weights_per_gpu_gb,
                    "usable_memory_per_gpu_gb": c.single.usable_memory_per_gpu_gb,
                    "single_user_tokens_per_s": c.single_user_tokens_per_s,
                    "single_user_ttft_ms": c.single.ttft_ms if c.fits else None,
                    "layout": {
                        "tensor_parallel": c.single.tensor_parallel,
                        "pipeline_parallel": c.single.pipeline_parallel,
                        "expert_parallel": c.single.expert_parallel,
                        "data_parallel_attention": c.single.data_parallel_attention,
                        "replicas": c.single.replicas,
                        "idle_gpus": c.single.idle_gpus,
                    }
                    if c.fits
                    else None,
                    "max_concurrency": c.max_concurrency,
                    "within_targets_concurrency": c.within_targets,
                    "within_targets_qps": c.within_targets_qps,
                }
                for c in self.capacities
            ],
        }


def fleet(workload: Workload, rules: RuleSet | str | os.PathLike[str] | None = None) -> Fleet:
    """What ``workload.gpu_count`` x ``workload.gpu`` carries for the workload's model,
    token lengths and targets, in its precision and the lower ones it could be quantized
    to, on the workload's serving engine (its profile in the rules' catalog). Raises
    WorkloadError when the workload names no fleet (``gpu_count`` and ``gpu``) or when its
    engine does not run on that GPU.
    """
    if not isinstance(workload, Workload):
        raise WorkloadError(
            f"workload: expected an r1rules.Workload, not {type(workload).__name__}"
        )
    if workload.gpu_count is None:
        raise WorkloadError(
            "gpu_count: required for fleet() (the GPUs you have, with gpu = their model)"
        )
    catalog = resolve_rules(rules).catalog
    resolved, model = workload.resolve(catalog)
    assert resolved.gpu is not None and resolved.precision is not None
    gpu = catalog.gpu(resolved.gpu)
    engine = engine_for(resolved, catalog)
    if not engine.runs_on(gpu):
        raise WorkloadError(f"engine: {engine.refusal(gpu)}")
    count = workload.gpu_count
    native = resolved.precision
    lower = quantized_precisions(native)
    capacities = tuple(
        _capacity(resolved, model, (gpu, engine), count, precision, quantized=precision != native)
        for precision in (native, *lower)
    )
    return Fleet(resolved, model, gpu, count, capacities, engine)


def _estimate(
    workload: Workload, model: Model, on: tuple[Gpu, Engine], count: int, precision: str, c: int
) -> Estimates:
    return estimate_deployment(
        model,
        precision,
        on[0],
        count,
        c,
        workload.prompt_tokens,
        workload.output_tokens,
        kv_precision=workload.kv_cache_precision,
        engine=on[1],
    )


def _meets(workload: Workload, e: Estimates) -> bool:
    if not e.fits or e.kv_limited:
        return False
    ttft_ok = workload.latency_ms is None or e.ttft_ms <= workload.latency_ms
    tpot_ok = workload.tpot_ms is None or e.tpot_ms <= workload.tpot_ms
    return ttft_ok and tpot_ok


def _capacity(
    workload: Workload,
    model: Model,
    gpu: tuple[Gpu, Engine],
    count: int,
    precision: str,
    *,
    quantized: bool,
) -> FleetCapacity:
    single = _estimate(workload, model, gpu, count, precision, 1)
    if not single.fits:
        return FleetCapacity(precision, quantized, False, single, 0, 0, 0.0, None)
    most = max(1, single.max_concurrency)
    # the largest concurrency within the targets: latency grows with the running batch,
    # so a bisection over [1, most] finds it
    low, high = 0, most
    while low < high:
        mid = (low + high + 1) // 2
        if _meets(workload, _estimate(workload, model, gpu, count, precision, mid)):
            low = mid
        else:
            high = mid - 1
    at = _estimate(workload, model, gpu, count, precision, low) if low else None
    qps = 0.0
    if at is not None:
        seconds = request_seconds(at.ttft_ms, at.tpot_ms, workload.output_tokens)
        qps = low / seconds if seconds > 0 else 0.0
    return FleetCapacity(precision, quantized, True, single, most, low, qps, at)


def fleet_report(f: Fleet) -> str:
    """The fleet's answer first (does the model fit, how fast, how much load), then each
    precision."""
    w = f.workload
    targets = []
    if w.latency_ms is not None:
        targets.append(f"time to first token <= {target_ms(w.latency_ms)}")
    if w.tpot_ms is not None:
        targets.append(f"time per output token <= {target_ms(w.tpot_ms)}")
    target_text = " and ".join(targets) or "no latency target (the KV cache is the limit)"
    engine = f.engine.name if f.engine is not None else w.engine
    lines = [
        f"r1rules fleet: {f.gpu_count:,} x {f.gpu.name} ({f.gpu.id}, {f.gpu.memory_gb:g} GB) "
        f"serving {f.model.id} on {engine}",
        f"  lengths  {w.prompt_tokens:,} prompt + {w.output_tokens:,} output tokens; "
        f"targets: {target_text}",
    ]
    for c in f.capacities:
        tag = c.precision.upper() + (" (quantized)" if c.quantized else "")
        if not c.fits:
            lines.append(f"  {tag}: does NOT fit: {_why_not_fit(c.single, w)}")
            continue
        speed = (
            f"fits as {layout_text(c.single)}; one user gets "
            f"{c.single_user_tokens_per_s:,.0f} tokens/s "
            f"(first token in {c.single.ttft_ms:,.0f} ms)"
        )
        if c.within_targets and c.at_targets is not None:
            carried = (
                f"{c.within_targets_qps:,.3g} requests/s, "
                f"{c.at_targets.throughput_tokens_per_s:,.0f} output tokens/s in all"
            )
            if targets:
                load = (
                    f"up to {c.within_targets:,} requests in flight within the targets "
                    f"({carried}); the KV cache holds {c.max_concurrency:,}"
                )
            else:
                load = f"{c.within_targets:,} requests in flight fill the KV cache ({carried})"
        else:
            load = "not one request meets the targets"
        lines.append(f"  {tag}: {speed}; {load}")
    asked = _asked(f)
    if asked:
        lines.append(asked)
    lines.append(
        "  (physics estimates of the placement search, as estimate(); quantized weights "
        "cost some accuracy: check the model card before serving INT4)"
    )
    return "\n".join(lines)


def _why_not_fit(s: Estimates, w: Workload) -> str:
    """What does not fit: the weights themselves, or one sequence's KV cache beside them."""
    weights, usable = s.weights_per_gpu_gb, s.usable_memory_per_gpu_gb
    if weights > usable:
        return f"{weights:,.1f} GB of weights per GPU against {usable:,.1f} GB usable"
    tokens = w.prompt_tokens + w.output_tokens
    return (
        f"{weights:,.1f} GB of weights per GPU leave {usable - weights:,.1f} of the "
        f"{usable:,.1f} GB usable, too little for the KV cache of one {tokens:,}-token "
        "sequence (prompt + output): shorter sequences or more GPUs would fit"
    )


def _asked(f: Fleet) -> str:
    """Whether the fleet carries the load the workload names, if it names one."""
    w = f.workload
    if w.peak_qps is None:
        return ""
    fitting = [c for c in f.capacities if c.fits and c.within_targets]
    if not fitting:
        return f"  load     {w.peak_qps:,.3g} requests/s: not carried in any precision"
    best = max(fitting, key=lambda c: c.within_targets_qps)
    verdict = "carried" if best.within_targets_qps >= w.peak_qps else "NOT carried"
    return (
        f"  load     {w.peak_qps:,.3g} requests/s asked: {verdict} "
        f"(at most {best.within_targets_qps:,.3g} in {best.precision.upper()})"
    )
