"""The numbers ``r1rules plot`` draws, gathered without a plotting library.

The load chart evaluates the workload at a range of peak loads (each load once, with its
options: one line per GPU in the workload's precision) and finds where the edition changes
by bisection; the Pareto chart reads the workload's own options.
"""

from __future__ import annotations

import itertools
import math

import attrs

from r1rules._errors import R1RulesError, WorkloadError
from r1rules._workload import Workload
from r1rules.cli._limits import MAX_GPUS
from r1rules.recommend import Option, Recommendation, evaluate
from r1rules.ruleset import RuleSet

__all__ = [
    "LoadChart",
    "LoadSeries",
    "ParetoChart",
    "at_load",
    "load_chart",
    "loads",
    "pareto_chart",
]

_BISECT_RELATIVE = 5e-3  # an edition boundary to 0.5% of its load: finer than a chart shows


@attrs.frozen
class LoadSeries:
    """One GPU (in the workload's precision) across the loads: its GPU count, capital cost
    (None where unpriced or where it was not sized) and whether it meets the targets."""

    gpu: str
    gpu_name: str
    gpu_count: tuple[int | None, ...]
    capital_usd: tuple[float | None, ...]
    meets_targets: tuple[bool, ...]


@attrs.frozen
class LoadChart:
    """The load chart's numbers: ``qps`` (increasing), one series per GPU (in the answer's
    rank order at the workload's load), the answer at each load, the editions' bands
    ``(from_qps, to_qps, edition)`` and the workload's own answer."""

    title: str
    precision: str
    qps: tuple[float, ...]
    series: tuple[LoadSeries, ...]
    answers: tuple[tuple[str, int, float | None] | None, ...]  # (gpu, count, capital) per qps
    editions: tuple[tuple[float, float, str], ...]
    workload_qps: float
    chosen: Option


@attrs.frozen
class ParetoChart:
    """The Pareto chart's numbers: the workload's options (rank order), each with one
    request's decode speed (tokens/s per user), and which of them form the front of
    capital cost against that speed (priced, fitting, not excluded by a rule)."""

    title: str
    options: tuple[Option, ...]
    speed: tuple[float, ...]  # 1000 / tpot_ms; 0 where the option cannot serve
    front: tuple[int, ...]  # indexes into options, by increasing speed
    chosen: Option
    chosen_speed: float


def _title(rec: Recommendation) -> str:
    w = rec.workload
    model = w.model if w.model is not None else f"a generic dense {w.params_b:g}B model"
    targets = [
        f"{name} target {value:,.0f} ms"
        for name, value in (("TTFT", w.latency_ms), ("TPOT", w.tpot_ms))
        if value is not None
    ]
    return ", ".join(
        [
            f"{model} ({w.precision})",
            f"{w.prompt_tokens:,} + {w.output_tokens:,} tokens",
            *targets,
            str(w.stage),
            f"objective {w.objective}",
        ]
    )


def loads(low: float, high: float, points: int) -> tuple[float, ...]:
    """``points`` loads from ``low`` to ``high``, evenly on a log scale (4 digits)."""
    step = math.log(high / low) / (points - 1)
    return tuple(float(f"{low * math.exp(i * step):.4g}") for i in range(points))


def at_load(workload: Workload, qps: float) -> Workload:
    """``workload`` (resolved) with its load ``qps`` requests/s: given as requests/s, so a
    load given as concurrent requests is dropped (its TPOT target, if any, is kept)."""
    return attrs.evolve(workload, peak_qps=qps, concurrent_requests=None)


def _at(rec: Recommendation, rules: RuleSet, qps: float, *, options: bool) -> Recommendation | None:
    """The recommendation at another peak load (None where refused or beyond any fleet)."""
    try:
        moved = evaluate(at_load(rec.workload, qps), rules, options=options)
    except R1RulesError:
        return None
    return moved if moved.gpu.count <= MAX_GPUS else None


def _boundary(rec: Recommendation, rules: RuleSet, low: float, high: float, below: str) -> float:
    """The load between ``low`` (edition ``below``) and ``high`` where the edition
    changes, by bisection on a log scale."""
    while high / low > 1.0 + _BISECT_RELATIVE:
        middle = math.sqrt(low * high)
        found = _at(rec, rules, middle, options=False)
        if found is None:
            break
        if found.edition == below:
            low = middle
        else:
            high = middle
    return high


def load_chart(
    rec: Recommendation, rules: RuleSet, low: float, high: float, points: int
) -> LoadChart:
    """The load chart of ``rec``'s workload from ``low`` to ``high`` requests/s."""
    qps = loads(low, high, points)
    recs = [_at(rec, rules, q, options=True) for q in qps]
    if not any(recs):
        raise WorkloadError(
            f"no load from {low:g} to {high:g} requests/s could be evaluated for this "
            "workload (see r1rules evaluate at those loads)"
        )
    order = [o.gpu for o in rec.options if not o.quantized]
    by_gpu: dict[str, dict[int, Option]] = {gpu: {} for gpu in order}
    names = {o.gpu: o.gpu_name for o in rec.options}
    for i, found in enumerate(recs):
        for option in () if found is None else found.options:
            if not option.quantized and option.gpu_count <= MAX_GPUS:
                by_gpu.setdefault(option.gpu, {})[i] = option
                names.setdefault(option.gpu, option.gpu_name)
    series = tuple(
        LoadSeries(
            gpu=gpu,
            gpu_name=names[gpu],
            gpu_count=tuple(
                at[i].gpu_count if i in at and at[i].fits else None for i in range(points)
            ),
            capital_usd=tuple(
                at[i].capital_usd if i in at and at[i].fits else None for i in range(points)
            ),
            meets_targets=tuple(i in at and at[i].meets_targets for i in range(points)),
        )
        for gpu, at in by_gpu.items()
        if at
    )
    answers = tuple(
        None
        if found is None
        else (found.gpu.id, found.gpu.count, None if found.cost is None else found.cost.capital_usd)
        for found in recs
    )
    editions: list[tuple[float, float, str]] = []
    sampled = [(q, found.edition) for q, found in zip(qps, recs, strict=True) if found]
    for (q, edition), (q_next, edition_next) in itertools.pairwise(sampled):
        if edition_next != edition:
            edge = _boundary(rec, rules, q, q_next, edition)
            editions.append((editions[-1][1] if editions else sampled[0][0], edge, edition))
    if sampled:
        start = editions[-1][1] if editions else sampled[0][0]
        editions.append((start, sampled[-1][0], sampled[-1][1]))
    return LoadChart(
        title=_title(rec),
        precision=str(rec.workload.precision),
        qps=qps,
        series=series,
        answers=answers,
        editions=tuple(editions),
        workload_qps=float(rec.workload.peak_qps),
        chosen=rec.chosen,
    )


def _speed(option: Option) -> float:
    tpot = option.tpot_ms
    return 1000.0 / tpot if option.fits and math.isfinite(tpot) and tpot > 0 else 0.0


def pareto_chart(rec: Recommendation) -> ParetoChart:
    """The Pareto chart of ``rec``'s options: cost against tokens/s per user."""
    options = tuple(rec.options)
    speed = tuple(_speed(o) for o in options)
    candidates = [
        i
        for i, o in enumerate(options)
        if o.capital_usd is not None and speed[i] > 0 and o.meets_targets and not o.excluded_by
    ]
    # The front: by increasing cost (then speed, fastest first), each option faster than
    # every cheaper one.
    front: list[int] = []
    best = 0.0
    for i in sorted(candidates, key=lambda i: (options[i].capital_usd or 0.0, -speed[i])):
        if speed[i] > best:
            front.append(i)
            best = speed[i]
    return ParetoChart(
        title=_title(rec),
        options=options,
        speed=speed,
        front=tuple(sorted(front, key=lambda i: speed[i])),
        chosen=rec.chosen,
        chosen_speed=_speed(rec.chosen),
    )
