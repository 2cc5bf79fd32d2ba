"""The decision: options sized, priced and judged by the rules; the answer chosen by the
rules' selection; what would change it. Laws hold over generated workloads."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest
import tomli
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import LAW, Reach

import r1rules
from r1rules import Recommendation, Workload, WorkloadError, estimate, evaluate
from r1rules.catalog import default_catalog
from r1rules.physics import usable_gb_per_gpu

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
R1_FULL = dict(
    model="deepseek-r1",
    peak_qps=20,
    latency_ms=2000,
    prompt_tokens=2048,
    output_tokens=4096,
    stage="production",
    budget_usd=2_000_000,
)


def _signature(rec: Recommendation) -> tuple[str, str, int]:
    return (rec.edition, rec.gpu.id, rec.gpu.count)


@pytest.fixture(scope="module")
def r1_full() -> Recommendation:
    return evaluate(Workload(**R1_FULL))  # type: ignore[arg-type]


def test_r1_full_answers_cheaper_than_the_article_and_meets_the_targets(
    r1_full: Recommendation,
) -> None:
    article = evaluate(Workload(**R1_FULL, objective="article"))  # type: ignore[arg-type]
    assert article.gpu.id == "h100-sxm"  # the 0.1 answer
    assert r1_full.cost is not None and article.cost is not None
    assert r1_full.cost.capital_usd < article.cost.capital_usd
    assert r1_full.chosen.meets_targets and r1_full.chosen.ttft_ms <= 2000
    assert r1_full.article.gpu == "h100-sxm" and r1_full.article.gpu_count == article.gpu.count
    assert r1_full.article.capital_usd == pytest.approx(article.cost.capital_usd)
    saved = [n for n in r1_full.notes if n.rule_id == "choice-saves-against-article"]
    assert len(saved) == 1 and "h100-sxm" in saved[0].text


def test_the_report_shows_cost_article_and_ranked_options(r1_full: Recommendation) -> None:
    text = str(r1_full)
    assert "cost (approximate; every price dated below):" in text
    assert "per million output tokens" in text
    assert "the article's configuration: " in text
    table = text[text.index("options, ranked by cost") :]
    chosen = [line for line in table.splitlines() if line.startswith("  >")]
    assert len(chosen) == 1 and r1_full.gpu.id in chosen[0]
    assert any(line.startswith("   *") or line.startswith("  >*") for line in table.splitlines())
    data = r1_full.to_dict()
    assert data["cost"]["capital_usd"] == r1_full.cost.capital_usd  # type: ignore[union-attr]
    assert len(data["options"]) == len(r1_full.options)


def test_options_cover_every_gpu_in_each_precision_the_model_could_take(
    r1_full: Recommendation,
) -> None:
    gpus = set(default_catalog().gpus)
    by_precision: dict[str, set[str]] = {}
    for option in r1_full.options:
        by_precision.setdefault(option.precision, set()).add(option.gpu)
    assert by_precision == {"fp8": gpus, "int4": gpus}  # R1 ships in FP8
    assert sorted(o.rank for o in r1_full.options) == list(range(1, len(r1_full.options) + 1))
    assert [o for o in r1_full.options if o.chosen] == [r1_full.chosen]
    assert all(not o.eligible for o in r1_full.options if o.quantized)


def test_options_false_decides_the_same_answer(r1_full: Recommendation) -> None:
    fast = evaluate(Workload(**R1_FULL), options=False)  # type: ignore[arg-type]
    assert fast.options == ()
    assert _signature(fast) == _signature(r1_full)
    assert fast.cost == r1_full.cost
    assert attrs.evolve(fast.chosen, rank=0, pareto=False) == attrs.evolve(
        r1_full.chosen, rank=0, pareto=False
    )


def test_consumer_cards_are_listed_but_never_the_production_answer(
    r1_full: Recommendation,
) -> None:
    consumer = [o for o in r1_full.options if o.gpu.startswith("rtx-")]
    assert consumer and all("option-consumer-card-in-production" in o.excluded_by for o in consumer)


def test_a_budget_too_small_gives_the_cheapest_and_by_how_much(r1_full: Recommendation) -> None:
    assert r1_full.cost is not None
    budget = r1_full.cost.capital_usd / 2  # half of what the cheapest answer costs
    rec = evaluate(Workload(**{**R1_FULL, "budget_usd": budget}))  # type: ignore[arg-type]
    assert _signature(rec) == _signature(r1_full)  # the budget does not buy anything cheaper
    assert rec.cost is not None and rec.cost.capital_usd > budget
    assert rec.facts["over_budget_usd"] == pytest.approx(rec.cost.capital_usd - budget)
    assert {"budget-exceeded", "budget-too-small-for-the-load"} <= {
        m.rule_id for m in (*rec.warnings, *rec.notes)
    }
    roomy = evaluate(Workload(**{**R1_FULL, "budget_usd": budget * 4}))  # type: ignore[arg-type]
    assert "budget-exceeded" not in {m.rule_id for m in roomy.warnings}


def test_objective_latency_is_the_fastest_within_budget() -> None:
    rec = evaluate(Workload(**{**R1_FULL, "budget_usd": 50e6, "objective": "latency"}))  # type: ignore[arg-type]
    allowed = [o for o in rec.options if o.eligible and o.fits and o.within_budget]
    assert allowed and rec.chosen.ttft_ms == min(o.ttft_ms for o in allowed)
    assert rec.justification_for("gpu")[-1].rule_id == "gpu-fastest-within-budget"


def test_a_pinned_gpu_is_the_answer_and_others_are_still_priced() -> None:
    rec = evaluate(Workload(**{**R1_FULL, "gpu": "h200"}))  # type: ignore[arg-type]
    assert rec.gpu.id == "h200" and rec.chosen.gpu == "h200"
    assert len({o.gpu for o in rec.options}) == len(default_catalog().gpus)


def test_a_pinned_gpu_keeps_the_objective_and_the_articles_own_configuration() -> None:
    unpinned = evaluate(Workload(**R1_FULL), options=False)  # type: ignore[arg-type]
    pinned = evaluate(Workload(**{**R1_FULL, "gpu": "h200"}))  # type: ignore[arg-type]
    assert unpinned.article.gpu != "h200"  # else this test would show nothing
    assert pinned.objective == "cost" == pinned.workload.objective
    assert (pinned.article.gpu, pinned.article.gpu_count, pinned.article.capital_usd) == (
        unpinned.article.gpu,
        unpinned.article.gpu_count,
        unpinned.article.capital_usd,
    )
    assert pinned.to_row()["article_gpu"] == unpinned.article.gpu
    ranked = [o for o in pinned.options if not o.quantized]
    costs = [o.capital_usd or 0.0 for o in ranked if o.eligible and o.fits and o.meets_targets]
    assert len(costs) > 2 and costs == sorted(costs)  # by cost, not the pinned GPU first
    assert [o.gpu for o in ranked if o.article] == [unpinned.article.gpu]
    assert unpinned.article.capital_usd is not None and pinned.cost is not None
    assert pinned.facts["savings_usd"] == pytest.approx(
        unpinned.article.capital_usd - pinned.cost.capital_usd
    )
    text = pinned.report()
    assert "objective: cost" in text and "the answer is the GPU the workload pins" in text
    # options=False: the same article, worked out on first read
    lean = evaluate(Workload(**{**R1_FULL, "gpu": "h200"}), options=False)  # type: ignore[arg-type]
    assert (lean.article.gpu, lean.article.gpu_count) == (
        unpinned.article.gpu,
        unpinned.article.gpu_count,
    )


def test_pinning_the_articles_own_gpu_is_the_articles_configuration() -> None:
    article_gpu = evaluate(Workload(**R1_FULL), options=False).article.gpu  # type: ignore[arg-type]
    rec = evaluate(Workload(**{**R1_FULL, "gpu": article_gpu}))  # type: ignore[arg-type]
    assert rec.article.key == rec.chosen.key and rec.article.chosen
    assert "the answer is the article's configuration" in rec.report()


def test_an_unknown_objective_names_the_field_and_the_choices() -> None:
    with pytest.raises(WorkloadError, match=r"objective.*cost.*latency.*article"):
        Workload(model="deepseek-r1", peak_qps=1, latency_ms=1000, objective="cheapest")


def test_the_example_file_answers_cheaper_than_0_1() -> None:
    """examples/r1-full.toml is the issue's own example."""
    rec = evaluate(Workload(**_read(EXAMPLES / "r1-full.toml")))  # type: ignore[arg-type]
    assert rec.cost is not None and rec.article.capital_usd is not None
    assert rec.cost.capital_usd < rec.article.capital_usd
    assert rec.chosen.meets_targets


def _read(path: Path) -> dict[str, object]:
    with path.open("rb") as handle:
        data: dict[str, object] = tomli.load(handle)
    return data


# --- laws over generated workloads ---------------------------------------------------

_MODELS = ("deepseek-r1", "deepseek-r1-distill-qwen-7b", "deepseek-r1-distill-llama-70b")
workloads: st.SearchStrategy[dict[str, object]] = st.builds(
    dict,
    model=st.sampled_from(_MODELS),
    peak_qps=st.floats(0.1, 60.0),
    latency_ms=st.sampled_from([150.0, 500.0, 2000.0, 8000.0]),
    prompt_tokens=st.sampled_from([256, 1024, 4096]),
    output_tokens=st.sampled_from([128, 1024, 4096]),
    stage=st.sampled_from(["development", "production"]),
)


def test_more_load_never_costs_less() -> None:
    """Law: GPU unpinned, objective cost: an answer meeting the targets at a higher load
    costs at least what the lower load's answer costs."""
    reach = Reach("more load never costs less")

    @LAW
    @given(fields=workloads, more=st.floats(1.05, 4.0))
    def law(fields: dict[str, object], more: float) -> None:
        reach.run()
        low = evaluate(Workload(**fields), options=False)  # type: ignore[arg-type]
        higher = {**fields, "peak_qps": float(fields["peak_qps"]) * more}  # type: ignore[arg-type]
        high = evaluate(Workload(**higher), options=False)  # type: ignore[arg-type]
        if not high.chosen.meets_targets or high.cost is None or low.cost is None:
            reach.note("the higher load's answer misses the targets")
            return
        reach.hit()
        assert low.cost.capital_usd <= high.cost.capital_usd + 1e-6

    law()
    reach.check()


def test_options_marked_as_meeting_the_targets_meet_them() -> None:
    """Law: an option marked as meeting the targets holds the model within usable memory
    and its time to first token is within latency_ms; estimate() agrees where it places
    the same layout (one node per replica)."""
    reach = Reach("options meet")

    @LAW
    @given(fields=workloads)
    def law(fields: dict[str, object]) -> None:
        reach.run()
        rec = evaluate(Workload(**fields))  # type: ignore[arg-type]
        latency = float(fields["latency_ms"])  # type: ignore[arg-type]
        meeting = [o for o in rec.options if o.meets_targets]
        if not meeting:
            reach.note("no option meets the targets")
            return
        reach.hit()
        model = default_catalog().model(str(fields["model"]))
        for option in meeting:
            gpu = default_catalog().gpu(option.gpu)
            assert option.fits and option.ttft_ms <= latency
            usable = usable_gb_per_gpu(gpu, model, option.tensor_parallel)
            assert option.memory_per_gpu_gb <= usable + 1e-9
            if option.pipeline_parallel == 1:  # the same layout through estimate()
                found = estimate(
                    model=model.id,
                    gpu=gpu.id,
                    gpu_count=option.gpu_count,
                    concurrency=1,
                    precision=option.precision,
                    prompt_tokens=int(fields["prompt_tokens"]),  # type: ignore[call-overload]
                    output_tokens=int(fields["output_tokens"]),  # type: ignore[call-overload]
                    tensor_parallel=option.tensor_parallel,
                    expert_parallel=option.expert_parallel,
                    data_parallel_attention=option.data_parallel_attention,
                )
                assert found.fits and found.ttft_ms <= latency * 1.0001

    law()
    reach.check()


def test_the_answer_is_never_dearer_than_an_allowed_option_meeting_the_targets() -> None:
    """Law (objective cost): no option the rules allow that meets the targets is cheaper
    than the answer."""
    reach = Reach("cheapest meeting")

    @LAW
    @given(fields=workloads)
    def law(fields: dict[str, object]) -> None:
        reach.run()
        rec = evaluate(Workload(**fields))  # type: ignore[arg-type]
        rivals = [
            o.capital_usd
            for o in rec.options
            if o.eligible and o.meets_targets and o.capital_usd is not None
        ]
        if not rec.chosen.meets_targets or not rivals:
            reach.note("no allowed option meets the targets")
            return
        reach.hit()
        assert rec.chosen.capital_usd is not None
        assert rec.chosen.capital_usd <= min(rivals)

    law()
    reach.check()


def test_every_reported_boundary_is_real() -> None:
    """Law: evaluating at a boundary's value gives the new answer, and at the last value
    the search saw unchanged, the current one."""
    reach = Reach("boundaries real")

    @settings(max_examples=5, deadline=None, database=None, derandomize=True)
    @given(fields=workloads)
    def law(fields: dict[str, object]) -> None:
        reach.run()
        rec = evaluate(Workload(**fields), options=False)  # type: ignore[arg-type]
        found = [b for b in rec.boundaries() if b.value is not None]
        if not found:
            reach.note("no boundary within the searched range")
            return
        reach.hit()
        for boundary in found:
            assert boundary.value is not None and boundary.after is not None
            start = (
                rec if boundary.input != "params_b" else _moved(rec, "params_b", boundary.current)
            )
            assert boundary.before == _signature(start)
            assert _signature(_moved(rec, boundary.input, boundary.value)) == boundary.after
            assert _signature(_moved(rec, boundary.input, boundary.last_same)) == boundary.before
            assert boundary.rule_id in rec.rules.rules_by_id

    law()
    reach.check()


def _moved(rec: Recommendation, name: str, value: float) -> Recommendation:
    changes: dict[str, object] = {name: int(value) if name.endswith("_tokens") else value}
    if name == "params_b":
        changes["model"] = None
    return evaluate(attrs.evolve(rec.workload, **changes), rec.rules, options=False)


def test_r1rules_exports_the_decision_values() -> None:
    assert {"Option", "Cost", "Boundary", "PriceList"} <= set(r1rules.__all__)


def test_a_gpu_that_cannot_hold_the_model_at_all_is_no_option() -> None:
    """A 1,104B model with a 92k-token output: no RTX 5090 layout holds it even over
    1,024 nodes. That GPU is left out of the options instead of ending the evaluation."""
    workload = Workload(
        params_b=1104.0,
        peak_qps=1.0,
        latency_ms=1.0,
        kv_cache_precision="fp32",
        output_tokens=92428,
    )
    rec = evaluate(workload)
    assert rec.gpu.count >= 1
    listed = {(o.gpu, o.precision) for o in rec.options}
    assert ("rtx-5090", "int4") not in listed
    assert ("b200", "int4") in listed and (rec.gpu.id, rec.chosen.precision) in listed
