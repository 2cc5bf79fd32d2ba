"""Inputs in users' terms: concurrent requests (Little's law), a per-token latency target,
and a fleet the user already has; and the one-command user stories of issue 11."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import attrs
import pytest

import r1rules
from r1rules import Workload, WorkloadError, evaluate, fleet
from r1rules._workload import DEFAULT_TPOT_MS_FOR_CONCURRENCY, little_qps, request_seconds
from r1rules.cli._main import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# --- concurrent requests ----------------------------------------------------------------


def test_concurrent_requests_become_peak_qps_by_littles_law() -> None:
    w = Workload(model="deepseek-r1", concurrent_requests=200, latency_ms=2000)
    assert w.peak_qps is None and w.tpot_ms is None  # kept as given until resolved
    resolved, _ = w.resolve()
    # each request lasts the first token's target plus 80 ms for each further token
    seconds = (2000 + (w.output_tokens - 1) * DEFAULT_TPOT_MS_FOR_CONCURRENCY) / 1000
    assert resolved.tpot_ms == DEFAULT_TPOT_MS_FOR_CONCURRENCY
    assert resolved.peak_qps == pytest.approx(200 / seconds, rel=1e-12)
    assert resolved.concurrent_requests == 200
    # a resolved workload is a valid Workload (both given, and they agree)
    assert attrs.evolve(resolved, stage="development").peak_qps == resolved.peak_qps


def test_a_given_tpot_target_sets_the_request_duration() -> None:
    w = Workload(model="deepseek-r1", concurrent_requests=50, latency_ms=1000, tpot_ms=20)
    resolved, _ = w.resolve()
    assert resolved.tpot_ms == 20
    assert resolved.peak_qps == pytest.approx(50 / request_seconds(1000, 20, w.output_tokens))
    assert little_qps(50, 1000, 20, w.output_tokens) == resolved.peak_qps


def test_the_load_is_given_one_way() -> None:
    with pytest.raises(WorkloadError, match=r"^peak_qps/concurrent_requests: give one of them"):
        Workload(model="deepseek-r1", concurrent_requests=200, peak_qps=5, latency_ms=2000)
    with pytest.raises(WorkloadError, match=r"^latency_ms: required"):
        Workload(model="deepseek-r1", concurrent_requests=200)
    with pytest.raises(WorkloadError, match=r"^peak_qps: required .* concurrent_requests"):
        Workload(model="deepseek-r1", latency_ms=2000)
    with pytest.raises(WorkloadError, match=r"^concurrent_requests: must be greater than 0"):
        Workload(model="deepseek-r1", concurrent_requests=0, latency_ms=2000)


def test_a_deployment_sized_for_concurrent_requests_holds_them_within_the_tpot_target() -> None:
    for model, count in (("deepseek-r1", 200), ("deepseek-r1-distill-qwen-32b", 64)):
        rec = evaluate(Workload(model=model, concurrent_requests=count, latency_ms=2000))
        sizing = rec.facts
        held = int(sizing["replicas"]) * rec.estimates.batch_per_replica  # type: ignore[call-overload]
        assert held >= count, (model, held)
        in_flight = float(rec.facts["concurrency"])  # type: ignore[arg-type]
        assert in_flight >= count
        if rec.chosen.meets_targets:
            assert rec.chosen.tpot_ms <= DEFAULT_TPOT_MS_FOR_CONCURRENCY


# --- tpot_ms target ---------------------------------------------------------------------


def test_every_option_meeting_the_targets_meets_the_tpot_target() -> None:
    w = Workload(model="deepseek-r1-distill-qwen-32b", peak_qps=5, latency_ms=1000, tpot_ms=20)
    rec = evaluate(w)
    meeting = [o for o in rec.options if o.meets_targets]
    missing = [o for o in rec.options if o.fits and not o.meets_targets]
    assert meeting and missing  # the target divides the options
    assert all(o.tpot_ms <= 20 and o.ttft_ms <= 1000 for o in meeting)
    assert any(o.tpot_ms > 20 and o.ttft_ms <= 1000 for o in missing)
    assert rec.chosen.meets_targets and rec.estimates.tpot_ms <= 20


def test_a_tighter_tpot_target_never_costs_less() -> None:
    base = Workload(model="deepseek-r1-distill-qwen-32b", peak_qps=5, latency_ms=1000, gpu="h100")
    costs = []
    for target in (200.0, 60.0, 40.0, 30.0, 25.0, 20.0, 15.0):
        rec = evaluate(attrs.evolve(base, tpot_ms=target), options=False)
        assert rec.cost is not None
        costs.append(rec.gpu.count)
    assert costs == sorted(costs) and costs[0] < costs[-1], costs


def test_a_tpot_target_no_placement_meets_is_a_warning_from_its_rule() -> None:
    w = Workload(
        model="deepseek-r1-distill-qwen-32b", peak_qps=5, latency_ms=1000, tpot_ms=5, gpu="a40"
    )
    rec = evaluate(w, options=False)
    unmet = [m for m in rec.warnings if m.rule_id == "tpot-target-unmet"]
    assert len(unmet) == 1 and "5 ms time-per-output-token target" in unmet[0].text
    assert rec.facts["meets_tpot"] is False and rec.facts["option_meets_targets"] is False
    assert "target 5 ms: MISSED" in rec.report().splitlines()[5]
    clear = evaluate(attrs.evolve(w, tpot_ms=None), options=False)
    assert not any(m.rule_id == "tpot-target-unmet" for m in clear.warnings)


# --- a fleet the user has ----------------------------------------------------------------


def test_a_fleet_says_what_fits_and_how_fast_from_the_same_physics_as_estimate() -> None:
    w = Workload(model="deepseek-r1-distill-qwen-32b", gpu="rtx-3090", gpu_count=2)
    found = fleet(w)
    by = {c.precision: c for c in found.capacities}
    assert list(by) == ["bf16", "fp8", "int4"]
    assert not by["bf16"].fits and by["int4"].fits
    single = r1rules.estimate(
        model="deepseek-r1-distill-qwen-32b",
        gpu="rtx-3090",
        gpu_count=2,
        concurrency=1,
        precision="int4",
    )
    assert by["int4"].single_user_tokens_per_s == pytest.approx(1000 / single.tpot_ms)
    # without targets the KV cache is the limit; each precision fits at most what it holds
    assert by["int4"].within_targets == by["int4"].max_concurrency == single.max_concurrency
    assert by["int4"].max_concurrency > by["fp8"].max_concurrency > 0


def test_a_fleet_with_targets_carries_the_most_load_that_meets_them() -> None:
    w = Workload(model="deepseek-r1", gpu="h200", gpu_count=8, latency_ms=2000, tpot_ms=25)
    c = fleet(w).capacities[0]
    assert c.fits and 0 < c.within_targets < c.max_concurrency and c.at_targets is not None
    assert c.at_targets.tpot_ms <= 25 and c.at_targets.ttft_ms <= 2000
    beyond = r1rules.estimate(
        model="deepseek-r1", gpu="h200", gpu_count=8, concurrency=c.within_targets + 1
    )
    assert beyond.tpot_ms > 25 or beyond.ttft_ms > 2000 or beyond.kv_limited
    seconds = (c.at_targets.ttft_ms + (w.output_tokens - 1) * c.at_targets.tpot_ms) / 1000
    assert c.within_targets_qps == pytest.approx(c.within_targets / seconds)


def test_a_fleet_needs_its_gpu_and_evaluate_refuses_one() -> None:
    with pytest.raises(WorkloadError, match=r"^gpu_count: a fleet needs its GPU model too"):
        Workload(model="deepseek-r1", gpu_count=8)
    w = Workload(model="deepseek-r1", gpu="h200", gpu_count=8)
    with pytest.raises(
        WorkloadError, match=r"^gpu_count: 8 x h200 is a fleet .*r1rules\.fleet\(workload\)"
    ):
        evaluate(w)
    with pytest.raises(WorkloadError, match=r"^gpu_count: required for fleet"):
        fleet(Workload(model="deepseek-r1", peak_qps=1, latency_ms=1000))
    with pytest.raises(WorkloadError, match=r"^gpu_count: must be in \[1, 1000000\]"):
        Workload(model="deepseek-r1", gpu="h200", gpu_count=0)


# --- the three user stories, one command each -----------------------------------------------


def test_story_cto_200_concurrent_users_within_400k(capsys: pytest.CaptureFixture[str]) -> None:
    argv = (
        "evaluate --model deepseek-r1 --concurrent-requests 200 --latency-ms 2000 "
        "--budget-usd 400000"
    ).split()
    code, out, err = run(capsys, *argv)
    assert (code, err) == (0, "")
    rec = evaluate(
        Workload(model="deepseek-r1", concurrent_requests=200, latency_ms=2000, budget_usd=4e5)
    )
    lines = out.splitlines()
    assert lines[0].startswith(f"r1rules recommendation: {rec.gpu.count:,} x {rec.gpu.name}")
    assert rec.cost is not None and rec.cost.capital_usd <= 400_000  # the answer fits the budget
    block = "\n".join(lines[:9])
    assert "target 2,000 ms: met" in block and "target 80 ms: met" in block
    assert f"  budget   ${rec.cost.capital_usd:,.0f} of $400,000: met" in block
    tokens = 1000 / rec.estimates.tpot_ms
    assert f"({tokens:,.0f} tokens/s per user)" in block
    little = next(line for line in lines if line.startswith("  peak_qps"))
    assert "from concurrent_requests by Little's law: 200 in flight" in little
    assert next(line for line in lines if line.startswith("  concurrent_requests")).endswith("200")


def test_a_fleet_whose_weights_fit_but_not_one_sequence_says_so(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = "evaluate --model deepseek-r1-distill-qwen-32b --gpu rtx-4090 --gpu-count 1".split()
    code, out, _ = run(capsys, *argv)
    lines = out.splitlines()
    bf16 = next(line for line in lines if line.startswith("  BF16"))
    int4 = next(line for line in lines if line.startswith("  INT4"))
    assert code == 0 and "GB of weights per GPU against" in bf16
    assert "GB of weights per GPU leave" in int4
    assert "too little for the KV cache of one 5,120-token sequence" in int4
    shorter = [*argv, "--output-tokens", "256"]
    code, out, _ = run(capsys, *shorter)
    int4 = next(line for line in out.splitlines() if line.startswith("  INT4"))
    assert code == 0 and int4.startswith("  INT4 (quantized): fits as")


def test_story_hobbyist_two_rtx_3090s(capsys: pytest.CaptureFixture[str]) -> None:
    argv = "evaluate --model deepseek-r1-distill-qwen-32b --gpu rtx-3090 --gpu-count 2".split()
    code, out, err = run(capsys, *argv)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].startswith("r1rules fleet: 2 x NVIDIA GeForce RTX 3090")
    bf16 = next(line for line in lines if line.startswith("  BF16"))
    int4 = next(line for line in lines if line.startswith("  INT4"))
    assert "does NOT fit" in bf16 and " fits as tensor parallel 2 x pipeline 1; " in int4
    single = r1rules.estimate(
        model="deepseek-r1-distill-qwen-32b",
        gpu="rtx-3090",
        gpu_count=2,
        concurrency=1,
        precision="int4",
    )
    assert f"one user gets {1000 / single.tpot_ms:,.0f} tokens/s" in int4
    code, out, err = run(capsys, *argv, "--json")
    data = json.loads(out)
    fits = {c["precision"]: c["fits"] for c in data["capacities"]}
    assert fits["bf16"] is False and fits["int4"] is True
    speed = next(c for c in data["capacities"] if c["precision"] == "int4")
    assert math.isclose(speed["single_user_tokens_per_s"], 1000 / single.tpot_ms)


def test_fleet_mode_refuses_purchase_explanations(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(
        capsys,
        "evaluate",
        "--model",
        "deepseek-r1",
        "--gpu",
        "h200",
        "--gpu-count",
        "8",
        "--sensitivity",
    )
    assert code == 2 and "not with --gpu-count" in err


def test_fleet_reports_whether_it_carries_the_asked_load() -> None:
    w = Workload(model="deepseek-r1", gpu="h200", gpu_count=8, peak_qps=0.5, latency_ms=2000)
    text = fleet(w).report()
    assert "0.5 requests/s asked: carried" in text
    heavy = fleet(attrs.evolve(w, peak_qps=500.0)).report()
    assert "500 requests/s asked: NOT carried" in heavy


def test_a_sweep_takes_the_new_inputs_without_clashing_with_its_results(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    grid = tmp_path / "grid.toml"
    grid.write_text(
        '[workload]\nmodel = "deepseek-r1-distill-qwen-32b"\nlatency_ms = 1000\n'
        "[grid]\nconcurrent_requests = [10, 100]\ntpot_ms = [30, 60]\n",
        encoding="utf-8",
    )
    out = tmp_path / "plan.csv"
    code, _, err = run(capsys, "sweep", str(grid), "-o", str(out))
    assert code == 0, err
    with out.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["concurrent_requests"], r["tpot_target_ms"]) for r in rows] == [
        ("10", "30"),
        ("10", "60"),
        ("100", "30"),
        ("100", "60"),
    ]
    for row in rows:  # the estimate keeps its own column, and meets the target it was given
        w = Workload(
            model="deepseek-r1-distill-qwen-32b",
            latency_ms=1000,
            concurrent_requests=float(row["concurrent_requests"]),
            tpot_ms=float(row["tpot_target_ms"]),
        )
        assert float(row["tpot_ms"]) == pytest.approx(evaluate(w).estimates.tpot_ms)
    grid.write_text(
        '[workload]\nmodel = "deepseek-r1"\ngpu = "h200"\n[grid]\ngpu_count = [8, 16]\n',
        encoding="utf-8",
    )
    code, _, err = run(capsys, "sweep", str(grid), "-o", str(out))
    assert code == 2 and "gpu_count describes a fleet you have" in err


@pytest.mark.parametrize(
    ("targets", "rule"),
    [
        ({"latency_ms": 0.5}, "latency-target-below-a-millisecond"),
        ({"latency_ms": 2000, "tpot_ms": 0.05}, "tpot-target-below-a-millisecond"),
    ],
)
def test_a_target_under_a_millisecond_is_named_a_slip_of_units(
    targets: dict[str, float], rule: str
) -> None:
    # the smallest model with one-token prompts and answers: the fastest any option can be
    tiny = dict(model="deepseek-r1-distill-qwen-1.5b", peak_qps=0.01, prompt_tokens=1)
    for engine in ("llama.cpp", "vllm"):
        rec = r1rules.evaluate(
            r1rules.Workload(**tiny, output_tokens=1, engine=engine, **targets)  # type: ignore[arg-type]
        )
        assert [w.rule_id for w in rec.warnings if w.rule_id == rule] == [rule]
        assert not any(o.meets_targets for o in rec.options)  # as the warning says
    slower = {key: value * 2000 for key, value in targets.items()}
    rec = r1rules.evaluate(r1rules.Workload(**tiny, **slower))  # type: ignore[arg-type]
    assert not any(w.rule_id.endswith("below-a-millisecond") for w in rec.warnings)
