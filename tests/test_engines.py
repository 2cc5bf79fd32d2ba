"""Serving engines (issue 10): the engine as a workload input, its profiles as catalog data
(``rules/catalog/engines.toml``), the layouts it can run, and the laws every engine keeps."""

from __future__ import annotations

import math
import re
from pathlib import Path

import attrs
import pytest
import tomli
from hypothesis import given
from hypothesis import strategies as st
from rulefiles import write_rules
from strategies import LAW, Reach

from r1rules import (
    CatalogError,
    EvaluationError,
    Problem,
    RuleError,
    Workload,
    WorkloadError,
    estimate,
    fleet,
    load_catalog,
    load_rules,
)
from r1rules._vocabulary import BUILTIN_FACTS, ENGINES
from r1rules._workload import DEFAULT_ENGINE, DEFAULT_KV_CACHE_PRECISION
from r1rules.catalog import FIGURES, Engine, default_catalog, shipped_rules_dir
from r1rules.physics import estimate_in, size
from r1rules.physics._placement import candidate_layouts
from r1rules.recommend._derive import input_facts

CATALOG = default_catalog()
R1 = CATALOG.model("deepseek-r1")
STEP = CATALOG.engine("vllm").profiles["NVIDIA datacenter"].step_ms


def _engine(name: str) -> Engine:
    return CATALOG.engine(name)


# --- the catalog data ---------------------------------------------------------------------


def test_every_engine_of_the_vocabulary_is_in_the_catalog() -> None:
    assert tuple(CATALOG.engines) == ENGINES
    assert DEFAULT_ENGINE == "vllm"
    spec = BUILTIN_FACTS["engine"]
    assert spec.values == ENGINES and spec.producer == "workload"


@pytest.mark.parametrize("engine_id", ENGINES)
@pytest.mark.parametrize("gpu_id", sorted(CATALOG.gpus))
def test_every_catalog_gpu_has_a_sourced_profile_or_a_stated_refusal(
    engine_id: str, gpu_id: str
) -> None:
    engine, gpu = _engine(engine_id), CATALOG.gpu(gpu_id)
    if engine.vendors and gpu.vendor not in engine.vendors:
        assert not engine.runs_on(gpu)
        assert engine.refusal(gpu) == (
            f"{engine.name} runs only on {' and '.join(engine.vendors)} GPUs, not on "
            f"{gpu.id} ({gpu.vendor})"
        )
        with pytest.raises(CatalogError, match="runs only on"):
            engine.profile(gpu)
        return
    profile = engine.profile(gpu)
    assert engine.runs_on(gpu) and engine.refusal(gpu) == ""
    # the profile of the GPU's own vendor and segment, or the engine's named fallback vendor
    assert profile.segment == gpu.segment
    assert profile.vendor in (gpu.vendor, engine.fallback_vendor)
    assert profile.architecture in (None, gpu.architecture)
    assert set(profile.sources) == set(FIGURES)
    for figure in FIGURES:
        source = profile.sources[figure]
        assert source.startswith(("sourced", "fitted", "assumed")), (figure, source)


def test_a_figure_assumed_from_another_profile_is_that_profiles_figure() -> None:
    """``assumed: <profile id>'s`` copies a figure: the copy follows the original's refits."""
    shipped = tomli.loads(
        (shipped_rules_dir() / "catalog" / "engines.toml").read_text(encoding="utf-8")
    )["engine_profiles"]
    copies = 0
    for entry in shipped.values():
        for figure, source in entry["sources"].items():
            found = re.match(r"assumed: ([a-z.-]+)'s", source)
            if found and found.group(1) in shipped:
                copies += 1
                assert entry[figure] == shipped[found.group(1)][figure], (entry, figure)
    assert copies > 20


def test_a_gpu_of_another_vendor_takes_the_named_fallback_vendor_of_its_segment() -> None:
    intel = attrs.evolve(CATALOG.gpu("mi300x"), vendor="Intel")
    for engine in CATALOG.engines.values():
        if engine.vendors:  # TensorRT-LLM: NVIDIA only
            assert not engine.runs_on(intel)
            continue
        assert engine.profile(intel) is engine.profiles[f"{engine.fallback_vendor} datacenter"]


def test_a_profile_kept_for_an_architecture_serves_its_gpus_before_their_segments() -> None:
    """TensorRT-LLM keeps a Hopper profile (its block-FP8 MoE runs only on CUTLASS kernels
    there): H100 and H200 take it; Blackwell, Ampere and a GPU of no stated architecture take
    the data-center one; engines without such a profile give Hopper their segment's."""
    trt = _engine("trtllm")
    hopper = trt.profiles["NVIDIA datacenter hopper"]
    assert hopper.architecture == "hopper" and hopper.kind == "NVIDIA datacenter hopper"
    for gpu_id in ("h100-sxm", "h100-pcie", "h100-nvl", "h200"):
        assert CATALOG.gpu(gpu_id).architecture == "hopper"
        assert trt.profile(CATALOG.gpu(gpu_id)) is hopper
    plain = trt.profiles["NVIDIA datacenter"]
    unstated = attrs.evolve(CATALOG.gpu("h200"), architecture=None)
    for gpu in (CATALOG.gpu("b200"), CATALOG.gpu("a100-80gb"), unstated):
        assert trt.profile(gpu) is plain
    vllm = _engine("vllm")
    assert vllm.profile(CATALOG.gpu("h200")) is vllm.profiles["NVIDIA datacenter"]
    assert hopper != plain  # it differs in what it was fitted on


def test_two_profiles_of_one_architecture_are_a_problem(tmp_path: Path) -> None:
    bad = tmp_path / "engines.toml"
    hopper = 'architecture = "hopper"\n'
    problem = _only_problem(
        bad,
        "[engine_profiles.vllm-nvidia-datacenter-hopper]\n"
        + hopper
        + _profile()
        + "[engine_profiles.vllm-hopper-again]\n"
        + hopper
        + _profile(),
    )
    assert _place(problem) == ("load", str(bad), "engine profile 'vllm-hopper-again'", "")
    assert problem.message.startswith(
        "'vllm' on NVIDIA datacenter hopper GPUs is already profiled by "
        "'vllm-nvidia-datacenter-hopper'"
    )
    good = tmp_path / "one.toml"
    good.write_text(
        "[engine_profiles.vllm-nvidia-datacenter-hopper]\n" + hopper + _profile(step_ms="9.5"),
        encoding="utf-8",
    )
    vllm = load_catalog(good).engine("vllm")
    assert vllm.profile(CATALOG.gpu("h200")).step_ms == 9.5
    assert vllm.profile(CATALOG.gpu("b200")).step_ms == STEP


def test_a_profile_of_an_architecture_no_gpu_has_is_a_problem(tmp_path: Path) -> None:
    bad = tmp_path / "engines.toml"
    problem = _only_problem(
        bad,
        '[engine_profiles.vllm-nvidia-datacenter-hoper]\narchitecture = "hoper"\n' + _profile(),
    )
    assert _place(problem) == (
        "invalid",
        str(bad),
        "engine profile 'vllm-nvidia-datacenter-hoper'",
        "architecture",
    )
    assert problem.message == (
        "no catalog GPU is of vendor NVIDIA, segment datacenter and architecture 'hoper': the "
        "profile would never be used (did you mean 'hopper'?); architectures of NVIDIA "
        "datacenter GPUs: ada, ampere, blackwell, hopper"
    )
    # a generation the catalog has no GPU of (no near spelling) is no mistake: it waits
    bad.write_text(
        '[engine_profiles.vllm-nvidia-datacenter-rubin]\narchitecture = "rubin"\n' + _profile(),
        encoding="utf-8",
    )
    rubin = load_catalog(bad).engine("vllm").profiles["NVIDIA datacenter rubin"]
    assert rubin.architecture == "rubin"


def test_capabilities_have_sources_and_llama_cpp_runs_no_expert_parallelism() -> None:
    for engine in CATALOG.engines.values():
        assert {"expert_parallel", "data_parallel_attention", "kv_cache_precision"} <= set(
            engine.sources
        )
        if engine.vendors:
            assert "vendors" in engine.sources
    cpp = _engine("llama.cpp")
    assert not cpp.expert_parallel and not cpp.data_parallel_attention
    assert _engine("trtllm").vendors == ("NVIDIA",)
    for name in ("vllm", "sglang", "trtllm"):
        assert _engine(name).expert_parallel and _engine(name).data_parallel_attention


def test_every_engine_keeps_a_16_bit_kv_cache_by_default_as_the_workload_does() -> None:
    assert DEFAULT_KV_CACHE_PRECISION == "bf16"
    assert {e.kv_cache_precision for e in CATALOG.engines.values()} <= {"bf16", "fp16"}


def test_the_default_engine_profiles_are_those_the_estimates_use() -> None:
    h200 = CATALOG.gpu("h200")
    default = estimate(model="deepseek-r1", gpu="h200", gpu_count=8, concurrency=4)
    named = estimate(model="deepseek-r1", gpu=h200, gpu_count=8, concurrency=4, engine="vllm")
    assert default == named
    assert _engine("VLLM") is _engine("vllm")  # ids are case-insensitive
    with pytest.raises(CatalogError, match=r"unknown engine 'vlm' \(did you mean 'vllm'\?\)"):
        CATALOG.engine("vlm")


# --- bad catalog data: Problem records naming file, entry and key --------------------------


def _toml(value: object) -> str:
    return f"{value!r}" if isinstance(value, float) else f'"{value}"'


def _profile(drop: str = "", **changes: str) -> str:
    """The shipped vllm NVIDIA data-center profile as TOML lines (its sources inline, less
    the one of ``drop``), with some values replaced by TOML text."""
    profile = _engine("vllm").profiles["NVIDIA datacenter"]
    fields: dict[str, object] = {"engine": "vllm", "vendor": "NVIDIA", "segment": "datacenter"}
    fields.update((k, getattr(profile, k)) for k in FIGURES)
    lines = [f"{k} = {changes.get(k, _toml(v))}" for k, v in fields.items()]
    sources = ", ".join(f"{k} = {_toml(v)}" for k, v in profile.sources.items() if k != drop)
    return "\n".join(lines) + f"\nsources = {{ {sources} }}\n"


def _only_problem(path: Path, text: str) -> Problem:
    """The one problem loading a catalog file of ``text`` at ``path`` raises."""
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CatalogError) as caught:
        load_catalog(path)
    (problem,) = caught.value.problems
    return problem


def _place(p: object) -> tuple[str, str, str, str]:
    return (p.kind, p.file, p.entry, p.key_path)  # type: ignore[attr-defined]


def test_a_bad_profile_value_is_a_problem_naming_file_entry_and_key(tmp_path: Path) -> None:
    bad = tmp_path / "engines.toml"
    bad.write_text(
        "[engine_profiles.vllm-nvidia-datacenter]\nreplace = true\n"
        + _profile(bandwidth="1.5", kernel_us='"fast"'),
        encoding="utf-8",
    )
    with pytest.raises(CatalogError) as caught:
        load_catalog(bad)
    where = "engine profile 'vllm-nvidia-datacenter'"
    assert [_place(p) for p in caught.value.problems] == [
        ("invalid", str(bad), where, "kernel_us"),
    ]
    assert caught.value.problems[0].message == "expected a number, got 'fast'"
    bad.write_text(
        "[engine_profiles.vllm-nvidia-datacenter]\nreplace = true\n" + _profile(bandwidth="1.5"),
        encoding="utf-8",
    )
    with pytest.raises(CatalogError) as caught:
        load_catalog(bad)
    assert [_place(p) for p in caught.value.problems] == [("invalid", str(bad), where, "bandwidth")]
    assert caught.value.problems[0].message == (
        "a fraction of a datasheet rate: expected at most 1, got 1.5"
    )


def test_a_figure_without_a_source_is_a_problem(tmp_path: Path) -> None:
    bad = tmp_path / "engines.toml"
    problem = _only_problem(
        bad,
        "[engine_profiles.vllm-nvidia-datacenter]\nreplace = true\n" + _profile("kernel_us"),
    )
    assert _place(problem) == (
        "invalid",
        str(bad),
        "engine profile 'vllm-nvidia-datacenter'",
        "sources.kernel_us",
    )
    assert "every figure names its source" in problem.message


def test_problems_between_the_engine_tables(tmp_path: Path) -> None:
    bad = tmp_path / "engines.toml"
    bad.write_text(
        # a second profile of one GPU kind, an AMD profile of an NVIDIA-only engine, and an
        # engine id outside the vocabulary
        "[engine_profiles.vllm-h100-again]\n"
        + _profile()
        + "[engine_profiles.trtllm-amd-datacenter]\n"
        + _profile(engine='"trtllm"', vendor='"AMD"')
        + '[engines.vlm]\nname = "x"\nexpert_parallel = true\ndata_parallel_attention = true\n'
        + 'kv_cache_precision = "bf16"\nmemory_fraction = 0.9\nmemory_budget = "device"\n'
        + "sources = { expert_parallel = 'a', data_parallel_attention = 'b', "
        + "kv_cache_precision = 'c', memory_fraction = 'd', memory_budget = 'e' }\n",
        encoding="utf-8",
    )
    with pytest.raises(CatalogError) as caught:
        load_catalog(bad)
    places = [_place(p) for p in caught.value.problems]
    assert places == [
        ("unknown-name", str(bad), "engine 'vlm'", ""),
        ("load", str(bad), "engine profile 'vllm-h100-again'", ""),
        ("invalid", str(bad), "engine profile 'trtllm-amd-datacenter'", "vendor"),
    ]
    messages = [p.message for p in caught.value.problems]
    assert messages[0].startswith("unknown engine (did you mean 'vllm'?)")
    assert "already profiled by 'vllm-nvidia-datacenter'" in messages[1]


def test_an_engine_without_a_profile_for_a_catalog_gpu_is_a_problem(tmp_path: Path) -> None:
    bad = tmp_path / "engines.toml"
    problem = _only_problem(
        bad,
        '[engines.sglang]\nreplace = true\nname = "SGLang"\nexpert_parallel = true\n'
        'data_parallel_attention = true\nkv_cache_precision = "bf16"\nfallback_vendor = "Intel"\n'
        'memory_fraction = 0.81\nmemory_budget = "device"\n'
        "sources = { expert_parallel = 'a', data_parallel_attention = 'b', "
        "kv_cache_precision = 'c', memory_fraction = 'd', memory_budget = 'e' }\n"
        "[engine_profiles.sglang-amd-datacenter]\n"  # an entry cannot be removed: ...
        "replace = true\n" + _profile(engine='"sglang"', vendor='"Intel"', segment='"consumer"'),
    )
    assert _place(problem) == ("load", str(bad), "engine 'sglang'", "fallback_vendor")
    assert problem.message == (
        "no profile for AMD datacenter GPUs (mi300x, mi325x) nor for the fallback vendor "
        "Intel of that segment"
    )


def test_a_bad_engines_file_in_a_rule_folder_reaches_load_rules_as_records(
    tmp_path: Path,
) -> None:
    folder = write_rules(tmp_path / "rules")
    (folder / "catalog").mkdir()
    bad = folder / "catalog" / "engines.toml"
    bad.write_text(
        "[engine_profiles.vllm-nvidia-datacenter]\nreplace = true\n" + _profile(step_ms="-1"),
        encoding="utf-8",
    )
    with pytest.raises(RuleError) as caught:
        load_rules(folder)
    assert [_place(p) for p in caught.value.problems] == [
        ("invalid", str(bad), "engine profile 'vllm-nvidia-datacenter'", "step_ms"),
    ]


def test_a_rule_folder_overrides_a_profile(tmp_path: Path) -> None:
    folder = write_rules(tmp_path / "rules")
    (folder / "catalog").mkdir()
    (folder / "catalog" / "engines.toml").write_text(
        "[engine_profiles.vllm-nvidia-datacenter]\nreplace = true\n"
        + _profile(step_ms=repr(STEP + 10.0)),
        encoding="utf-8",
    )
    rules = load_rules(folder)
    assert rules.catalog.engine("vllm").profiles["NVIDIA datacenter"].step_ms == STEP + 10.0
    common = {"model": "deepseek-r1-distill-llama-8b", "gpu": "h100-sxm", "gpu_count": 1}
    shipped = estimate(**common, concurrency=1)  # type: ignore[arg-type]
    slower = estimate(**common, concurrency=1, rules=rules)  # type: ignore[arg-type]
    assert slower.tpot_ms == pytest.approx(shipped.tpot_ms + 10.0)


# --- the engine as a workload input --------------------------------------------------------


def test_workload_engine_takes_the_allowed_values_with_a_did_you_mean() -> None:
    base = {"model": "deepseek-r1", "peak_qps": 1, "latency_ms": 1000}
    assert Workload(**base).engine == "vllm"  # type: ignore[arg-type]
    for name in ENGINES:
        assert Workload(**base, engine=name).engine == name  # type: ignore[arg-type]
    assert Workload(**base, engine=" SGLang ").engine == "sglang"  # type: ignore[arg-type]
    with pytest.raises(WorkloadError) as caught:
        Workload(**base, engine="llamacpp")  # type: ignore[arg-type]
    assert str(caught.value) == (
        "engine: 'llamacpp' is not allowed (did you mean 'llama.cpp'?); allowed: vllm, sglang, "
        "trtllm, llama.cpp"
    )
    with pytest.raises(WorkloadError, match=r"^engine: 8 is not allowed"):
        Workload(**base, engine=8)  # type: ignore[arg-type]


def test_the_engine_is_an_input_fact_the_rules_may_read() -> None:
    workload, model = Workload(
        model="deepseek-r1", peak_qps=1, latency_ms=1000, engine="trtllm"
    ).resolve()
    assert input_facts(workload, model)["engine"] == "trtllm"
    assert workload.to_dict()["engine"] == "trtllm"


def test_estimate_names_a_bad_engine_and_a_gpu_it_does_not_run_on() -> None:
    common = {"model": "deepseek-r1", "gpu_count": 8, "concurrency": 4}
    with pytest.raises(WorkloadError, match=r"^engine: 'tgi' is not allowed; allowed"):
        estimate(**common, gpu="h200", engine="tgi")  # type: ignore[arg-type]
    with pytest.raises(
        WorkloadError,
        match=r"^engine: TensorRT-LLM runs only on NVIDIA GPUs, not on mi300x \(AMD\)$",
    ):
        estimate(**common, gpu="mi300x", engine="trtllm")  # type: ignore[arg-type]
    with pytest.raises(EvaluationError, match="TensorRT-LLM runs only on NVIDIA GPUs"):
        size(
            R1,
            "fp8",
            "bf16",
            CATALOG.gpu("mi300x"),
            peak_qps=1.0,
            latency_ms=10_000.0,
            prompt_tokens=1000,
            output_tokens=1000,
            headroom_fraction=0.2,
            max_nodes=2,
            engine=_engine("trtllm"),
        )


def test_llama_cpp_refuses_stated_expert_parallelism_and_dp_attention() -> None:
    common = {"model": "deepseek-r1", "gpu": "h200", "gpu_count": 16, "concurrency": 8}
    with pytest.raises(WorkloadError, match=r"^expert_parallel: llama.cpp runs no expert"):
        estimate(**common, engine="llama.cpp", expert_parallel=8)  # type: ignore[arg-type]
    with pytest.raises(WorkloadError, match=r"^data_parallel_attention: llama.cpp runs no"):
        estimate(
            **common,  # type: ignore[arg-type]
            engine="llama.cpp",
            tensor_parallel=8,
            data_parallel_attention=True,
        )


def test_llama_cpp_is_never_offered_an_expert_parallel_layout() -> None:
    h200 = CATALOG.gpu("h200")
    layouts = candidate_layouts(R1, h200, 4, _engine("llama.cpp"))
    assert layouts and all(lay.plain for lay in layouts)
    assert any(not lay.plain for lay in candidate_layouts(R1, h200, 4, _engine("vllm")))
    s = size(
        R1,
        "fp8",
        "bf16",
        CATALOG.gpu("h100-sxm"),
        peak_qps=20.0,
        latency_ms=60_000.0,
        prompt_tokens=2000,
        output_tokens=4000,
        headroom_fraction=0.2,
        max_nodes=8,
        engine=_engine("llama.cpp"),
    )
    assert s.placement.expert_parallel == 1 and not s.placement.data_parallel_attention


def test_llama_cpp_splits_whole_layers_unless_a_layout_is_stated() -> None:
    cpp = _engine("llama.cpp")
    assert cpp.multi_gpu == "layers" and "multi_gpu" in cpp.sources
    assert {_engine(name).multi_gpu for name in ("vllm", "sglang", "trtllm")} == {"tensor"}
    rtx = CATALOG.gpu("rtx-4090")
    llama70 = CATALOG.model("deepseek-r1-distill-llama-70b")
    assert {lay.tensor_parallel for lay in candidate_layouts(llama70, rtx, 2, cpp)} == {1}
    assert {lay.tensor_parallel for lay in candidate_layouts(llama70, rtx, 2, _engine("vllm"))} > {
        1
    }
    common = dict(model="deepseek-r1-distill-llama-70b", gpu="rtx-3090", gpu_count=2, concurrency=1)
    layer = estimate(**common, precision="int4", engine="llama.cpp")  # type: ignore[arg-type]
    assert (layer.tensor_parallel, layer.pipeline_parallel) == (1, 2)
    # one user's token passes both GPUs in turn: llama.cpp's 16.6 tokens/s on 2 x 3090
    # (benchmarks/measurements.toml, llamacpp-llama3-70b-q4km-2x3090-tg512) is well under
    # what two GPUs reading their halves at once would give
    row = estimate(**common, precision="int4", engine="llama.cpp", tensor_parallel=2)  # type: ignore[arg-type]
    assert (row.tensor_parallel, row.pipeline_parallel) == (2, 1)
    assert row.tpot_ms < 0.75 * layer.tpot_ms
    carried = fleet(
        Workload(
            model="deepseek-r1-distill-llama-70b",
            gpu="rtx-3090",
            gpu_count=2,
            engine="llama.cpp",
        )
    )
    int4 = next(c for c in carried.capacities if c.precision == "int4")
    assert int4.fits and (int4.single.tensor_parallel, int4.single.pipeline_parallel) == (1, 2)


def _llama_cpp_engine_table() -> str:
    """The shipped ``[engines."llama.cpp"]`` table and its sources, to replace it."""
    text = (shipped_rules_dir() / "catalog" / "engines.toml").read_text(encoding="utf-8")
    start = text.index('[engines."llama.cpp"]')
    end = text.index("[engine_profiles.", start)
    return text[start:end].replace("\n", "\nreplace = true\n", 1)


def test_an_engine_that_splits_layers_needs_a_source_and_a_known_mode(tmp_path: Path) -> None:
    table = _llama_cpp_engine_table()
    lines = table.splitlines(keepends=True)
    unsourced = "".join(x for x in lines if not x.startswith('multi_gpu = "github.com'))
    assert len(unsourced) < len(table)
    problem = _only_problem(tmp_path / "a.toml", unsourced)
    assert problem.key_path == "sources.multi_gpu"
    unknown = table.replace('multi_gpu = "layers"', 'multi_gpu = "rows"')
    assert unknown != table
    problem = _only_problem(tmp_path / "b.toml", unknown)
    assert problem.key_path == "multi_gpu" and "tensor" in problem.message
    assert load_catalog(_write(tmp_path / "c.toml", table)).engine("llama.cpp").multi_gpu == (
        "layers"
    )


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


LLAMA_CPP_EP = Reach("llama.cpp: a fitting R1 deployment")


@LAW
@given(
    gpu=st.sampled_from(["h100-sxm", "h200", "b200", "mi300x", "a100-80gb"]),
    count=st.integers(8, 48),
    users=st.integers(1, 2000),
)
def test_estimate_with_llama_cpp_never_picks_an_expert_parallel_layout(
    gpu: str, count: int, users: int
) -> None:
    LLAMA_CPP_EP.run()
    e = estimate_in(
        model="deepseek-r1", gpu=gpu, gpu_count=count, concurrency=users, engine="llama.cpp"
    )
    assert e.expert_parallel == 1 and not e.data_parallel_attention
    if e.fits:
        LLAMA_CPP_EP.hit()


def test_estimate_with_llama_cpp_never_picks_an_expert_parallel_layout_reach() -> None:
    LLAMA_CPP_EP.check(0.5)


# --- the engines differ as their profiles say -----------------------------------------------


def test_a_higher_step_overhead_gives_a_higher_single_stream_tpot() -> None:
    vllm = _engine("vllm")
    kind = "NVIDIA datacenter"
    slow = attrs.evolve(
        vllm,
        profiles={**vllm.profiles, kind: attrs.evolve(vllm.profiles[kind], step_ms=STEP + 5.0)},
    )
    common = {
        "model": "deepseek-r1-distill-llama-8b",
        "gpu": "h100-sxm",
        "gpu_count": 1,
        "concurrency": 1,
    }
    fast_e = estimate_in(**common, engine=vllm)  # type: ignore[arg-type]
    slow_e = estimate_in(**common, engine=slow)  # type: ignore[arg-type]
    assert slow_e.tpot_ms == pytest.approx(fast_e.tpot_ms + 5.0)  # one pass per token
    assert slow_e.ttft_ms > fast_e.ttft_ms
    assert slow_e.throughput_tokens_per_s < fast_e.throughput_tokens_per_s


@pytest.mark.parametrize(
    ("gpu", "model", "count", "faster", "slower"),
    [
        # SGLang 0.5's per-kernel cost (2.8 us, CUDA graphs) is below vLLM 0.11's (5.6 us),
        # both host steps fitted at 0: R1's 1,952 kernels a pass
        ("h200", "deepseek-r1", 8, "sglang", "vllm"),
        # llama.cpp's host step on a GeForce card (0.65 ms) is above vLLM V1's (fitted 0,
        # its host work overlapping the GPU's), at the same per-kernel cost
        ("rtx-4090", "deepseek-r1-distill-llama-8b", 1, "vllm", "llama.cpp"),
    ],
)
def test_single_stream_tpot_follows_the_profiles(
    gpu: str, model: str, count: int, faster: str, slower: str
) -> None:
    g = CATALOG.gpu(gpu)
    fast_p, slow_p = _engine(faster).profile(g), _engine(slower).profile(g)
    # the per-pass overhead is lower on the faster engine, the bandwidth the same
    assert fast_p.step_ms <= slow_p.step_ms and fast_p.kernel_us <= slow_p.kernel_us
    assert (fast_p.step_ms, fast_p.kernel_us) != (slow_p.step_ms, slow_p.kernel_us)
    assert fast_p.bandwidth == slow_p.bandwidth
    common = {
        "model": model,
        "gpu": gpu,
        "gpu_count": count,
        "concurrency": 1,
        "tensor_parallel": count,
    }
    a = estimate(**common, engine=faster)  # type: ignore[arg-type]
    b = estimate(**common, engine=slower)  # type: ignore[arg-type]
    assert a.tpot_ms < b.tpot_ms


def test_fleet_carries_its_engine() -> None:
    w = Workload(
        gpu="rtx-4090",
        gpu_count=2,
        model="deepseek-r1-distill-qwen-14b",
        latency_ms=2000,
        engine="llama.cpp",
    )
    f = fleet(w)
    assert f.engine is not None and f.engine.id == "llama.cpp"
    assert f.to_dict()["engine"] == "llama.cpp"
    assert "on llama.cpp" in f.report().splitlines()[0]
    default = fleet(attrs.evolve(w, engine="vllm"))
    assert default.capacities[0].single.tpot_ms != f.capacities[0].single.tpot_ms
    with pytest.raises(WorkloadError, match=r"^engine: TensorRT-LLM runs only on NVIDIA"):
        fleet(Workload(gpu="mi300x", gpu_count=8, model="deepseek-r1", engine="trtllm"))


# --- the laws, on every engine -------------------------------------------------------------

MODELS = ["deepseek-r1", "deepseek-r1-distill-llama-8b", "deepseek-r1-distill-qwen-32b"]
FITS = Reach("every engine: nothing reported fitting exceeds usable memory")
MORE = Reach("every engine: adding GPUs never lowers throughput")


def _runs(engine: str, gpu: str) -> bool:
    return _engine(engine).runs_on(CATALOG.gpu(gpu))


@LAW
@given(
    engine=st.sampled_from(ENGINES),
    model=st.sampled_from(MODELS),
    gpu=st.sampled_from(["h100-sxm", "h200", "mi300x", "l40s", "rtx-4090", "b200"]),
    count=st.integers(1, 32),
    users=st.integers(1, 2000),
)
def test_nothing_reported_fitting_exceeds_usable_memory_on_any_engine(
    engine: str, model: str, gpu: str, count: int, users: int
) -> None:
    FITS.run()
    if not _runs(engine, gpu):
        FITS.note("the engine does not run on the GPU")
        return
    e = estimate_in(model=model, gpu=gpu, gpu_count=count, concurrency=users, engine=engine)
    if not e.fits:
        FITS.note("does not fit")
        return
    FITS.hit()
    assert e.memory_per_gpu_gb <= e.usable_memory_per_gpu_gb + e.runtime_overhead_gb + 1e-6
    assert e.batch_per_replica * e.replicas <= e.max_concurrency
    assert math.isfinite(e.ttft_ms) and math.isfinite(e.tpot_ms)


def test_nothing_reported_fitting_exceeds_usable_memory_on_any_engine_reach() -> None:
    FITS.check(0.4)


@LAW
@given(
    engine=st.sampled_from(ENGINES),
    model=st.sampled_from(MODELS),
    gpu=st.sampled_from(["h100-sxm", "h200", "mi300x", "a100-80gb"]),
    count=st.integers(8, 40),
    extra=st.integers(1, 16),
    users=st.integers(1, 1000),
)
def test_adding_gpus_never_lowers_throughput_on_any_engine(
    engine: str, model: str, gpu: str, count: int, extra: int, users: int
) -> None:
    MORE.run()
    if not _runs(engine, gpu):
        MORE.note("the engine does not run on the GPU")
        return
    common = {"model": model, "gpu": gpu, "concurrency": users, "engine": engine}
    few = estimate_in(gpu_count=count, **common)  # type: ignore[arg-type]
    if not few.fits:
        MORE.note("the smaller deployment does not fit")
        return
    MORE.hit()
    more = estimate_in(gpu_count=count + extra, **common)  # type: ignore[arg-type]
    assert more.fits
    assert more.throughput_tokens_per_s >= few.throughput_tokens_per_s * (1 - 1e-9)


def test_adding_gpus_never_lowers_throughput_on_any_engine_reach() -> None:
    MORE.check(0.5)
