"""The decision: size and price every option, let the rules judge each one, and answer the
option the rules' ``selection`` fact asks for.

``selection`` (rules/20-decision-tree.toml, table ``selection``) is one of:

- ``article``: the article's configuration, as r1rules 0.1 answered (the edition's GPU,
  moved up the ladder only when it cannot hold the model);
- ``pinned``: the GPU the workload pins, in whatever number it takes; the options are
  still ranked by the workload's objective, and the article's configuration they are
  compared with is the one the workload would have without its pin;
- ``cheapest`` (objective ``cost``): the first option, in the cost order, that the rules
  do not exclude;
- ``fastest`` (objective ``latency``): the first the rules do not exclude in the latency
  order (``_options.rank_key``).

An option whose post-sizing rules cannot decide (a gap or an overlap that only its facts
reach) is listed as excluded by ``rule-error``; only the answer's own failure is raised.

A rule set that sets no ``selection`` answers the article's configuration.

Every option is decided by the same rules from the same facts: the run before sizing is
forked once per option, given that option's sizing and cost facts, and the strata after
sizing run on the fork (the runs of an evaluation share one engine session, each
asserting its own facts; each GPU is sized once). Without ``options`` only as many forks
run as the choice needs (in the objective's order, until one is not excluded); with them,
every GPU of the catalog is decided in the workload's precision and in each lower one it
could be quantized to.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping

import attrs

from r1rules._errors import EvaluationError
from r1rules._vocabulary import PRECISIONS
from r1rules.catalog import Gpu
from r1rules.engine import compiled
from r1rules.physics import Sizing
from r1rules.recommend._cache import Identity
from r1rules.recommend._derive import (
    cost_facts,
    engine_for,
    option_facts,
    sizing_facts,
    sizings_for,
)
from r1rules.recommend._options import (
    EXCLUDED_FACT,
    Option,
    Unranked,
    finish,
    option_from,
    unranked_from,
)
from r1rules.recommend._ordering import by_id, gpu_order, sizable
from r1rules.recommend._plan import Strata, plan_of
from r1rules.recommend._run import Run, Sessions

__all__ = [
    "QUANTIZE_TO",
    "SELECTIONS",
    "Decision",
    "article_option",
    "decide",
    "quantized_precisions",
]

SELECTIONS = {"pinned": "article", "article": "article", "cheapest": "cost", "fastest": "latency"}
QUANTIZE_TO = ("fp8", "int4")


@attrs.frozen
class Decision:
    """The answer's run, the article's configuration (``article_option``), and the ranked
    options (if asked)."""

    run: Run
    # not the answer, and no options asked for: what works it out on first use
    article: Option | Callable[[], Option]
    chosen: Option
    options: tuple[Option, ...]
    objective: str


def quantized_precisions(precision: str) -> tuple[str, ...]:
    """The lower precisions a model served in ``precision`` could be quantized to."""
    return tuple(p for p in QUANTIZE_TO if PRECISIONS.index(p) > PRECISIONS.index(precision))


class _Brancher:
    """Forks of one pre-sizing run, one per GPU, each decided by the post-sizing rules."""

    def __init__(
        self,
        base: Run,
        post: Strata,
        quantized: bool,
        sessions: Sessions,
        article_base: Run | None = None,
    ) -> None:
        self.base = base
        self.serving = engine_for(base.workload, base.rules.catalog)  # the serving engine
        self.post = post
        self.quantized = quantized
        self.keys = plan_of(base.rules)  # the cache keys of the catalog and its prices
        # The GPU the base's own rules settled on (the pinned one, else the article's)
        self.own_facts, self.own_sizing = sizing_facts(
            base.workload, base.model, base.rules.catalog, base.facts, self.serving
        )
        self.own_gpu = self.own_sizing.gpu
        self.own_cost_facts, self.own_cost = cost_facts(
            self.keys.prices, self.own_gpu, self.own_facts, base.facts
        )
        # The article's configuration: the base's own, unless the workload pins a GPU (then
        # ``article_base``, the same workload with no GPU pinned, says what it would be)
        self.article_facts, self.article_sizing = self.own_facts, self.own_sizing
        self.article_cost_facts = self.own_cost_facts
        if article_base is not None:
            self.article_facts, self.article_sizing = sizing_facts(
                article_base.workload,
                article_base.model,
                article_base.rules.catalog,
                article_base.facts,
                self.serving,
            )
            self.article_cost_facts, _ = cost_facts(
                self.keys.prices, self.article_sizing.gpu, self.article_facts, article_base.facts
            )
        self.article_gpu = self.article_sizing.gpu
        # what every option is compared with (``_compare``)
        article = self.article_facts
        comparison: dict[str, object] = {
            "article_gpu": self.article_gpu.id,
            "article_gpu_count": article["sized_gpu_count"],
            "article_meets_targets": article["option_meets_targets"],
            "article_ttft_ms": article["ttft_ms"],
        }
        article_capital = self.article_cost_facts.get("capital_cost_usd")
        self.article_capital = article_capital if isinstance(article_capital, float) else None
        if self.article_capital is not None:
            comparison["article_capital_usd"] = self.article_capital
        self.article_comparison: Mapping[str, object] = comparison
        self.done: dict[str, Run] = {}
        self.waiting: dict[str, Run] = {}  # forks sized (``screened``), not yet decided
        self.screen = self.keys.screen
        # Each GPU's sizing, found once (None: it cannot hold the model): ``sizable_gpus``
        # finds them, ``ordered`` and ``sized`` read them.
        self.sizings: Mapping[str, Sizing | None] = {}
        self.found: tuple[Sizing | None, ...] = ()  # the same, in the order of ``by_id``
        # The evaluation's engine session, shared by every fork (one fact each: far cheaper
        # than a session each); ``sessions`` deletes it when the evaluation ends.
        self.sessions = sessions

    def sized(self, gpu: Gpu, messages: bool = True) -> Run:
        """A fork with ``gpu``'s sizing and cost facts, before the post-sizing rules
        (``messages=False``: only to list the option, without the base's trace and texts)."""
        base = self.base
        run = base.fork(messages)
        facts = run.facts
        if gpu.id == self.own_gpu.id:
            sizing = self.own_sizing
            costs, cost = self.own_cost_facts, self.own_cost
            facts.update(self.own_facts)
            facts.update(costs)
        else:
            known = self.sizings[gpu.id]  # ``sizable_gpus`` found it: only those are decided
            assert known is not None
            sizing = known
            costs, cost = option_facts(self.keys.prices, known, base.facts)
            facts.update(costs)  # its sizing facts and its cost facts
            facts["candidate_feasible"] = self.own_facts["candidate_feasible"]
        self._compare(gpu, costs, facts)
        run.sizing, run.cost = sizing, cost
        return run

    def _compare(self, gpu: Gpu, costs: Mapping[str, object], facts: dict[str, object]) -> None:
        """Set the facts that compare ``gpu``'s option with the article's configuration."""
        facts.update(self.article_comparison)
        facts["article_is_answer"] = gpu.id == self.article_gpu.id and not self.quantized
        article_capital = self.article_capital
        if article_capital is not None:
            capital = costs.get("capital_cost_usd")
            if isinstance(capital, float):
                facts["savings_usd"] = article_capital - capital

    def decided(self, gpu: Gpu, *, messages: bool = True) -> Run:
        """The fork for ``gpu`` after the post-sizing rules ran on it (memoised).

        ``messages=False``: only to list the option (neither its trace nor its rules' texts
        are kept).
        """
        run = self.done.get(gpu.id)
        if run is None or (messages and not run.messages):
            run = self.waiting.pop(gpu.id, None) or self.sized(gpu, messages)
            run.messages = messages
            try:
                run.run_strata(self.post, self.sessions.current())
            except EvaluationError as exc:  # the rules cannot decide this option
                run.error = exc
                self.sessions.drop()  # the next run starts afresh, whatever this one left
            self.done[gpu.id] = run
        return run

    def screened(self, gpu: Gpu) -> bool:
        """Whether ``gpu``'s option is excluded by the rules after sizing: as an earlier
        run of them found for the same deciding facts (``Screen``), else as they find now
        (and the screen learns it). The answer's option is decided with its messages."""
        screen = self.screen
        if screen is None or gpu.id in self.done:
            run = self.decided(gpu)
            return run.error is not None or run.facts.get(EXCLUDED_FACT) is True
        sized = self.sized(gpu)
        key = screen.key(sized.facts)
        if screen.excluded(key):
            return True
        self.waiting[gpu.id] = sized
        run = self.decided(gpu)
        if run.error is not None:
            return True
        excluded = run.facts.get(EXCLUDED_FACT) is True
        screen.learn(key, excluded)
        return excluded

    def sizable_gpus(self) -> list[Gpu]:
        """The catalog's GPUs, by id, that can hold the model (``sizable``)."""
        base = self.base
        gpus = by_id(self.keys.catalog)
        found = sizings_for(base.workload, base.model, gpus, base.facts, self.serving)
        self.found = found
        self.sizings, holding = sizable(self.keys.catalog, Identity(found))
        return list(holding)

    def ordered(self, objective: str) -> tuple[Gpu, ...]:
        """The sizable GPUs (``sizable_gpus`` found them) in the objective's order
        (``rank_key``) from each one's sizing and cost alone, before any rule judged it
        (``preview_key``); cached, as a function of the sizings (the same tuple while the
        sizing cache holds it), the prices, the fabric, the budget and the article's GPU."""
        return gpu_order(
            self.keys.catalog,
            self.keys.prices,
            Identity(self.found),
            str(self.base.facts.get("fabric", "")),
            self.base.workload.budget_usd,
            None if self.quantized else self.article_gpu.id,
            objective,
        )

    def option(self, gpu: Gpu, *, messages: bool = True, chosen: bool = False) -> Option:
        run = self.decided(gpu, messages=messages)
        return option_from(
            run, quantized=self.quantized, article=self.is_article(gpu), chosen=chosen
        )

    def unranked(self, gpu: Gpu) -> Unranked:
        """``gpu``'s option, to list (its rules' texts not kept), before ``finish``."""
        run = self.decided(gpu, messages=False)
        return unranked_from(run, quantized=self.quantized, article=self.is_article(gpu))

    def is_article(self, gpu: Gpu) -> bool:
        return gpu.id == self.article_gpu.id and not self.quantized


def decide(
    base: Run,
    post: Strata,
    *,
    base_for: Callable[[str, bool], Run],
    with_options: bool,
    sessions: Sessions,
    unpinned: Callable[[], Run] | None = None,
) -> Decision:
    """Decide the answer (and, ``with_options``, every option) from the pre-sizing ``base``.

    ``base_for(precision, messages)`` runs the pre-sizing rules for the workload in another
    precision (for the quantized options, without keeping their rules' texts);
    ``unpinned()`` runs them for the workload with no GPU pinned (what the article's
    configuration is when the workload pins one). The forks run in ``sessions`` (the
    caller deletes them).

    A pinned GPU is the answer (the rules' ``selection``); the options are still ranked by
    the workload's objective and compared with the article's own configuration.
    """
    selection = str(base.facts.get("selection", "article"))
    pinned = selection == "pinned"
    objective = base.workload.objective if pinned else SELECTIONS.get(selection, "article")
    article_base = unpinned() if pinned and unpinned is not None else None
    brancher = _Brancher(base, post, quantized=False, sessions=sessions, article_base=article_base)
    gpus: list[Gpu] = []
    if with_options or (objective != "article" and not pinned):  # others are not needed
        gpus = brancher.sizable_gpus()
    if pinned:
        chosen_gpu = brancher.own_gpu
    elif objective == "article":
        chosen_gpu = brancher.article_gpu
    else:
        chosen_gpu = _first_eligible(brancher, objective)
    run = brancher.decided(chosen_gpu)
    if run.error is not None:  # the answer's own rules failed (a gap or an overlap)
        raise run.error
    chosen = brancher.option(chosen_gpu, chosen=True)
    article: Option | Callable[[], Option] = (
        chosen  # the same option (the same GPU, in the workload's precision)
        if chosen_gpu.id == brancher.article_gpu.id
        else functools.partial(article_option, article_base or base, post)  # on first read
    )
    options: tuple[Option, ...] = ()
    if with_options:
        every = [brancher.unranked(gpu) for gpu in gpus]
        for precision in quantized_precisions(str(base.facts["precision"])):
            other_base = base_for(precision, False)
            other = _Brancher(
                other_base, post, quantized=True, sessions=sessions, article_base=article_base
            )
            sizable = {gpu.id for gpu in other.sizable_gpus()}
            every += [other.unranked(gpu) for gpu in gpus if gpu.id in sizable]
        options = finish(every, objective, chosen.key)
        chosen = next(o for o in options if o.chosen)
        listed = next((o for o in options if o.article), None)  # None: it cannot hold it
        if listed is not None and (article_base is None or listed.chosen):
            article = listed
        elif article_base is not None:  # decided as the workload without its pinned GPU
            article = article_option(article_base, post)
        elif not isinstance(article, Option):
            article = brancher.option(brancher.article_gpu, messages=False)
    return Decision(run, article, chosen, options, objective)


def article_option(base: Run, post: Strata) -> Option:
    """The article's configuration, from the pre-sizing ``base`` of an evaluation whose
    answer it is not, decided by the same rules (its trace and texts not kept), in an
    engine session of its own: ``Recommendation.article`` calls it on first use. ``base``
    is only read (every option forks it)."""
    with Sessions(compiled(base.rules)) as sessions:
        brancher = _Brancher(base, post, quantized=False, sessions=sessions)
        return brancher.option(brancher.article_gpu, messages=False)


def _first_eligible(brancher: _Brancher, objective: str) -> Gpu:
    """The first GPU, in the objective's order, whose option the rules do not exclude
    (the article's GPU when every option is excluded).

    The order is found from each GPU's sizing and cost alone (``ordered``); the rules
    then run on the forks in that order until one is not excluded, but for those an
    earlier run of theirs excluded on the same deciding facts (``screened``).
    """
    for gpu in brancher.ordered(objective):
        if not brancher.screened(gpu):
            return gpu
    return brancher.article_gpu
