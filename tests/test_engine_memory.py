"""Each engine's memory budget: a fraction of the device (vLLM, SGLang) or of the memory
free once the weights are loaded (TensorRT-LLM, llama.cpp), read from the catalog."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from r1rules import CatalogError, load_catalog
from r1rules.catalog import MEMORY_BUDGETS, default_catalog
from r1rules.physics import estimate_in, usable_gb_per_gpu
from r1rules.physics._memory import GB, GIB, runtime_overhead_gb

CATALOG = default_catalog()
R1 = CATALOG.model("deepseek-r1")
H200 = CATALOG.gpu("h200")


def test_every_engine_states_a_sourced_memory_budget() -> None:
    budgets = {e.id: (e.memory_fraction, e.memory_budget) for e in CATALOG.engines.values()}
    assert budgets == {
        "vllm": (0.9, "device"),
        "sglang": (0.81, "device"),
        "trtllm": (0.9, "free"),
        "llama.cpp": (1.0, "free"),
    }
    for engine in CATALOG.engines.values():
        assert engine.sources["memory_fraction"] and engine.sources["memory_budget"]
        assert engine.memory_budget in MEMORY_BUDGETS


def test_usable_memory_by_budget_against_hand_computed_figures() -> None:
    device = 141 * GIB / GB  # the H200's "141 GB" is GiB
    overhead = runtime_overhead_gb(R1, 8)
    assert usable_gb_per_gpu(H200, R1, 8, 0.81, "device") == pytest.approx(0.81 * device - overhead)
    # "free": the weights, then 90 % of what is left once they and the runtime are loaded
    assert usable_gb_per_gpu(H200, R1, 8, 0.9, "free", 84.0) == pytest.approx(
        84.0 + 0.9 * (device - overhead - 84.0)
    )
    # weights beyond the device: nothing is free, and less than the weights is usable
    assert usable_gb_per_gpu(H200, R1, 8, 0.9, "free", 200.0) == pytest.approx(device - overhead)


def _holds(engine: str) -> int:
    e = estimate_in(
        model=R1, gpu=H200, gpu_count=8, concurrency=1, tensor_parallel=8, engine=engine
    )
    assert e.fits
    return e.max_concurrency


def test_the_budget_moves_how_many_requests_a_deployment_holds() -> None:
    # SGLang keeps 81 % of the device, vLLM 90 %; TensorRT-LLM 90 % of what the weights leave
    assert _holds("sglang") < _holds("vllm") < _holds("trtllm")


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(
    engine=st.sampled_from(sorted(CATALOG.engines)),
    gpu=st.sampled_from(["h100-sxm", "h200", "a40", "rtx-4090", "l40s"]),
    count=st.integers(1, 8),
    concurrency=st.integers(1, 512),
)
def test_nothing_reported_as_fitting_exceeds_the_engines_budget(
    engine: str, gpu: str, count: int, concurrency: int
) -> None:
    record = CATALOG.gpu(gpu)
    if CATALOG.engine(engine).refusal(record):
        return
    e = estimate_in(
        model="deepseek-r1-distill-qwen-14b",
        gpu=record,
        gpu_count=count,
        concurrency=concurrency,
        engine=engine,
    )
    if e.fits:
        assert e.memory_per_gpu_gb <= e.usable_memory_per_gpu_gb + e.runtime_overhead_gb + 1e-9


def _engines_file(tmp_path: Path, fraction: str, budget: str) -> Path:
    path = tmp_path / "engines.toml"
    path.write_text(
        '[engines.vllm]\nreplace = true\nname = "vLLM"\nexpert_parallel = true\n'
        'data_parallel_attention = true\nkv_cache_precision = "bf16"\n'
        f"memory_fraction = {fraction}\nmemory_budget = {budget}\n"
        "sources = { expert_parallel = 'a', data_parallel_attention = 'b', "
        "kv_cache_precision = 'c', memory_fraction = 'd', memory_budget = 'e' }\n",
        encoding="utf-8",
    )
    return path


def test_a_bad_memory_budget_is_a_problem_naming_the_field(tmp_path: Path) -> None:
    with pytest.raises(CatalogError) as caught:
        load_catalog(_engines_file(tmp_path, "1.2", '"device"'))
    (problem,) = caught.value.problems
    assert (problem.entry, problem.key_path) == ("engine 'vllm'", "memory_fraction")
    assert "expected at most 1, got 1.2" in problem.message
    with pytest.raises(CatalogError) as caught:
        load_catalog(_engines_file(tmp_path, "0.9", '"total"'))
    (problem,) = caught.value.problems
    assert problem.key_path == "memory_budget"
    assert "device" in problem.message and "free" in problem.message


def test_a_rule_folder_may_change_an_engines_budget(tmp_path: Path) -> None:
    catalog = load_catalog(_engines_file(tmp_path, "0.5", '"device"'))
    assert catalog.engine("vllm").memory_fraction == 0.5
    half = estimate_in(
        model=R1, gpu=H200, gpu_count=8, concurrency=1, tensor_parallel=8, catalog=catalog
    )
    assert not half.fits  # R1's 84 GB a GPU do not fit in half an H200
