"""The measurement dataset behind ``benchmarks/accuracy.py``: schema, sources, catalog ids,
coverage, and a train/held-out split in which every metric family and vendor is scored."""

from __future__ import annotations

import datetime
import importlib.util
import math
import re
import statistics
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import attrs
import pytest
import tomli

from r1rules import CatalogError, default_catalog

ROOT = Path(__file__).resolve().parents[1]
MEASUREMENTS = ROOT / "benchmarks" / "measurements.toml"
ROWS: list[dict[str, Any]] = tomli.loads(MEASUREMENTS.read_text(encoding="utf-8"))["measurement"]
IDS = [row["id"] for row in ROWS]

METRICS = {
    "ttft_ms": "ttft",
    "prefill_tokens_per_s": "ttft",
    "tpot_ms": "tpot",
    "tokens_per_s_per_user": "tpot",
    "output_tokens_per_s": "throughput",
    "output_tokens_per_s_per_gpu": "throughput",
}
WEIGHTS = {"fp32", "bf16", "fp16", "fp8", "int8", "int4", "fp4"}
KV = {"fp32", "bf16", "fp16", "fp8", "int8", "int4", "unknown"}
ENGINES = {"vllm", "sglang", "trtllm", "llama.cpp", "other"}
# GPU ids the header allows that the catalog does not hold, each with the reason.
UNSUPPORTED_GPUS = {
    "h800": "export H100 SXM with cut NVLink (400 GB/s, unverified): reference only, "
    "shared/reference/gpus.toml [reference.h800-sxm]",
    "h20": "export Hopper part: not in the reference",
    "mi355x": "CDNA4: not in the reference",
}

REQUIRED: dict[str, type | tuple[type, ...]] = {
    "id": str,
    "model": str,
    "measured_model": str,
    "weights_precision": str,
    "kv_precision": str,
    "gpu": str,
    "gpu_count": int,
    "engine": str,
    "engine_version": str,
    "tensor_parallel": int,
    "pipeline_parallel": int,
    "expert_parallel": int,
    "data_parallel_attention": bool,
    "speculative": str,
    "metric": str,
    "value": float,
    "source": str,
    "date": str,
    "quote": str,
    "read_from_chart": bool,
    "notes": str,
}
OPTIONAL: dict[str, type | tuple[type, ...]] = {
    "concurrency": int,
    "request_rate_qps": (int, float),
    "requests": int,
    "input_tokens": int,
    "output_tokens": int,
    "length_range_ratio": float,
    "memory_fraction": float,
    "admission_wait_steps": int,
    "unstated": str,
    "statistic": str,
    "scheduler": str,
    "prefill_budget_tokens": int,
    "generated_tokens": int,
}


def test_there_are_enough_cases_with_unique_lower_case_ids() -> None:
    assert len(ROWS) >= 60
    assert len(set(IDS)) == len(IDS), [i for i, n in Counter(IDS).items() if n > 1]
    assert all(re.fullmatch(r"[a-z0-9][a-z0-9.\-]*", i) for i in IDS)


@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_every_case_follows_the_schema(row: dict[str, Any]) -> None:
    for key, kind in REQUIRED.items():
        assert key in row, key
        assert isinstance(row[key], kind) and not (kind is int and isinstance(row[key], bool)), key
    assert set(row) <= set(REQUIRED) | set(OPTIONAL), set(row) - set(REQUIRED) - set(OPTIONAL)
    for key, kind in OPTIONAL.items():
        if key in row:
            assert isinstance(row[key], kind) and not isinstance(row[key], bool), key
            assert row[key].strip() if isinstance(row[key], str) else row[key] > 0, key
    assert row.get("length_range_ratio", 1.0) <= 1.0 and row.get("memory_fraction", 1.0) <= 1.0
    assert row["metric"] in METRICS
    assert row.get("statistic", "median") in ("median", "p99")  # stated only when not the mean
    if row.get("statistic") == "p99":  # a percentile needs every request's TTFT: simulated
        assert row.get("scheduler") == "mixed" and row["metric"] == "ttft_ms"
    assert row.get("scheduler", "mixed") == "mixed"  # stated only for a mixing scheduler
    if "generated_tokens" in row:  # requests that stop early: at most each one's cap
        assert row["generated_tokens"] <= row["requests"] * row["output_tokens"]
    if "scheduler" in row:  # simulated step by step: its budget and run length are needed
        assert "prefill_budget_tokens" in row and "requests" in row and "concurrency" in row
    assert row["weights_precision"] in WEIGHTS
    assert row["kv_precision"] in KV
    assert row["engine"] in ENGINES
    assert re.fullmatch(r"none|unknown|mtp-\d+", row["speculative"])
    assert math.isfinite(row["value"]) and row["value"] > 0
    for key in ("gpu_count", "tensor_parallel", "pipeline_parallel", "expert_parallel"):
        assert row[key] >= 1, key
    assert row["tensor_parallel"] * row["pipeline_parallel"] <= row["gpu_count"]
    assert not ("concurrency" in row and "request_rate_qps" in row)
    # YYYY-MM; YYYY alone where the source states no month (7 cases; the header says YYYY-MM)
    assert re.fullmatch(r"\d{4}(-\d{2})?", row["date"])
    year, month = int(row["date"][:4]), int(row["date"][5:] or 1)
    assert datetime.date(2020, 1, 1) <= datetime.date(year, month, 1) <= datetime.date.today()


@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_every_case_has_its_source_and_a_quote_holding_the_number(row: dict[str, Any]) -> None:
    """The header: every number is copied from the cited source, whose text ``quote`` holds."""
    assert re.fullmatch(r"https?://\S+\.\S+", row["source"])
    assert row["quote"].strip() and row["notes"].strip()
    value = row["value"]
    shown = {repr(value), f"{value:g}", *(f"{value:.{n}f}" for n in range(8))}
    if value == int(value):
        shown.add(str(int(value)))
    if value >= 1000:
        shown.add(f"{value / 1000:g}k")  # "~73.7k tokens/s"
    if "converted to ms" in row["notes"]:  # a source in seconds: "0.16463" for 164.63 ms
        shown |= {f"{value / 1000:g}", f"{value / 1000:.5f}"}
    number = r"\d+(?:\.\d+)?k?"
    quote = row["quote"]
    grouped = re.sub(r"(?<=\d),(?=\d{3}\b)", "", quote)  # "22,282" -> "22282"
    found = set(re.findall(number, quote)) | set(re.findall(number, grouped))
    plain = {q for q in found if not q.endswith("k")}
    if "converted to ms" in row["notes"]:  # an API's seconds in full: 0.013820446557735313
        shown |= {q for q in plain if round(float(q) * 1000, 2) == value}
    if "2 decimals" in row["notes"]:  # an API's figure in full: 148.14160811497888
        shown |= {q for q in plain if round(float(q), 2) == value}
    assert shown & found


@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_every_model_and_gpu_resolves_or_is_marked_unsupported(row: dict[str, Any]) -> None:
    catalog = default_catalog()
    catalog.model(row["model"])  # every model is a catalog id
    try:
        catalog.gpu(row["gpu"])
    except CatalogError:
        assert row["gpu"] in UNSUPPORTED_GPUS, row["gpu"]


def test_the_cases_cover_every_metric_family_vendor_and_engine() -> None:
    catalog = default_catalog()
    vendors = Counter(
        catalog.gpu(row["gpu"]).vendor for row in ROWS if row["gpu"] not in UNSUPPORTED_GPUS
    )
    assert vendors["NVIDIA"] >= 20 and vendors["AMD"] >= 10
    families = Counter(METRICS[row["metric"]] for row in ROWS)
    assert min(families[f] for f in ("ttft", "tpot", "throughput")) >= 15
    assert set(Counter(row["engine"] for row in ROWS)) == ENGINES


def _benchmark() -> ModuleType:
    spec = importlib.util.spec_from_file_location("accuracy", ROOT / "benchmarks" / "accuracy.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_split_scores_every_family_and_vendor_on_both_sides() -> None:
    """The benchmark's deterministic split (stratified by metric family and vendor) leaves
    evaluated cases of each family and each vendor in train and in held-out, ~60/40."""
    accuracy = _benchmark()
    catalog = default_catalog()
    cases = accuracy.load(catalog)
    assert [c.id for c in cases] == IDS
    assert [c.split for c in accuracy.load(catalog)] == [c.split for c in cases]  # stable
    live, skipped = accuracy.evaluated(cases, catalog)
    assert len(live) + len(skipped) == len(cases) and all(skipped.values())
    for split in ("train", "held-out"):
        scored = [c for c in live if c.split == split]
        assert {c.family for c in scored} == {"ttft", "tpot", "throughput"}, split
        assert {c.vendor for c in scored} == {"NVIDIA", "AMD"}, split
    train = sum(c.split == "train" for c in cases)
    assert 0.55 <= train / len(cases) <= 0.65


def _linear(k: int) -> float:
    return 50.0 * k  # each prompt its own prefill time: one fills the replica


def test_steady_state_of_one_user_is_its_prefill_and_its_decode_step() -> None:
    accuracy = _benchmark()
    ttft, tpot, rate = accuracy.steady_state(1, 100, _linear, lambda b: 10.0 + b)
    assert (ttft, tpot) == pytest.approx((50.0, 11.0))  # nobody else's prefill or step to wait
    assert rate == pytest.approx(1 / (50.0 + 100 * 11.0))
    # a scheduler taking in requests every 9 steps: a lone user's prompt finds it idle (its
    # loop turns without a forward pass), so it waits for none of them; two users' do
    alone = accuracy.steady_state(1, 100, _linear, lambda b: 10.0 + b, 9)
    assert alone == pytest.approx((ttft, tpot, rate))
    eager = accuracy.steady_state(2, 100, _linear, lambda b: 10.0 + b)
    waiting = accuracy.steady_state(2, 100, _linear, lambda b: 10.0 + b, 9)
    assert waiting[0] - eager[0] == pytest.approx(4 * waiting[1], rel=0.1)  # half of 8 steps


def test_waiting_to_admit_prompts_batches_them() -> None:
    """A scheduler that takes in new requests every N steps prefills those that came
    meanwhile together: where a prompt fills one attention group of 8 (data-parallel
    attention), 8 cost what one does and the others' prefills stall decoding less; where
    one prompt fills the replica, a batch costs its prompts' sum and only the wait grows."""
    accuracy = _benchmark()

    def step(b: int) -> float:
        return 20.0 + 0.2 * b

    def groups(k: int) -> float:
        return 300.0 * math.ceil(k / 8)

    eager = accuracy.steady_state(64, 1000, groups, step)
    waiting = accuracy.steady_state(64, 1000, groups, step, 60)
    assert waiting[1] < 0.95 * eager[1]  # TPOT: one stall serves several prompts
    for ttft, tpot, rate in (eager, waiting):
        assert 64 == pytest.approx(rate * (ttft + 1000 * tpot), rel=0.02)
    plain = accuracy.steady_state(64, 1000, _linear, step)
    held = accuracy.steady_state(64, 1000, _linear, step, 60)
    assert held[1] == pytest.approx(plain[1], rel=0.02)  # no cheaper per prompt
    assert held[0] > plain[0] + 29 * plain[1]  # the wait, and its batch's prefill


def _forty(k: int) -> float:
    return 40.0 * k


def test_steady_state_obeys_littles_law_and_slows_with_more_users() -> None:
    accuracy = _benchmark()

    def step(b: int) -> float:
        return 10.0 + 0.5 * b

    found = [accuracy.steady_state(users, 200, _forty, step) for users in (2, 8, 32, 128)]
    for users, (ttft, tpot, rate) in zip((2, 8, 32, 128), found, strict=True):
        assert users == pytest.approx(rate * (ttft + 200 * tpot), rel=0.02)
        assert ttft > 40.0 and tpot > step(1)
    assert [f[0] for f in found] == sorted(f[0] for f in found)  # TTFT grows with load
    assert [f[1] for f in found] == sorted(f[1] for f in found)  # and so does TPOT


def test_a_length_range_uses_the_mean_length() -> None:
    accuracy = _benchmark()
    assert accuracy.lengths({"input_tokens": 1024, "output_tokens": 1024}) == (1024, 1024)
    ranged = {"input_tokens": 8192, "output_tokens": 1024, "length_range_ratio": 0.8}
    assert accuracy.lengths(ranged) == (7373, 922)
    assert accuracy.lengths({}) == (1, 1)


def test_a_case_of_an_older_engine_release_is_not_scored_against_the_profile() -> None:
    accuracy = _benchmark()
    catalog = default_catalog()
    by_id = {c.id: c for c in accuracy.load(catalog)}
    old = by_id["dstack-sglang-r1-8xh200-c4-3200-800-tpot"]  # SGLang 0.4.3, profile since 0.5
    new = by_id["inferencex-sglang-r10528-fp8-8xb200-c1-1k1k-tpot"]  # SGLang 0.5.12
    assert accuracy.older_release(old, catalog).startswith(accuracy.OLDER)
    assert "since 0.5" in accuracy.older_release(old, catalog)
    assert accuracy.older_release(new, catalog) is None
    unknown = by_id["dbmart-vllm-llama31-8b-fp16-1xa40-c50-output-tput"]  # version unknown
    assert accuracy.older_release(unknown, catalog) is None


def test_a_case_stating_its_launch_settings_is_predicted_with_them() -> None:
    """R1 FP8 on 4 x B200 does not fit SGLang's default budget (81% of the device) but does
    at the launch's --mem-fraction-static 0.95; a scheduler that takes in new requests every
    N iterations adds half of N - 1 decode steps to the TTFT."""
    accuracy = _benchmark()
    catalog = default_catalog()
    by_id = {c.id: c for c in accuracy.load(catalog)}
    tight = by_id["inferencex-sglang-r10528-fp8-4xb200-c1-8k1k-tpot"]
    assert tight.m["memory_fraction"] == 0.95
    assert math.isfinite(accuracy.predict(tight, catalog))
    default = {k: v for k, v in tight.m.items() if k != "memory_fraction"}
    assert accuracy.predict(attrs.evolve(tight, m=default), catalog) == math.inf
    waiting = by_id["inferencex-sglang-r10528-fp8-8xb200-c32-1k1k-ttft"]
    assert waiting.m["admission_wait_steps"] == 30
    tpot = accuracy.predict(by_id["inferencex-sglang-r10528-fp8-8xb200-c32-1k1k-tpot"], catalog)
    eager = {**waiting.m, "admission_wait_steps": 1}
    at_once = accuracy.predict(attrs.evolve(waiting, m=eager), catalog)
    extra = accuracy.predict(waiting, catalog) - at_once
    later = 1 - waiting.m["concurrency"] / waiting.m["requests"]  # the first wave waits not
    # the wait, and the prefill of the prompts that came meanwhile (batched with its own:
    # fewer than a TTFT's worth at 32 users)
    assert later * 29 / 2 * tpot < extra < later * 29 / 2 * tpot + at_once


def test_the_first_wave_of_a_run_queues_for_its_prefills() -> None:
    """A client that starts C of its requests at once: alone (requests = C) they are one
    wave, prefilled first come, first served (the mean of the prefills of 1..C prompts);
    among ever more requests their share fades to the steady state's TTFT."""
    accuracy = _benchmark()
    catalog = default_catalog()
    case = {c.id: c for c in accuracy.load(catalog)}[
        "inferencex-sglang-r10528-fp8-8xh200-c64-1k1k-ttft"
    ]
    users = case.m["concurrency"]
    assert case.m["requests"] == 10 * users
    gpu = catalog.gpu(case.m["gpu"])
    engine = catalog.engine(case.m["engine"])
    prompt, _ = accuracy.lengths(case.m)
    model = catalog.model(case.m["model"])
    layout = accuracy.Layout(case.m["tensor_parallel"], 1, 1, False)
    wave = statistics.fmean(
        accuracy._ep.layout_prefill_ms(model, "fp8", gpu, layout, prompt, k, engine)
        for k in range(1, users + 1)
    )
    alone = accuracy.predict(attrs.evolve(case, m={**case.m, "requests": users}), catalog)
    assert alone == pytest.approx(wave + engine.profile(gpu).request_ms)
    steady = {k: v for k, v in case.m.items() if k != "requests"}
    found = [
        accuracy.predict(attrs.evolve(case, m={**case.m, "requests": n}), catalog)
        for n in (users, 10 * users, 1000 * users)
    ]
    assert found == sorted(found, reverse=True)  # the wave's prefills outlast steady waits
    assert found[-1] == pytest.approx(
        accuracy.predict(attrs.evolve(case, m=steady), catalog), rel=0.01
    )


def test_a_case_leaving_a_condition_unstated_is_shown_but_not_scored() -> None:
    """``unstated`` (which engine ran, the layout, what a throughput counts) skips the case
    with that reason; the benchmark still predicts it and prints its error."""
    accuracy = _benchmark()
    catalog = default_catalog()
    cases = accuracy.load(catalog)
    open_ = [c for c in cases if "unstated" in c.m]
    assert open_, "no case states what its source leaves open"
    live, skipped = accuracy.evaluated(cases, catalog)
    for case in open_:
        assert skipped[case.id] == f"{accuracy.UNSTATED}: {case.m['unstated']}"
        assert math.isfinite(accuracy.predict(case, catalog))
    stated = next(c for c in live if c.m["engine"] == "other")
    assert accuracy.skip_reason(stated, catalog) is None
    with_doubt = attrs.evolve(stated, m={**stated.m, "unstated": "the layout"})
    assert accuracy.skip_reason(with_doubt, catalog) == f"{accuracy.UNSTATED}: the layout"


def test_drifting_requests_are_judged_at_their_mean_kv_occupancy() -> None:
    """Requests of random lengths drift apart: each holds its prompt and on average half its
    output. 64 users of 8k/1k on 8 x H200 (SGLang, 82% of memory) overflow the cache at whole
    sequences but fit at that mean, so they are predicted; the same run at fixed lengths
    (lock-step requests that all reach their whole sequence) is skipped for the cache."""
    accuracy = _benchmark()
    catalog = default_catalog()
    case = {c.id: c for c in accuracy.load(catalog)}[
        "inferencex-sglang-r10528-fp8-8xh200-c64-8k1k-tpot"
    ]
    assert case.m["length_range_ratio"] < 1.0
    prompt, output = accuracy.lengths(case.m)
    whole = accuracy.estimate_deployment(
        catalog.model(case.m["model"]),
        "fp8",
        catalog.gpu(case.m["gpu"]),
        8,
        case.m["concurrency"],
        prompt,
        output,
        accuracy.default_kv(case, catalog.engine("sglang")),
        8,
        1,
        engine=attrs.evolve(catalog.engine("sglang"), memory_fraction=case.m["memory_fraction"]),
    )
    assert whole.kv_limited  # whole sequences do not fit
    assert accuracy.skip_reason(case, catalog) is None
    assert math.isfinite(accuracy.predict(case, catalog))
    fixed = attrs.evolve(case, m={**case.m, "length_range_ratio": 1.0})
    with pytest.raises(accuracy.Skip, match="the KV cache holds"):
        accuracy.predict(fixed, catalog)


def test_a_median_ttft_is_a_steady_state_requests_not_the_first_waves() -> None:
    """InferenceX's API rows give the median TTFT (its mean is set by a few stalled
    requests): the first wave the mean weighs in is a tenth of the run, so the median is
    predicted as the steady state alone, the same as a run of endless requests."""
    accuracy = _benchmark()
    catalog = default_catalog()
    case = {c.id: c for c in accuracy.load(catalog)}[
        "inferencex-trtllm-r10528-fp8-8xh200-ep8-c64-1k1k-ttft"
    ]
    assert case.m["statistic"] == "median" and case.m["requests"] == 10 * case.m["concurrency"]
    mean = {k: v for k, v in case.m.items() if k != "statistic"}
    endless = {k: v for k, v in mean.items() if k != "requests"}
    median = accuracy.predict(case, catalog)
    assert median == accuracy.predict(attrs.evolve(case, m=endless), catalog)
    assert accuracy.predict(attrs.evolve(case, m=mean), catalog) > median  # the wave weighs in


def test_a_percentile_is_numpys_linear_one_between_the_nearest_ranks() -> None:
    """vLLM's benchmark reports numpy.percentile (linear): the 99th of 1..50 lies 0.51 of
    the way from 49 to 50; a single value is its own percentile; an unknown one is an
    error naming the allowed ones."""
    accuracy = _benchmark()
    values = [float(v) for v in range(50, 0, -1)]
    assert accuracy.percentile(values, "p99") == pytest.approx(49.51)
    assert accuracy.percentile(values, "median") == 25.5
    assert accuracy.percentile(values, "mean") == 25.5
    assert accuracy.percentile([7.0], "p99") == 7.0
    with pytest.raises(ValueError, match="mean, median or p99"):
        accuracy.percentile(values, "p90")


def test_a_burst_in_budget_sized_steps_has_a_p99_of_its_last_step() -> None:
    """Fifty prompts of 100 tokens sent at once to a scheduler of 2,048 tokens a step (vLLM
    V1 on a GPU under 70 GiB): 20 prompts in the first step, 20 beside 20 decodes in the
    second, the last 10 in the third; the median request is in the second step and the
    99th percentile in the third. One step of 8,192 tokens gives every prompt one TTFT."""
    accuracy = _benchmark()
    steps = _steps(lambda k: 10.0 * k, lambda b: 5.0 + 0.1 * b)
    ttfts, _, _ = accuracy.mixed_closed_loop(50, 50, 100, 600, 2048, steps)
    first = 10.0 * 2048 / 100  # 20.48 prompts' worth: 20 finish, the 21st is begun
    second = first + (5.0 + 0.1 * 20) + 10.0 * (2048 - 20) / 100
    assert accuracy.percentile(ttfts, "median") == pytest.approx(second)
    assert accuracy.percentile(ttfts, "p99") > second
    one = accuracy.mixed_closed_loop(50, 50, 100, 600, 8192, steps)[0]
    assert accuracy.percentile(one, "p99") == accuracy.percentile(one, "median") == 500.0


def test_a_run_that_stops_early_is_priced_by_its_longest_request_whatever_its_scheduler() -> None:
    """Database Mart's A40 runs: their requests stop at their end of sequence, and the
    throughput is the tokens generated over the longest request's time, the same with the
    mixing scheduler stated as without; a TTFT of the same run is simulated step by step,
    and a 99th percentile is only simulated."""
    accuracy = _benchmark()
    catalog = default_catalog()
    cases = {c.id: c for c in accuracy.load(catalog)}
    tput = cases["dbmart-vllm-r1-distill-qwen-14b-fp16-1xa40-c50-output-tput"]
    assert tput.m["scheduler"] == "mixed" and "generated_tokens" in tput.m
    plain = {k: v for k, v in tput.m.items() if k not in ("scheduler", "prefill_budget_tokens")}
    assert accuracy.predict(tput, catalog) == accuracy.predict(attrs.evolve(tput, m=plain), catalog)
    p99 = cases["dbmart-vllm-r1-distill-qwen-14b-fp16-1xa40-c50-ttft-p99"]
    median = cases["dbmart-vllm-r1-distill-qwen-14b-fp16-1xa40-c50-ttft"]
    assert accuracy.predict(p99, catalog) > accuracy.predict(median, catalog)
    waves = {k: v for k, v in p99.m.items() if k not in ("scheduler", "prefill_budget_tokens")}
    with pytest.raises(accuracy.Skip, match="99th percentile"):
        accuracy.predict(attrs.evolve(p99, m=waves), catalog)


def _steps(prefill: Callable[[int], float], decode: Callable[[int], float]) -> Any:
    return _benchmark().Steps(prefill, decode)


def test_a_mixed_run_of_one_user_is_its_prefill_and_its_decode_steps() -> None:
    """One client: every request is prefilled in budget-sized chunks on an idle replica,
    then decodes alone; the client sends the next as soon as one ends."""
    accuracy = _benchmark()
    steps = _steps(_linear, lambda b: 10.0 + b)
    ttfts, tpot, rate = accuracy.mixed_closed_loop(1, 5, 1000, 100, 4096, steps)
    assert ttfts == pytest.approx([50.0] * 5) and tpot == pytest.approx(11.0)
    assert rate == pytest.approx(100 / (50.0 + 99 * 11.0))
    # a budget of a quarter prompt: four steps, each a quarter of the prefill
    ttfts, tpot, rate = accuracy.mixed_closed_loop(1, 5, 1000, 100, 250, steps)
    assert ttfts == pytest.approx([50.0] * 5) and tpot == pytest.approx(11.0)


def test_a_mixed_run_serves_prompts_first_come_first_served() -> None:
    """Three prompts sent together, a budget of one prompt and the step's decodes: each
    step prefills the oldest queued prompt, so they start in the order they were sent."""
    accuracy = _benchmark()
    steps = _steps(_linear, lambda b: 10.0 + b)
    ttfts, _, _ = accuracy.mixed_closed_loop(3, 3, 1000, 100, 1003, steps)
    assert ttfts[0] == pytest.approx(50.0 * 1.003)  # its step takes 3 tokens of the next
    assert ttfts == sorted(ttfts) and len(set(ttfts)) == 3
    # the budget counts the running decodes: one decoding leaves 999 of 1000 for a prompt,
    # so the second prompt needs a third step for its last token
    ttfts, _, _ = accuracy.mixed_closed_loop(2, 2, 1000, 100, 1000, steps)
    assert ttfts[1] == pytest.approx(50.0 + (11.0 + 49.95) + (11.0 + 0.05))
    with pytest.raises(ValueError, match="prefill_budget_tokens"):
        accuracy.mixed_closed_loop(3, 3, 1000, 100, 0, steps)


def test_a_mixed_run_brings_fixed_length_requests_back_in_budget_sized_groups() -> None:
    """A scheduler that mixes prefill chunks into decode steps prefills the first wave a
    budget's worth of prompts per long step; each such group starts decoding together and
    finishes together, and its clients' next prompts come back together, while the engine
    has already begun its next step: a later request waits for that step and for the one
    that prefills its group. With a budget of one prompt the steps are short."""
    accuracy = _benchmark()
    users, prompt, output = 128, 3200, 800

    def prefill(k: int) -> float:
        return 200.0 * k

    def decode(b: int) -> float:
        return 40.0 + 0.1 * b

    steps = _steps(prefill, decode)
    ttfts, tpot, rate = accuracy.mixed_closed_loop(users, 4 * users, prompt, output, 32768, steps)
    later = statistics.median(ttfts[users:])  # the waves after the first
    assert 2 * prefill(10) < later < 2 * (prefill(11) + decode(users))  # two long steps
    assert statistics.fmean(ttfts[:users]) > 0.4 * prefill(users)  # the first wave queues
    cycle = statistics.fmean(ttfts) + output * tpot  # Little's law
    assert users == pytest.approx(rate / output * cycle, rel=0.1)
    one, _, _ = accuracy.mixed_closed_loop(users, 4 * users, prompt, output, prompt, steps)
    assert statistics.median(one[users:]) < later / 4


def test_a_mixed_run_admits_no_more_requests_than_the_kv_cache_holds() -> None:
    """A burst larger than the KV cache: the first ``capacity`` requests are admitted,
    first come first served, and each later one only when a step begins with room. With
    room for one request at a time the run is the one-client run, back to back."""
    accuracy = _benchmark()
    steps = _steps(_linear, lambda b: 10.0 + b)
    ttfts, tpot, rate = accuracy.mixed_closed_loop(5, 5, 1000, 100, 4096, steps, 1)
    cycle = 50.0 + 99 * 11.0  # its prefill alone, then 99 decodes alone
    # each waits for those before it, and for the step under way as it is admitted
    assert ttfts == pytest.approx([50.0 + k * cycle for k in range(5)])
    assert tpot == pytest.approx(11.0) and rate == pytest.approx(500 / (5 * cycle))
    # a cache for every request changes nothing; for fewer, the last ones wait longer (a
    # budget of four prompts: the first four are prefilled in the first step either way)
    free, _, _ = accuracy.mixed_closed_loop(8, 8, 1000, 100, 4000, steps)
    assert accuracy.mixed_closed_loop(8, 8, 1000, 100, 4000, steps, 8)[0] == free
    held, _, _ = accuracy.mixed_closed_loop(8, 8, 1000, 100, 4000, steps, 4)
    assert held[:4] == pytest.approx(free[:4]) and min(held[4:]) > max(free)
    with pytest.raises(ValueError, match="at least one request"):
        accuracy.mixed_closed_loop(5, 5, 1000, 100, 4096, steps, 0)


def test_a_burst_beyond_the_kv_cache_is_simulated_not_skipped() -> None:
    """GPUStack's 500 prompts sent at once to vLLM 0.11 on 8 x H200: more than the KV
    cache holds, so the rest queue in the simulation; halving the requests shortens the
    mean TTFT, and the throughput is the same whichever share of the run is queued."""
    accuracy = _benchmark()
    catalog = default_catalog()
    cases = {c.id: c for c in accuracy.load(catalog)}
    case = cases["gpustack-vllm011-r10528-8xh200-burst500-2000-100-ttft"]
    burst = accuracy.predict(case, catalog)
    half = attrs.evolve(case, m=case.m | {"concurrency": 250, "requests": 250})
    assert accuracy.predict(half, catalog) < 0.7 * burst
    tput = cases["gpustack-vllm011-r10528-8xh200-burst500-2000-100-output-tput"]
    halved = attrs.evolve(tput, m=tput.m | {"concurrency": 250, "requests": 250})
    assert accuracy.predict(halved, catalog) == pytest.approx(
        accuracy.predict(tput, catalog), rel=0.1
    )


def test_a_run_whose_requests_stop_early_lasts_until_its_longest_one() -> None:
    """Requests sent at once that stop at their end of sequence: the run lasts the prefill
    and the longest request's decode steps, each step as long as the batch still running
    makes it; with a step linear in the batch that needs only the total tokens, however
    the lengths are spread (checked here against every step of three spreads)."""
    accuracy = _benchmark()

    def decode(b: int) -> float:
        return 10.0 + 0.5 * b

    steps = _steps(lambda k: 5.0 * k, decode)
    for outputs in ([600] * 50, [600] + [100] * 49, list(range(12, 601, 12))):
        generated = sum(outputs)
        m = {"requests": 50, "output_tokens": 600, "generated_tokens": generated}
        running = [sum(n > s for n in outputs) for s in range(1, 600)]
        duration = 5.0 * 50 + sum(decode(b) for b in running)
        expected = generated * 1000.0 / duration
        assert accuracy.stopped_early(m, 1, steps) == pytest.approx(expected)
    # two replicas: each serves half the requests and half the tokens, one of them the
    # longest, at the same time (25 prompts' prefill; 599 steps of 10 ms + 0.5 ms a token)
    m = {"requests": 50, "output_tokens": 600, "generated_tokens": 20000}
    duration = 5.0 * 25 + 599 * 10.0 + 0.5 * (10000 - 25)
    assert accuracy.stopped_early(m, 2, steps) == pytest.approx(20000 * 1000.0 / duration)


def test_database_marts_runs_are_scored_at_the_tokens_they_generated() -> None:
    """Database Mart's A40 runs let requests stop early (17,321 of 30,000 tokens for the
    14B distill): its throughput is the generated tokens over the longest request's run."""
    accuracy = _benchmark()
    catalog = default_catalog()
    cases = {c.id: c for c in accuracy.load(catalog)}
    case = cases["dbmart-vllm-r1-distill-qwen-14b-fp16-1xa40-c50-output-tput"]
    assert case.m["generated_tokens"] == 17321 and case.m["requests"] == 50
    early = accuracy.predict(case, catalog)
    full = {k: v for k, v in case.m.items() if k != "generated_tokens"}
    assert early < 0.7 * accuracy.predict(attrs.evolve(case, m=full), catalog)
    capped = case.m | {"generated_tokens": 30000}
    assert accuracy.predict(attrs.evolve(case, m=capped), catalog) > 1.5 * early


def test_a_mixing_scheduler_is_predicted_step_by_step() -> None:
    """vLLM's V1 engine (``scheduler = "mixed"``) is predicted by ``mixed_closed_loop`` at
    the run's stated budget: its median TTFT is a later wave's typical wait, and a larger
    budget prefills more prompts per long step, so they lie closer and wait longer."""
    accuracy = _benchmark()
    catalog = default_catalog()
    cases = {c.id: c for c in accuracy.load(catalog)}
    case = cases["vllm-recipes-rocm-r1-8xmi300x-c128-3200-800-ttft"]
    assert case.m["scheduler"] == "mixed" and case.m["prefill_budget_tokens"] == 32768
    median = accuracy.predict(case, catalog)
    mean = accuracy.predict(
        attrs.evolve(case, m={k: v for k, v in case.m.items() if k != "statistic"}), catalog
    )
    assert mean > median
    small = attrs.evolve(case, m=case.m | {"prefill_budget_tokens": 8192})
    assert accuracy.predict(small, catalog) < 0.5 * median
    lockstep = {k: v for k, v in case.m.items() if k != "scheduler"}
    assert accuracy.predict(attrs.evolve(case, m=lockstep), catalog) != median
    tput = cases["vllm-recipes-rocm-r1-8xmi300x-c128-3200-800-output-tput"]
    # twice the GPUs, users and requests: two replicas, each running the same run
    half = attrs.evolve(tput, m=tput.m | {"concurrency": 64, "requests": 250})
    double = attrs.evolve(tput, m=tput.m | {"gpu_count": 16})
    assert accuracy.predict(double, catalog) == pytest.approx(2 * accuracy.predict(half, catalog))
    tpot = cases["vllm-recipes-rocm-r1-8xmi300x-c128-3200-800-tpot"]
    per_gpu = attrs.evolve(tput, m=tput.m | {"metric": "output_tokens_per_s_per_gpu"})
    assert accuracy.predict(per_gpu, catalog) == pytest.approx(accuracy.predict(tput, catalog) / 8)
    # a request's decode is part of its cycle: TPOT < users / throughput (Little's law)
    assert accuracy.predict(tpot, catalog) < 1000.0 * 128 / accuracy.predict(tput, catalog)
