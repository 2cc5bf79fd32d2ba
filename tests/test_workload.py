"""Workload validation: every bad value is refused with a message naming field, value and rule."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any, cast

import attrs
import pytest

import r1rules
from r1rules import R1RulesError, Workload, WorkloadError
from r1rules._vocabulary import BUILTIN_FACTS, Kind
from r1rules._workload import FIELD_NAMES

BASE = {"model": "deepseek-r1", "peak_qps": 1, "latency_ms": 100}
KNOWN_GPUS = (
    "a10, a100-40gb, a100-40gb-pcie, a100-80gb, a40, b200, b300, gb200, h100-nvl, h100-pcie, "
    "h100-sxm, h200, l4, l40s, mi300x, mi325x, rtx-3090, rtx-4090, rtx-5090"
)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"peak_qps": -1}, "peak_qps: must be greater than 0; got -1"),
        ({"peak_qps": 0}, "peak_qps: must be greater than 0; got 0"),
        ({"peak_qps": float("nan")}, "peak_qps: must be a finite number; got nan"),
        ({"latency_ms": float("inf")}, "latency_ms: must be a finite number; got inf"),
        ({"peak_qps": "8"}, "peak_qps: expected a number, not str; got '8'"),
        ({"peak_qps": True}, "peak_qps: expected a number, not bool; got True"),
        (
            {"peak_qps": None},
            "peak_qps: required (peak requests per second), or give concurrent_requests "
            "(requests in flight at peak), or gpu_count with gpu for a fleet you have",
        ),
        (
            {"precision": "fp9"},
            "precision: 'fp9' is not allowed (did you mean 'fp8'?); allowed: "
            "fp32, bf16, fp16, fp8, int8, int4",
        ),
        (
            {"precision": 8},
            "precision: 8 is not allowed; allowed: fp32, bf16, fp16, fp8, int8, int4",
        ),
        (
            {"stage": "prod"},
            "stage: 'prod' is not allowed (did you mean 'production'?); allowed: development, "
            "production",
        ),
        (
            {"stage": "producton"},
            "stage: 'producton' is not allowed (did you mean 'production'?); "
            "allowed: development, production",
        ),
        (
            {"model": None},
            "model/params_b: give exactly one of model (a catalog id) or params_b "
            "(billions of parameters); neither was given",
        ),
        (
            {"params_b": 7},
            "model/params_b: give exactly one of model (a catalog id) or params_b "
            "(billions of parameters); both were given",
        ),
        ({"prompt_tokens": 0}, "prompt_tokens: must be in [1, 100000000] tokens; got 0"),
        (
            {"output_tokens": 1.5},
            "output_tokens: expected a whole number of tokens, not float; got 1.5",
        ),
        ({"model": 7}, "model: expected a model id (str), not int; got 7"),
        ({"gpu": " "}, "gpu: expected a GPU id, not an empty string; got ' '"),
        ({"budget_usd": -5}, "budget_usd: must be in [1, 1e+15] USD; got -5"),
        # a budget below a dollar buys nothing; its cost shares would overflow to infinity
        ({"budget_usd": 1e-320}, "budget_usd: must be in [1, 1e+15] USD; got 1e-320"),
        # an integer too long to print is shown by its length, with the allowed range
        (
            {"peak_qps": 10**5000},
            "peak_qps: must be in (0, 1e+09] req/s; got an integer of 5001 digits",
        ),
        (
            {"prompt_tokens": -(10**5000)},
            "prompt_tokens: must be in [1, 100000000] tokens; got an integer of 5001 digits",
        ),
        (
            {"precision": 10**5000},
            "precision: an integer of 5001 digits is not allowed; allowed: fp32, bf16, fp16, "
            "fp8, int8, int4",
        ),
        (
            {"stage": "p" * 70 + "\x1b"},
            f"stage: {'p' * 57 + '...'!r} is not allowed; allowed: development, production",
        ),
        (
            {"kv_cache_precision": "int3"},
            "kv_cache_precision: 'int3' is not allowed; allowed: fp32, bf16, fp16, fp8",
        ),
    ],
)
def test_bad_values_are_refused_with_exact_messages(
    changes: dict[str, object], message: str
) -> None:
    with pytest.raises(WorkloadError) as caught:
        Workload(**{**BASE, **changes})  # type: ignore[arg-type]
    assert str(caught.value) == message


# Looked up in the catalog of the rules that evaluate the workload: refused by resolve(),
# evaluate(), estimate() and evaluate_many(), not by the constructor.
RESOLUTION_CASES = [
    (
        {"gpu": "h1000"},
        f"gpu: unknown GPU 'h1000' (did you mean 'h100'?); known GPUs: {KNOWN_GPUS}",
    ),
    (
        {"prompt_tokens": 100_000, "output_tokens": 100_000},
        "prompt_tokens + output_tokens: 100000 + 100000 = 200000 tokens exceeds the context "
        "window of deepseek-r1 (163840 tokens)",
    ),
]


@pytest.mark.parametrize(("changes", "message"), RESOLUTION_CASES)
def test_names_and_context_are_checked_at_resolution(
    changes: dict[str, object], message: str
) -> None:
    workload = Workload(**{**BASE, **changes})  # type: ignore[arg-type]
    with pytest.raises(WorkloadError) as caught:
        workload.resolve()
    assert str(caught.value) == message
    with pytest.raises(WorkloadError) as caught:
        r1rules.evaluate(workload)
    assert str(caught.value) == message
    with pytest.raises(WorkloadError) as caught:
        r1rules.evaluate_many([workload])
    assert str(caught.value) == f"workloads[0]: {message}"


def test_unknown_model_suggests_the_closest_id() -> None:
    workload = Workload(model="deepseek-r1-distil-qwen-7b", peak_qps=1, latency_ms=1)
    pattern = (
        r"^model: unknown model 'deepseek-r1-distil-qwen-7b' "
        r"\(did you mean 'deepseek-r1-distill-qwen-7b'\?\); known models: "
    )
    with pytest.raises(WorkloadError, match=pattern):
        r1rules.evaluate(workload)
    with pytest.raises(WorkloadError, match=pattern):
        r1rules.estimate(model="deepseek-r1-distil-qwen-7b", gpu="h100", gpu_count=1, concurrency=1)


def test_resolution_reports_every_unknown_name_at_once() -> None:
    workload = Workload(model="deepseek-r2", gpu="h1000", peak_qps=1, latency_ms=1)
    with pytest.raises(WorkloadError) as caught:
        r1rules.evaluate(workload)
    lines = str(caught.value).split("\n")
    assert lines[0] == "2 problems in the workload:"
    assert lines[1].startswith("  model: unknown model 'deepseek-r2' (did you mean 'deepseek-r1'?)")
    assert lines[2].startswith("  gpu: unknown GPU 'h1000' (did you mean 'h100'?)")


def test_every_bad_field_is_reported_at_once() -> None:
    with pytest.raises(WorkloadError) as caught:
        Workload(model="deepseek-r1", peak_qps=-1, latency_ms=100, precision="fp9")
    assert str(caught.value) == (
        "2 problems in the workload:\n"
        "  peak_qps: must be greater than 0; got -1\n"
        "  precision: 'fp9' is not allowed (did you mean 'fp8'?); "
        "allowed: fp32, bf16, fp16, fp8, int8, int4"
    )
    with pytest.raises(WorkloadError) as caught:
        Workload(
            modell="r1",
            peak_qps=None,
            latency_ms="1",  # type: ignore[arg-type]
            prompt_tokens=0,
            stage="prod",
            budget_usd=float("nan"),
        )
    message = str(caught.value)
    lines = message.split("\n")
    assert lines[0] == "6 problems in the workload:"
    assert [line.split(":")[0].strip() for line in lines[1:]] == [
        "modell",
        "peak_qps",
        "latency_ms",
        "prompt_tokens",
        "stage",
        "budget_usd",
    ]
    assert "model/params_b" not in message  # the misspelt field is the model: named once
    with pytest.raises(WorkloadError) as caught:
        Workload(peak_qps=1, latency_ms=0)
    assert str(caught.value) == (
        "2 problems in the workload:\n"
        "  latency_ms: must be greater than 0; got 0\n"
        "  model/params_b: give exactly one of model (a catalog id) or params_b "
        "(billions of parameters); neither was given"
    )


def test_evolve_validates_too() -> None:
    workload = Workload(**BASE)  # type: ignore[arg-type]
    with pytest.raises(WorkloadError, match=r"^peak_qps: must be greater than 0; got 0$"):
        attrs.evolve(workload, peak_qps=0)


def test_params_b_limits() -> None:
    with pytest.raises(
        WorkloadError,
        match=r"^params_b: must be in \(0, 10000\] billion; got 20000$",
    ):
        Workload(params_b=20_000, peak_qps=1, latency_ms=1)
    with pytest.raises(
        WorkloadError,
        match=r"^peak_qps: must be in \(0, 1e\+09\] req/s; got 2000000000.0$",
    ):
        Workload(params_b=7, peak_qps=2e9, latency_ms=1)
    with pytest.raises(WorkloadError, match=r"^params_b: must be greater than 0; got -3$"):
        Workload(params_b=-3, peak_qps=1, latency_ms=1)


def test_token_counts_beyond_the_vocabulary_bound_are_refused_naming_the_field() -> None:
    with pytest.raises(WorkloadError) as caught:
        Workload(params_b=7, peak_qps=1, latency_ms=1, prompt_tokens=10**9)
    assert str(caught.value) == ("prompt_tokens: must be in [1, 100000000] tokens; got 1000000000")
    with pytest.raises(WorkloadError, match=r"^output_tokens: must be in \[1, 100000000\] "):
        Workload(params_b=7, peak_qps=1, latency_ms=1, output_tokens=10**8 + 1)
    # the bound itself is allowed (the model's context window is resolve()'s to check)
    assert Workload(params_b=7, peak_qps=1, latency_ms=1, prompt_tokens=10**8).prompt_tokens == (
        10**8
    )


# The vocabulary fact that bounds each numeric field, where its name differs (the sizing
# estimate is "tpot_ms", the decision is "gpu_count").
FACT_OF = {"tpot_ms": "tpot_target_ms", "gpu_count": "fleet_gpu_count"}
NUMERIC_FIELDS = tuple(
    name
    for name in FIELD_NAMES
    if BUILTIN_FACTS.get(FACT_OF.get(name, name)) is not None
    and BUILTIN_FACTS[FACT_OF.get(name, name)].kind == Kind.NUMBER
)


def test_the_numeric_fields_are_every_numeric_workload_field() -> None:
    assert NUMERIC_FIELDS == (
        "peak_qps",
        "latency_ms",
        "params_b",
        "prompt_tokens",
        "output_tokens",
        "budget_usd",
        "concurrent_requests",
        "tpot_ms",
        "gpu_count",
        "request_overhead_ms",
    )


@pytest.mark.parametrize("field", NUMERIC_FIELDS)
def test_every_numeric_field_takes_the_range_its_vocabulary_fact_declares(field: str) -> None:
    """The bounds are the vocabulary's, for every numeric field: its high is allowed, above
    it (or below its low) is refused, with the field and the allowed range named."""
    spec = BUILTIN_FACTS[FACT_OF.get(field, field)]
    base: dict[str, object] = {"peak_qps": 1, "latency_ms": 1, "params_b": 7}
    if field == "concurrent_requests":  # the load is given one way
        del base["peak_qps"]
    if field == "gpu_count":  # a fleet names its GPU
        base["gpu"] = "h100"
    high: float = int(spec.high) if spec.integer else spec.high
    assert getattr(Workload(**{**base, field: high}), field) == high  # type: ignore[arg-type]
    above = high * 10
    with pytest.raises(WorkloadError) as caught:
        Workload(**{**base, field: above})  # type: ignore[arg-type]
    message = str(caught.value)
    assert message.startswith(f"{field}: must be in ")
    shown = str(int(spec.high)) if spec.integer else f"{spec.high:g}"
    assert f", {shown}]" in message and message.endswith(f"; got {above!r}")
    if spec.integer:
        with pytest.raises(WorkloadError, match=rf"^{field}: must be in \[{int(spec.low)}, "):
            Workload(**{**base, field: int(spec.low) - 1})  # type: ignore[arg-type]


def test_error_types_are_value_errors_under_one_root() -> None:
    assert issubclass(WorkloadError, R1RulesError)
    assert issubclass(WorkloadError, ValueError)


def test_names_are_kept_as_given_and_resolved_canonical() -> None:
    w = Workload(
        model=" deepseek-ai/DeepSeek-R1-Distill-Qwen-7B", gpu="H100", peak_qps=1, latency_ms=100
    )
    assert (w.model, w.gpu, w.precision) == (
        "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B",
        "H100",
        None,
    )
    resolved, model = w.resolve()
    assert (resolved.model, resolved.gpu, resolved.precision) == (
        "deepseek-r1-distill-qwen-7b",
        "h100-sxm",
        "bf16",
    )
    assert model.id == "deepseek-r1-distill-qwen-7b" and resolved.peak_qps == 1
    assert resolved.resolve()[0] is resolved  # canonical already: itself
    assert Workload(**BASE).resolve()[0].precision == "fp8"  # type: ignore[arg-type]
    generic = Workload(params_b=13, peak_qps=1, latency_ms=1).resolve()[0]
    assert (generic.model, generic.params_b, generic.precision) == (None, 13.0, "bf16")
    rec = r1rules.evaluate(w)
    assert rec.workload == resolved
    assert rec.to_dict()["workload"]["model"] == "deepseek-r1-distill-qwen-7b"
    assert rec.to_dict()["workload"]["gpu"] == "h100-sxm"


def test_defaults_reflect_reasoning_outputs() -> None:
    w = Workload(**BASE)  # type: ignore[arg-type]
    assert (w.prompt_tokens, w.output_tokens, w.stage) == (1024, 4096, "production")


def test_workload_is_frozen_hashable_and_pickles() -> None:
    w = Workload(**BASE)  # type: ignore[arg-type]
    with pytest.raises(AttributeError):
        w.peak_qps = 2  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(w)) == w
    assert hash(w) == hash(Workload(**BASE))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        # an empty path is not the current folder (whose TOML files are no rule set)
        ({"rules": ""}, "rules: expected a path to rule files, got an empty path"),
        ({"options": "yes"}, "options: expected True or False, not str"),
        ({"options": 1}, "options: expected True or False, not int"),
    ],
)
def test_evaluate_refuses_bad_rules_and_options(arguments: dict[str, Any], message: str) -> None:
    with pytest.raises(R1RulesError) as caught:
        r1rules.evaluate(Workload(**BASE), **arguments)  # type: ignore[arg-type]
    assert str(caught.value) == message


def test_evaluate_refuses_what_is_not_a_workload() -> None:
    with pytest.raises(WorkloadError, match=r"^workload: expected an r1rules\.Workload, not dict$"):
        r1rules.evaluate({"model": "deepseek-r1"})  # type: ignore[arg-type]


def test_a_model_from_a_hugging_face_config_can_be_evaluated(tmp_path: Path) -> None:
    """A local config.json (here a Llama-3-8B-shaped model) becomes a custom model."""
    config = {
        "architectures": ["LlamaForCausalLM"],
        "hidden_size": 4096,
        "num_hidden_layers": 32,
        "intermediate_size": 14336,
        "num_attention_heads": 32,
        "num_key_value_heads": 8,
        "vocab_size": 128256,
        "max_position_embeddings": 8192,
        "torch_dtype": "bfloat16",
        "tie_word_embeddings": False,
        "_name_or_path": "acme/llama-8b-custom",
    }
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    model = r1rules.model_from_hf_config(path)
    w = Workload(
        model=model,
        peak_qps=2,
        latency_ms=800,
        prompt_tokens=1024,
        output_tokens=1024,
        stage="development",
    )
    rec = r1rules.evaluate(w)
    assert 7.9 < model.total_params_b < 8.1
    assert rec.facts["model"] == model.id and rec.edition == "professional"  # 8B > 7B
    assert rec.to_dict()["workload"]["model"] == model.id
    too_long = Workload(
        model=model, peak_qps=1, latency_ms=1, prompt_tokens=8000, output_tokens=500
    )
    with pytest.raises(WorkloadError, match="exceeds the context window of llama-8b-custom"):
        r1rules.evaluate(too_long)


def test_unknown_field_names_and_positional_values_are_workload_errors() -> None:
    with pytest.raises(WorkloadError) as caught:
        Workload(modell="deepseek-r1", peak_qps=1, latency_ms=1)
    assert str(caught.value) == (
        "modell: unknown workload field (did you mean 'model'?); allowed: peak_qps, "
        "latency_ms, model, params_b, precision, kv_cache_precision, gpu, prompt_tokens, "
        "output_tokens, stage, budget_usd, objective, concurrent_requests, tpot_ms, gpu_count, "
        "engine, request_overhead_ms"
    )
    with pytest.raises(
        WorkloadError,
        match=r"^Workload takes keyword arguments only "
        r"\(field=value\); got 1 positional value\(s\)$",
    ):
        Workload("deepseek-r1", peak_qps=1, latency_ms=1)


# --- one catalog per evaluation: the rule set's --------------------------------------------

ACME_GPU = """
[gpus.acme-x1]
name = "Acme X1 (test)"
vendor = "Acme"
aliases = ["x1"]
segment = "datacenter"
memory_gb = 96
memory_type = "HBM3"
hbm = true
memory_bandwidth_gbps = 4000
tflops = { fp32 = 60, bf16 = 1000, fp16 = 1000, fp8 = 2000, int8 = 2000, int4 = 0 }
fp8_native = true
int4_native = false
interconnect = "NVLink"
interconnect_bw_gbps = 900
nvlink_domain = 8
max_per_node = 8
tdp_w = 700
source = "test"
"""


def _deep_qwen_7b(folder: Path) -> Path:
    """Give the rule folder a catalog/ with a new GPU, and the 7B distill replaced by one
    with twice its layers."""
    import tomli

    from r1rules.catalog._catalog import shipped_rules_dir

    with (shipped_rules_dir() / "catalog" / "models.toml").open("rb") as handle:
        entry = tomli.load(handle)["models"]["deepseek-r1-distill-qwen-7b"]
    entry = {k: v for k, v in entry.items() if k != "sources" and not k.endswith("_note")}
    entry.update(replace=True, num_layers=2 * entry["num_layers"], name="Qwen-7B, deep (test)")
    lines = ['[models."deepseek-r1-distill-qwen-7b"]']
    for key, value in entry.items():
        shown = (
            ("true" if value else "false")
            if isinstance(value, bool)
            else json.dumps(value)
            if isinstance(value, (str, list))
            else repr(value)
        )
        lines.append(f"{key} = {shown}")
    (folder / "catalog").mkdir()
    (folder / "catalog" / "extra.toml").write_text(
        "\n".join(lines) + "\n" + ACME_GPU, encoding="utf-8"
    )
    return folder


def test_names_resolve_in_the_rule_sets_catalog(rules_copy: Path) -> None:
    """A GPU added and a model replaced under a rule folder's catalog/ are the ones
    evaluate, estimate and evaluate_many use; the shipped rules know neither."""
    from r1rules.physics import kv_cache_bytes_per_token, weights_gb

    folder = _deep_qwen_7b(rules_copy)
    mine = r1rules.load_rules(folder)
    shipped = r1rules.default_catalog().model("qwen-7b")
    deep = mine.catalog.model("qwen-7b")
    assert deep.num_layers == 2 * shipped.num_layers
    workload = Workload(model="Qwen-7B", gpu="X1", peak_qps=1, latency_ms=2000)

    for rec in (r1rules.evaluate(workload, mine), r1rules.evaluate(workload, folder)):
        assert rec.gpu.id == "acme-x1" and rec.facts["pinned_gpu"] == "acme-x1"
        assert rec.workload.model == "deepseek-r1-distill-qwen-7b"
        assert rec.workload.gpu == "acme-x1" and rec.workload.precision == "bf16"
        assert rec.facts["weights_gb"] == pytest.approx(weights_gb(deep, "bf16"))
        assert cast(float, rec.facts["weights_gb"]) > weights_gb(shipped, "bf16") * 1.5
        assert rec.facts["kv_cache_bytes_per_token"] == 2 * kv_cache_bytes_per_token(shipped)
        assert rec.estimates.weights_gb == pytest.approx(weights_gb(deep, "bf16"))
    [batched] = r1rules.evaluate_many([workload], rules=mine)
    assert batched.to_dict() == r1rules.evaluate(workload, mine, options=False).to_dict()

    est = r1rules.estimate(model="qwen-7b", gpu="x1", gpu_count=1, concurrency=1, rules=mine)
    assert est.weights_gb == pytest.approx(weights_gb(deep, "bf16"))
    assert est.kv_cache_bytes_per_token == 2 * kv_cache_bytes_per_token(shipped)
    plain = r1rules.estimate(model="qwen-7b", gpu="h100", gpu_count=1, concurrency=1)
    assert plain.weights_gb == pytest.approx(weights_gb(shipped, "bf16"))

    unknown = "gpu: unknown GPU 'X1'"
    with pytest.raises(WorkloadError, match=f"^{unknown}"):
        r1rules.evaluate(workload)
    with pytest.raises(WorkloadError, match=f"^workloads\\[0\\]: {unknown}"):
        r1rules.evaluate_many([workload])
    with pytest.raises(WorkloadError, match=r"^gpu: unknown GPU 'x1'"):
        r1rules.estimate(model="qwen-7b", gpu="x1", gpu_count=1, concurrency=1)
