"""The decision: size and price every option, let the rules judge each one, and answer the
option the rules' ``selection`` fact asks for.

``selection`` (rules/20-decision-tree.toml, table ``selection``) is one of:

- ``pinned`` / ``article``: the article's configuration, as r1rules 0.1 answered (the
  edition's GPU, moved up the ladder only when it cannot hold the model; a pinned GPU);
- ``cheapest`` (objective ``cost``): the first option, in the cost order, that the rules
  do not exclude;
- ``fastest`` (objective ``latency``): the first the rules do not exclude in the latency
  order (``_options.rank_key``).

An option whose post-sizing rules cannot decide (a gap or an overlap that only its facts
reach) is listed as excluded by ``rule-error``; only the answer's own failure is raised.

A rule set that sets no ``selection`` answers the article's configuration.

Every option is decided by the same rules from the same facts: the run before sizing is
forked once per option, given that option's sizing and cost facts, and the strata after
sizing run on the fork (the forks of a run share one engine session, each asserting its
own fact; each GPU is sized once). Without ``options`` only as many forks run as the
choice needs (in the objective's order, until one is not excluded); with them, every GPU
of the catalog is decided in the workload's precision and in each lower one it could be
quantized to.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import attrs

from r1rules._errors import EvaluationError
from r1rules._vocabulary import PRECISIONS
from r1rules.catalog import Gpu
from r1rules.engine import CompiledRules, Session
from r1rules.physics import Sizing, cost_of
from r1rules.recommend._derive import (
    cost_facts,
    deploy_facts,
    engine_for,
    output_tokens_per_s,
    sizing_facts,
    sizing_for,
)
from r1rules.recommend._options import (
    EXCLUDED_FACT,
    Option,
    finish,
    option_from,
    preview_option,
    rank_key,
)
from r1rules.recommend._run import Run, Strata

__all__ = ["QUANTIZE_TO", "SELECTIONS", "Decision", "decide", "quantized_precisions"]

SELECTIONS = {"pinned": "article", "article": "article", "cheapest": "cost", "fastest": "latency"}
QUANTIZE_TO = ("fp8", "int4")


@attrs.frozen
class Decision:
    """The answer's run, the article's configuration, and the ranked options (if asked)."""

    run: Run
    article: Option
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
        engine: CompiledRules,
        post: Strata,
        quantized: bool,
        sessions: contextlib.ExitStack[bool | None],
    ) -> None:
        self.base = base
        self.engine = engine
        self.serving = engine_for(base.workload, base.rules.catalog)  # the serving engine
        self.post = post
        self.quantized = quantized
        self.article_facts, self.article_sizing = sizing_facts(
            base.workload, base.model, base.rules.catalog, base.facts
        )
        self.article_gpu = self.article_sizing.gpu
        prices = base.rules.catalog.prices
        self.article_cost_facts, self.article_cost = cost_facts(
            prices, self.article_gpu, self.article_facts, base.facts
        )
        self.done: dict[str, Run] = {}
        # Each GPU's sizing, found once (None: it cannot hold the model): ``sizable`` and
        # ``preview`` read it.
        self.sizings: dict[str, Sizing | None] = {}
        # One engine session for every fork (one fact each: far cheaper than a session
        # each), opened on first use; ``sessions`` deletes it when the decision is made.
        self.sessions = sessions
        self.session: Session | None = None

    def sized(self, gpu: Gpu) -> Run:
        """A fork with ``gpu``'s sizing and cost facts, before the post-sizing rules."""
        base = self.base
        run = base.fork()
        if gpu.id == self.article_gpu.id:
            found, sizing = self.article_facts, self.article_sizing
            costs, cost = self.article_cost_facts, self.article_cost
        else:
            found, sizing = deploy_facts(base.workload, base.model, gpu, base.facts, self.serving)
            found["candidate_feasible"] = self.article_facts["candidate_feasible"]
            costs, cost = cost_facts(base.rules.catalog.prices, gpu, found, base.facts)
        run.facts.update(found)
        run.facts.update(costs)
        run.facts.update(self._comparison(gpu, costs))
        run.sizing, run.cost = sizing, cost
        return run

    def _comparison(self, gpu: Gpu, costs: dict[str, object]) -> dict[str, object]:
        out: dict[str, object] = {
            "article_gpu": self.article_gpu.id,
            "article_gpu_count": self.article_facts["sized_gpu_count"],
            "article_is_answer": gpu.id == self.article_gpu.id and not self.quantized,
            "article_meets_targets": self.article_facts["option_meets_targets"],
            "article_ttft_ms": self.article_facts["ttft_ms"],
        }
        article_capital = self.article_cost_facts.get("capital_cost_usd")
        if isinstance(article_capital, float):
            out["article_capital_usd"] = article_capital
            capital = costs.get("capital_cost_usd")
            if isinstance(capital, float):
                out["savings_usd"] = article_capital - capital
        return out

    def decided(self, gpu: Gpu, *, messages: bool = True) -> Run:
        """The fork for ``gpu`` after the post-sizing rules ran on it (memoised).

        ``messages=False``: only to list the option (its rules' texts are not written).
        """
        run = self.done.get(gpu.id)
        if run is None or (messages and not run.messages):
            run = self.sized(gpu)
            run.messages = messages
            if self.session is None:
                self.session = self.sessions.enter_context(self.engine.session())
            try:
                run.run_strata(self.engine, self.post, self.session)
            except EvaluationError as exc:  # the rules cannot decide this option
                run.error = exc
                self.session = None  # the next fork starts afresh, whatever this one left
            self.done[gpu.id] = run
        return run

    def sizable(self, gpu: Gpu) -> bool:
        """Whether ``gpu`` can hold the model at all (over any node span sizing allows): a
        GPU that cannot is no option, rather than an error that ends the evaluation."""
        return self._sizing(gpu) is not None

    def _sizing(self, gpu: Gpu) -> Sizing | None:
        if gpu.id in self.sizings:
            return self.sizings[gpu.id]
        base = self.base
        try:
            sizing: Sizing | None = sizing_for(
                base.workload, base.model, gpu, base.facts, self.serving
            )
        except EvaluationError:
            sizing = None
        self.sizings[gpu.id] = sizing
        return sizing

    def preview(self, gpu: Gpu) -> Option:
        """``gpu``'s option from its sizing and cost alone, before any rule judged it:
        enough to put the options in an objective's order."""
        base = self.base
        sizing = self._sizing(gpu)
        assert sizing is not None  # only sizable GPUs are previewed
        cost = cost_of(
            base.rules.catalog.prices,
            gpu,
            sizing.sized_gpu_count,
            sizing.nodes,
            str(base.facts.get("fabric", "")),
            output_tokens_per_s(sizing),
            describe=False,
        )
        budget = base.workload.budget_usd
        within = None if budget is None or cost is None else cost.capital_usd <= budget
        return preview_option(sizing, cost, within, article=self.is_article(gpu))

    def option(self, gpu: Gpu, *, messages: bool = True) -> Option:
        run = self.decided(gpu, messages=messages)
        return option_from(run, quantized=self.quantized, article=self.is_article(gpu))

    def is_article(self, gpu: Gpu) -> bool:
        return gpu.id == self.article_gpu.id and not self.quantized


def decide(
    base: Run,
    engine: CompiledRules,
    post: Strata,
    *,
    base_for: Callable[[str, bool], Run],
    with_options: bool,
) -> Decision:
    """Decide the answer (and, ``with_options``, every option) from the pre-sizing ``base``.

    ``base_for(precision, messages)`` runs the pre-sizing rules for the workload in another
    precision (for the quantized options, without writing their rules' texts).
    """
    with contextlib.ExitStack() as sessions:  # the forks' engine sessions, deleted after
        return _decide(base, engine, post, base_for, with_options, sessions)


def _decide(
    base: Run,
    engine: CompiledRules,
    post: Strata,
    base_for: Callable[[str, bool], Run],
    with_options: bool,
    sessions: contextlib.ExitStack[bool | None],
) -> Decision:
    brancher = _Brancher(base, engine, post, quantized=False, sessions=sessions)
    selection = str(base.facts.get("selection", "article"))
    objective = SELECTIONS.get(selection, "article")
    gpus: list[Gpu] = []
    if with_options or objective != "article":  # the article's answer needs no other GPU
        gpus = [
            gpu
            for gpu in sorted(base.rules.catalog.gpus.values(), key=lambda g: g.id)
            if brancher.sizable(gpu)
        ]
    if objective == "article":
        chosen_gpu = brancher.article_gpu
    else:
        chosen_gpu = _first_eligible(brancher, gpus, objective)
    run = brancher.decided(chosen_gpu)
    if run.error is not None:  # the answer's own rules failed (a gap or an overlap)
        raise run.error
    article = brancher.option(brancher.article_gpu)
    chosen = attrs.evolve(brancher.option(chosen_gpu), chosen=True)
    if chosen.key == article.key:
        article = chosen
    options: tuple[Option, ...] = ()
    if with_options:
        every = [brancher.option(gpu, messages=False) for gpu in gpus]
        for precision in quantized_precisions(str(base.facts["precision"])):
            other_base = base_for(precision, False)
            other = _Brancher(other_base, engine, post, quantized=True, sessions=sessions)
            every += [other.option(gpu, messages=False) for gpu in gpus if other.sizable(gpu)]
        options = finish(every, objective, chosen.key)
        chosen = next(o for o in options if o.chosen)
        article = next((o for o in options if o.article), article)
    return Decision(run, article, chosen, options, objective)


def _first_eligible(brancher: _Brancher, gpus: list[Gpu], objective: str) -> Gpu:
    """The first GPU, in the objective's order, whose option the rules do not exclude
    (the article's GPU when every option is excluded).

    The order is found from each GPU's sizing and cost alone (``preview``); the rules
    then run on the forks in that order until one is not excluded.
    """
    previews = sorted(
        ((brancher.preview(gpu), gpu) for gpu in gpus),
        key=lambda pair: rank_key(pair[0], objective),
    )
    for _option, gpu in previews:
        run = brancher.decided(gpu)
        if run.error is None and run.facts.get(EXCLUDED_FACT) is not True:
            return gpu
    return brancher.article_gpu
