"""The single answer's fast paths (recommend/_run.py, _plan.py, _decide.py, _options.py, _cache.py,
_derive.py, ruleset/_placeholders.py) answer exactly what the plain ones did: texts parsed
once and written as ``fill`` wrote them, the options put in order without making them (and
ranked from rows before they are made), the caches of pure physics equal to no cache, and
one engine session per evaluation."""

from __future__ import annotations

import copy
import itertools
import string
from collections.abc import Mapping
from unittest import mock

import attrs
import pytest

import r1rules
from r1rules import CatalogError, Workload, evaluate
from r1rules.engine import CompiledRules, _adapter, compiled
from r1rules.physics import _sizing, cost_of, size
from r1rules.recommend import _options
from r1rules.recommend._cache import Identity, cached_cost, clear
from r1rules.recommend._decide import _Brancher
from r1rules.recommend._derive import gpu_in
from r1rules.recommend._options import (
    Option,
    Unranked,
    finish,
    preview_key,
    preview_option,
    rank_key,
)
from r1rules.recommend._plan import plan_of
from r1rules.recommend._run import Run, Sessions
from r1rules.ruleset import fill

WORKLOADS = (
    Workload(model="deepseek-r1", peak_qps=10, latency_ms=2000, budget_usd=2e6),
    Workload(model="deepseek-r1-distill-qwen-7b", peak_qps=8, latency_ms=500, stage="development"),
    Workload(model="deepseek-r1-distill-llama-70b", peak_qps=60, latency_ms=250, gpu="h100"),
    Workload(model="deepseek-r1-distill-qwen-32b", peak_qps=2, latency_ms=150, objective="latency"),
    Workload(model="deepseek-r1-distill-qwen-14b", peak_qps=25, latency_ms=1000, tpot_ms=50),
    Workload(model="R1", concurrent_requests=32, latency_ms=3000, objective="article"),
)

_FORMATTER = string.Formatter()


def reference_fill(text: str, facts: Mapping[str, object]) -> str:
    """``fill`` as it was written before texts were parsed once (the reference)."""
    if "{" not in text:
        return text
    parts = []
    for literal, name, spec, _conversion in _FORMATTER.parse(text):
        parts.append(literal)
        if name is None:
            continue
        value = facts.get(name)
        if value is None:
            parts.append("n/a")
        elif isinstance(value, tuple):
            parts.append(", ".join(str(v) for v in value))
        else:
            parts.append(format(value, spec or ""))
    return "".join(parts)


TEXTS = (
    "plain",
    "a {x} b",
    "{x:.1f} and {{literal}} {y}",
    "{x:>8}|{x:,.0f}",
    "}}{{x}}{x}",
    "{x:g}{y:.2%}{z}",
)
VALUES = (None, 0, 7, 2.5, -0.0, 1e20, "text", ("a", 1), (), True, False, float("inf"))


def test_fill_writes_what_the_reference_writes() -> None:
    compared = 0
    for text in TEXTS:
        for x, y, z in itertools.product(VALUES, VALUES, VALUES[:3]):
            facts = {k: v for k, v in (("x", x), ("y", y), ("z", z)) if v is not None}
            try:
                expected = reference_fill(text, facts)
            except (TypeError, ValueError) as exc:
                with pytest.raises(type(exc)):
                    fill(text, facts)
                continue
            assert fill(text, facts) == expected, (text, facts)
            compared += 1
    assert compared > 1000


@pytest.mark.parametrize("objective", ["cost", "latency", "article"])
@pytest.mark.parametrize("budget", [None, 1000.0, 400_000.0])
def test_preview_key_is_the_rank_key_of_the_preview_option(
    objective: str, budget: float | None
) -> None:
    catalog = r1rules.default_catalog()
    model = catalog.model("deepseek-r1-distill-qwen-32b")
    checked = 0
    for gpu in catalog.gpus.values():
        sizing = size(
            model,
            "bf16",
            "bf16",
            gpu,
            peak_qps=10.0,
            latency_ms=500.0,
            prompt_tokens=1024,
            output_tokens=1024,
            headroom_fraction=0.2,
            max_nodes=2,
        )
        priced = cost_of(
            catalog.prices, gpu, sizing.sized_gpu_count, sizing.nodes, "", 100.0, describe=False
        )
        for cost in (priced, None):
            within = None if budget is None or cost is None else cost.capital_usd <= budget
            for article in (True, False):
                option = preview_option(sizing, cost, within, article=article)
                assert rank_key(option, objective) == preview_key(
                    sizing, cost, within, article=article, objective=objective
                )
                checked += 1
    assert checked == 4 * len(catalog.gpus)


@pytest.mark.parametrize("options", [False, True])
def test_emptied_caches_answer_as_full_ones(options: bool) -> None:
    """The recommend layer's caches hold pure physics: an evaluation after they (and the
    sizing cache) are emptied answers exactly what one with them full does."""
    for workload in WORKLOADS:
        warm = evaluate(workload, options=options)
        again = evaluate(workload, options=options)
        _sizing.size.cache_clear()
        clear()
        cold = evaluate(workload, options=options)
        for rec in (again, cold):
            assert rec.to_dict() == warm.to_dict()
            assert repr(rec) == repr(warm)
            assert rec.trace == warm.trace
            assert rec.options == warm.options
            assert (rec.article, rec.chosen, rec.cost) == (warm.article, warm.chosen, warm.cost)
            assert dict(rec.facts) == dict(warm.facts)


def test_cached_costs_and_estimates_are_the_physics_ones() -> None:
    catalog = r1rules.default_catalog()
    gpu = catalog.gpu("h200")
    for describe in (True, False):
        assert cached_cost(
            catalog.prices, gpu, 16, 2, "infiniband-ndr", 1234.5, describe=describe
        ) == cost_of(catalog.prices, gpu, 16, 2, "infiniband-ndr", 1234.5, describe=describe)
    other = copy.deepcopy(catalog.prices)  # an equal list, another object: its own entry
    assert cached_cost(other, gpu, 8, 1, "", 10.0) == cached_cost(
        catalog.prices, gpu, 8, 1, "", 10.0
    )


def test_identity_keys_compare_by_object() -> None:
    item = [1]
    assert Identity(item) == Identity(item)
    assert hash(Identity(item)) == hash(Identity(item))
    assert Identity(item) != Identity([1])
    assert Identity(item).item is item


def test_gpu_in_finds_ids_and_aliases_and_refuses_unknown_names() -> None:
    catalog = r1rules.default_catalog()
    assert gpu_in(catalog, "h200") is catalog.gpus["h200"]
    assert gpu_in(catalog, "H100") == catalog.gpu("h100")
    with pytest.raises(CatalogError, match="unknown GPU"):
        gpu_in(catalog, "no-such-gpu")


def test_an_evaluation_uses_one_engine_session_and_leaves_none() -> None:
    """The runs before sizing and every option's fork share one session (each asserting
    facts of its own), deleted when evaluate returns."""
    rules = r1rules.default_rules()
    real = CompiledRules.session
    opened: list[int] = []

    def counted(self: CompiledRules) -> _adapter.Session:
        opened.append(1)
        return real(self)

    with mock.patch.object(CompiledRules, "session", counted):
        for workload in WORKLOADS:
            for options in (False, True):
                opened.clear()
                evaluate(workload, options=options)
                assert len(opened) == 1, (workload, options)
    assert _adapter.live_sessions(rules) == 0


@pytest.mark.parametrize("objective", ["cost", "latency"])
@pytest.mark.parametrize("budget", [None, 1000.0, 400_000.0])
def test_options_are_tried_in_the_order_of_their_preview_keys(
    objective: str, budget: float | None
) -> None:
    """``_Brancher.ordered`` writes ``preview_key`` out: the same order, for every GPU that
    could hold the model (priced or not, meeting the targets or not, within budget or not)."""
    rules = r1rules.default_rules()
    plan = plan_of(rules)
    compared = 0
    for model, qps, latency in (
        ("deepseek-r1-distill-qwen-32b", 10.0, 500.0),
        ("deepseek-r1-distill-qwen-7b", 150.0, 150.0),
        ("deepseek-r1", 2.0, 3000.0),
    ):
        workload = Workload(model=model, peak_qps=qps, latency_ms=latency, budget_usd=budget)
        resolved, found = workload.resolve(rules.catalog)
        with Sessions(compiled(rules)) as sessions:
            base = Run(resolved, rules, found, plan)
            base.run_strata(plan.pre, sessions.current())
            brancher = _Brancher(base, plan.post, quantized=False, sessions=sessions)
        gpus = brancher.sizable_gpus()
        fabric = str(base.facts.get("fabric", ""))
        keys = {}
        for gpu in gpus:
            sizing = brancher.sizings[gpu.id]
            assert sizing is not None
            cost = cost_of(
                rules.catalog.prices,
                gpu,
                sizing.sized_gpu_count,
                sizing.nodes,
                fabric,
                sizing.output_tokens_per_s,
                describe=False,
            )
            within = None if budget is None or cost is None else cost.capital_usd <= budget
            keys[gpu.id] = preview_key(
                sizing,
                cost,
                within,
                article=gpu.id == brancher.article_gpu.id,
                objective=objective,
            )
        expected = sorted(gpus, key=lambda gpu: keys[gpu.id])
        assert list(brancher.ordered(objective)) == expected
        assert brancher.ordered(objective) is brancher.ordered(objective)  # cached
        compared += len(gpus)
    assert compared > 30


@pytest.mark.parametrize("objective", ["cost", "latency", "article"])
def test_finish_ranks_unranked_rows_as_it_ranks_options(objective: str) -> None:
    """The options of an evaluation reach ``finish`` as ``Unranked`` rows (an Option's
    fields but the ranking's): ranked and marked exactly as the same Options are."""
    workload = Workload(model="deepseek-r1", peak_qps=10, latency_ms=2000, budget_usd=3e6)
    rec = evaluate(attrs.evolve(workload, objective=objective))
    bare = [attrs.evolve(o, rank=0, pareto=False, chosen=False) for o in rec.options]
    rows = [Unranked(*_options._UNRANKED(o)) for o in bare]
    shuffled = rows[1::2] + rows[::2]
    assert finish(shuffled, rec.objective, rec.chosen.key) == rec.options
    assert finish(bare[::-1], rec.objective, rec.chosen.key) == rec.options
    for row, option in zip(rows, bare, strict=True):
        assert Option(*row) == option  # the same fields, in Option's order
