"""Flat rows: Recommendation.to_row(), r1rules.rows and option_row, documented column by
column, and equal to the recommendation's own fields."""

from __future__ import annotations

import json
import math
from pathlib import Path

import attrs
import pytest
import tomli

import r1rules
from r1rules import Recommendation, Workload, evaluate
from r1rules.recommend import OPTION_COLUMNS, ROW_COLUMNS, option_row

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
PLAIN = (str, int, float, bool, type(None))


def _example(name: str) -> Workload:
    return Workload(**tomli.loads((EXAMPLES / name).read_text(encoding="utf-8")))


WORKLOADS = [
    _example("basic.toml"),
    _example("professional.toml"),
    _example("enterprise.toml"),
    _example("r1-full.toml"),
    Workload(params_b=33, peak_qps=28, latency_ms=200, budget_usd=2e6, objective="latency"),
    Workload(model="deepseek-r1-distill-llama-70b", peak_qps=4, latency_ms=1500, gpu="h100-sxm"),
]


@pytest.fixture(scope="module", params=range(len(WORKLOADS)))
def rec(request: pytest.FixtureRequest) -> Recommendation:
    return evaluate(WORKLOADS[request.param])


def test_every_column_is_documented_once_and_in_order(rec: Recommendation) -> None:
    names = [name for name, _, _ in ROW_COLUMNS]
    assert len(names) == len(set(names))
    assert list(rec.to_row()) == names
    assert all(meaning and isinstance(unit, str) for _, unit, meaning in ROW_COLUMNS)
    option_names = [name for name, _, _ in OPTION_COLUMNS]
    assert len(option_names) == len(set(option_names))
    assert all(list(option_row(o)) == option_names for o in rec.options)


def test_values_are_plain_and_strict_json(rec: Recommendation) -> None:
    row = rec.to_row()
    assert all(isinstance(v, PLAIN) for v in row.values())
    assert json.loads(json.dumps(row, allow_nan=False)) == row
    for option in rec.options:
        json.dumps(option_row(option), allow_nan=False)


def test_values_are_the_recommendations_own(rec: Recommendation) -> None:
    row, w, cost, chosen, article = rec.to_row(), rec.workload, rec.cost, rec.chosen, rec.article
    assert cost is not None
    inputs = ("params_b", "precision", "peak_qps", "latency_ms", "prompt_tokens")
    assert {k: row[k] for k in inputs} == {k: getattr(w, k) for k in inputs}
    assert (row["output_tokens"], row["stage"], row["budget_usd"], row["pinned_gpu"]) == (
        w.output_tokens,
        w.stage,
        w.budget_usd,
        w.gpu,
    )
    assert row["model"] == (w.model if isinstance(w.model, str) or w.model is None else w.model.id)
    assert (row["edition"], row["objective"], row["gpu"], row["gpu_name"]) == (
        rec.edition,
        rec.objective,
        rec.gpu.id,
        rec.gpu.name,
    )
    assert (row["gpu_count"], row["gpus_per_node"], row["nodes"], row["layout"]) == (
        rec.gpu.count,
        rec.gpu.per_node,
        rec.nodes,
        chosen.layout,
    )
    assert (row["ttft_ms"], row["tpot_ms"]) == (rec.estimates.ttft_ms, rec.estimates.tpot_ms)
    assert row["output_tokens_per_s"] == chosen.output_tokens_per_s
    assert row["tokens_per_s_per_user"] == pytest.approx(1000 / rec.estimates.tpot_ms)
    assert (row["capital_usd"], row["onprem_usd_per_hour"], row["cloud_usd_per_hour"]) == (
        cost.capital_usd,
        cost.onprem_usd_per_hour,
        cost.cloud_usd_per_hour,
    )
    assert row["usd_per_million_tokens"] == cost.onprem_usd_per_million_tokens
    assert row["cloud_usd_per_million_tokens"] == cost.cloud_usd_per_million_tokens
    assert (row["meets_targets"], row["within_budget"]) == (
        chosen.meets_targets,
        chosen.within_budget,
    )
    assert (row["article_gpu"], row["article_gpu_count"], row["article_capital_usd"]) == (
        article.gpu,
        article.gpu_count,
        article.capital_usd,
    )
    assert article.capital_usd is not None
    assert row["savings_usd"] == pytest.approx(article.capital_usd - cost.capital_usd)
    texts = [m.text for m in rec.warnings]
    assert row["warnings"] == " | ".join(texts)
    assert row["warning_rules"] == " | ".join(dict.fromkeys(m.rule_id for m in rec.warnings))
    assert row["ruleset_version"] == rec.ruleset_version


def test_budget_and_pinned_gpu_reach_the_row() -> None:
    budgeted = evaluate(WORKLOADS[4]).to_row()
    assert budgeted["budget_usd"] == 2e6 and budgeted["objective"] == "latency"
    assert isinstance(budgeted["within_budget"], bool)
    pinned = evaluate(WORKLOADS[5]).to_row()
    assert pinned["pinned_gpu"] == "h100-sxm" == pinned["gpu"]


def test_non_finite_figures_are_none() -> None:
    rec = evaluate(WORKLOADS[1])
    estimates = attrs.evolve(rec.estimates, ttft_ms=math.inf, tpot_ms=math.nan)
    row = attrs.evolve(rec, estimates=estimates).to_row()
    assert row["ttft_ms"] is None and row["tpot_ms"] is None
    assert row["tokens_per_s_per_user"] is None
    option = attrs.evolve(rec.options[0], ttft_ms=math.inf, tpot_ms=math.inf)
    assert option_row(option)["ttft_ms"] is None and option_row(option)["tpot_ms"] is None


def test_an_unpriced_answer_has_no_cost_columns() -> None:
    rec = evaluate(WORKLOADS[1])
    row = attrs.evolve(rec, cost=None).to_row()
    cost_columns = ("capital_usd", "onprem_usd_per_hour", "usd_per_million_tokens", "cost_gaps")
    assert all(row[c] is None for c in cost_columns)


def test_rows_is_to_row_of_each_in_order() -> None:
    recs = r1rules.evaluate_many(WORKLOADS[:3])
    assert r1rules.rows(recs) == [r.to_row() for r in recs]
    assert r1rules.rows(iter(recs))[1]["edition"] == recs[1].edition
    assert r1rules.rows([]) == []


def test_option_rows_are_the_options_own() -> None:
    rec = evaluate(WORKLOADS[1])
    for option in rec.options:
        row = option_row(option)
        assert (row["rank"], row["gpu"], row["precision"], row["gpu_count"]) == (
            option.rank,
            option.gpu,
            option.precision,
            option.gpu_count,
        )
        assert (row["pareto"], row["chosen"], row["capital_usd"]) == (
            option.pareto,
            option.chosen,
            option.capital_usd,
        )
        assert row["excluded_by"] == " | ".join(option.excluded_by)
