"""Options: one deployment per GPU (and per quantized precision), sized, priced, judged by
the rules, ranked by the workload's objective, with the Pareto set marked."""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import attrs

from r1rules.physics import Cost, Sizing
from r1rules.recommend._plan import EXCLUDED_FACT
from r1rules.recommend._run import Run

__all__ = [
    "EXCLUDED_FACT",
    "Option",
    "Unranked",
    "finish",
    "non_dominated",
    "option_from",
    "preview_key",
    "preview_option",
    "rank_key",
    "unranked_from",
]

RULE_ERROR = "rule-error"  # excluded_by of an option its rules could not decide


@attrs.frozen
class Option:
    """One way to serve the workload: a GPU in a number, its layout, speed and cost.

    ``meets_targets``: the deployment holds the model within the allowed node span, its
    estimated time per output token meets ``tpot_ms`` (when given), and its
    estimated time to first token at peak is within ``latency_ms``. ``excluded_by``: the
    rules that rule it out as an answer (a consumer card in production, a GPU below the
    seed §5 class); ``warned_by``: the rules that warn about it (their texts are in the
    answer's report when it is the answer); ``quantized``: served in a lower precision
    than the workload asks ("quantize to fit or for cost": listed, never chosen).
    ``pareto``: no other option (priced, fitting, not excluded) is at least as good on
    capital cost, time to first token and GPU count and better on one. ``rank``: 1 for
    the objective's best, in the order that objective ranks.
    """

    gpu: str
    gpu_name: str
    precision: str
    gpu_count: int
    nodes: int
    tensor_parallel: int
    pipeline_parallel: int
    expert_parallel: int
    data_parallel_attention: bool
    replicas: int
    ttft_ms: float
    tpot_ms: float
    output_tokens_per_s: float
    memory_per_gpu_gb: float
    fits: bool
    meets_targets: bool
    cost: Cost | None
    within_budget: bool | None
    excluded_by: tuple[str, ...]
    warned_by: tuple[str, ...]
    quantized: bool
    article: bool
    chosen: bool = False
    pareto: bool = False
    rank: int = 0

    @property
    def capital_usd(self) -> float | None:
        return None if self.cost is None else self.cost.capital_usd

    @property
    def eligible(self) -> bool:
        """Could be the answer: not excluded by a rule, in the workload's precision."""
        return not self.excluded_by and not self.quantized

    @property
    def layout(self) -> str:
        """The replica's layout: ``TP8xPP2``, or ``EP16+DPA`` for expert parallelism with
        data-parallel attention."""
        if self.expert_parallel > 1:
            attention = "+DPA" if self.data_parallel_attention else f"/TP{self.tensor_parallel}"
            pipeline = f"xPP{self.pipeline_parallel}" if self.pipeline_parallel > 1 else ""
            return f"EP{self.expert_parallel}{attention}{pipeline}"
        return f"TP{self.tensor_parallel}xPP{self.pipeline_parallel}"

    @property
    def key(self) -> tuple[str, str]:
        return (self.gpu, self.precision)


class Unranked(NamedTuple):
    """An option before ``finish`` ranks it: Option's fields but the three ``finish``
    sets, in Option's order (a tuple: cheaper to make than an Option, and ``finish``
    makes the Option once)."""

    gpu: str
    gpu_name: str
    precision: str
    gpu_count: int
    nodes: int
    tensor_parallel: int
    pipeline_parallel: int
    expert_parallel: int
    data_parallel_attention: bool
    replicas: int
    ttft_ms: float
    tpot_ms: float
    output_tokens_per_s: float
    memory_per_gpu_gb: float
    fits: bool
    meets_targets: bool
    cost: Cost | None
    within_budget: bool | None
    excluded_by: tuple[str, ...]
    warned_by: tuple[str, ...]
    quantized: bool
    article: bool


def unranked_from(run: Run, *, quantized: bool, article: bool) -> Unranked:
    """The option a decided branch describes (its facts after the rules ran), unranked."""
    facts = run.facts
    sizing = run.sizing
    assert sizing is not None
    excluded = run.excluded_by
    if run.error is not None:
        excluded = [*excluded, RULE_ERROR]
    budget_share = facts.get("budget_share")
    within = None if budget_share is None else float(budget_share) <= 1.0  # type: ignore[arg-type]
    return _unranked(
        sizing,
        run.cost,
        within,
        article,
        str(facts["precision"]),
        float(facts["output_tokens_per_s"]),  # type: ignore[arg-type]
        float(facts["memory_per_gpu_gb"]),  # type: ignore[arg-type]
        tuple(excluded),
        tuple(dict.fromkeys(run.warned_by)),
        quantized,
    )


def option_from(run: Run, *, quantized: bool, article: bool, chosen: bool = False) -> Option:
    """The option a decided branch describes (its facts after the rules ran)."""
    return Option(*unranked_from(run, quantized=quantized, article=article), chosen)


def preview_option(
    sizing: Sizing,
    cost: Cost | None,
    within: bool | None,
    *,
    article: bool,
    precision: str = "",
    output_tokens_per_s: float = 0.0,
    memory_per_gpu_gb: float = 0.0,
    excluded_by: tuple[str, ...] = (),
    warned_by: tuple[str, ...] = (),
    quantized: bool = False,
    chosen: bool = False,
) -> Option:
    """An option from sizing and cost alone (no rule has judged it: nothing excluded);
    ``option_from`` completes it from a decided branch's facts (the keyword arguments)."""
    fields = _unranked(
        sizing,
        cost,
        within,
        article,
        precision,
        output_tokens_per_s,
        memory_per_gpu_gb,
        excluded_by,
        warned_by,
        quantized,
    )
    return Option(*fields, chosen)


def _unranked(
    sizing: Sizing,
    cost: Cost | None,
    within: bool | None,
    article: bool,
    precision: str,
    output_tokens_per_s: float,
    memory_per_gpu_gb: float,
    excluded_by: tuple[str, ...],
    warned_by: tuple[str, ...],
    quantized: bool,
) -> Unranked:
    placement = sizing.placement
    gpu = sizing.gpu
    feasible = sizing.feasible
    return Unranked(
        gpu.id,
        gpu.name,
        precision,
        sizing.sized_gpu_count,
        sizing.nodes,
        placement.tensor_parallel,
        placement.pipeline_parallel,
        placement.expert_parallel,
        placement.data_parallel_attention,
        sizing.replicas,
        sizing.ttft_ms,
        sizing.tpot_ms,
        output_tokens_per_s,
        memory_per_gpu_gb,
        feasible,
        feasible and sizing.meets_latency and sizing.meets_tpot,
        cost,
        within,
        excluded_by,
        warned_by,
        quantized,
        article,
    )


def rank_key(option: Option, objective: str) -> tuple[object, ...]:
    """How an objective orders options. Always first: options that could be the answer
    (eligible), that hold the model within the allowed span, that meet the targets. Then
    ``cost``: the cheapest (options missing the targets: the fastest first, the closest to
    the target); ``latency``: within budget first, fastest first (over budget: cheapest
    first); ``article``: the article's configuration first, then as ``cost``.
    """
    return _rank(
        objective,
        option.article,
        option.eligible,
        option.fits,
        option.meets_targets,
        option.within_budget,
        option.cost,
        option.ttft_ms,
        option.key,
    )


def preview_key(
    sizing: Sizing, cost: Cost | None, within: bool | None, *, article: bool, objective: str
) -> tuple[object, ...]:
    """``rank_key(preview_option(sizing, cost, within, article=article), objective)``,
    without making the option (the order of the options before any rule judged them):
    ``_rank`` written out for a preview, which is eligible (in the workload's precision,
    and nothing excluded it yet). The decision calls it for every sizable GPU."""
    if objective == "article":
        return (not article, *preview_key(sizing, cost, within, article=article, objective="cost"))
    capital = math.inf if cost is None else cost.capital_usd
    ttft = sizing.ttft_ms
    feasible = sizing.feasible
    key = (sizing.gpu.id, "")
    if objective == "latency":
        over = within is False or cost is None
        return (False, not feasible, over, capital if over else ttft, ttft, capital, key)
    meets = feasible and sizing.meets_latency and sizing.meets_tpot
    return (False, not feasible, not meets, capital if meets else ttft, ttft, capital, key)


def _rank(
    objective: str,
    article: bool,
    eligible: bool,
    fits: bool,
    meets: bool,
    within: bool | None,
    cost: Cost | None,
    ttft_ms: float,
    key: tuple[str, str],
) -> tuple[object, ...]:
    if objective == "article":
        return (
            not article,
            *_rank("cost", article, eligible, fits, meets, within, cost, ttft_ms, key),
        )
    capital = math.inf if cost is None else cost.capital_usd
    head = (not eligible, not fits)
    if objective == "latency":
        over = within is False or cost is None
        figure = capital if over else ttft_ms
        return (*head, over, figure, ttft_ms, capital, key)
    figure = capital if meets else ttft_ms
    return (*head, not meets, figure, ttft_ms, capital, key)


Point = tuple[float, float, float]


def _dominates(a: Point, b: Point) -> bool:
    """``a`` is at least as good as ``b`` on every figure and better on one (lower is
    better)."""
    return a[0] <= b[0] and a[1] <= b[1] and a[2] <= b[2] and a != b


def non_dominated(points: Sequence[Point]) -> list[int]:
    """The indexes of the points no other point dominates, in order.

    Sorted, a point can only be dominated by one before it, and then by one of the
    non-dominated points before it (dominance is transitive): one sweep against the
    frontier so far, instead of every pair. Points with a NaN have no order: every pair.
    """
    if any(x != x for point in points for x in point):  # NaN
        return [
            i
            for i, point in enumerate(points)
            if not any(_dominates(other, point) for other in points)
        ]
    kept: list[Point] = []
    found: list[int] = []
    for i in sorted(range(len(points)), key=points.__getitem__):
        point = points[i]
        a, b, c = point
        for other in kept:  # ``_dominates(other, point)``, written out
            if other[0] <= a and other[1] <= b and other[2] <= c and other != point:
                break
        else:
            kept.append(point)
            found.append(i)
    return sorted(found)


def finish(
    options: Sequence[Option | Unranked], objective: str, chosen: tuple[str, str]
) -> tuple[Option, ...]:
    """Rank ``options`` by ``objective``, mark the Pareto set and the chosen one.

    The Pareto set is taken among the priced options that fit, that no rule excludes and
    that meet the targets (quantized ones included); when none meets them, among all that
    fit: an option that misses the targets is no trade-off against one that meets them."""

    def rank(o: Option | Unranked) -> tuple[object, ...]:  # ``rank_key``, written out
        eligible = not o.excluded_by and not o.quantized
        return _rank(
            objective,
            o.article,
            eligible,
            o.fits,
            o.meets_targets,
            o.within_budget,
            o.cost,
            o.ttft_ms,
            (o.gpu, o.precision),
        )

    ranked = sorted(options, key=rank)
    frontier = [o for o in ranked if o.fits and o.cost is not None and not o.excluded_by]
    meeting = [o for o in frontier if o.meets_targets]
    frontier = meeting or frontier
    points = [
        (math.inf if o.cost is None else o.cost.capital_usd, o.ttft_ms, o.gpu_count)
        for o in frontier
    ]
    pareto = {(frontier[i].gpu, frontier[i].precision) for i in non_dominated(points)}
    out = []
    for i, o in enumerate(ranked, 1):
        key = (o.gpu, o.precision)
        fields: tuple[Any, ...] = (
            *(o if isinstance(o, tuple) else _UNRANKED(o)),
            key == chosen,
            key in pareto,
            i,
        )
        out.append(Option(*fields))
    return tuple(out)


# Every field but the three ``finish`` sets, in order: a new Option without attrs.evolve's
# per-call introspection (finish makes one per option of every evaluation).
_RANKING = ("chosen", "pareto", "rank")
_UNRANKED: Callable[[Option], tuple[Any, ...]] = operator.attrgetter(
    *(f.name for f in attrs.fields(Option) if f.name not in _RANKING)
)
if tuple(f.name for f in attrs.fields(Option)) != (*Unranked._fields, *_RANKING):
    raise TypeError(  # pragma: no cover
        f"Option's fields must be Unranked's, then {_RANKING}: they are passed by position"
    )


def _ranked(option: Option, *, chosen: bool, pareto: bool, rank: int) -> Option:
    fields: tuple[Any, ...] = (*_UNRANKED(option), chosen, pareto, rank)
    return Option(*fields)
