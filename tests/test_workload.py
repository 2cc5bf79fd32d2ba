"""Workload validation: every bad value is refused with a message naming field, value and rule."""

from __future__ import annotations

import pickle

import pytest

import r1rules
from r1rules import R1RulesError, Workload, WorkloadError

BASE = {"model": "deepseek-r1", "peak_qps": 1, "latency_ms": 100}
KNOWN_GPUS = (
    "a10, a100-40gb, a100-40gb-pcie, a100-80gb, a40, b200, gb200, h100-nvl, h100-pcie, "
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
        ({"peak_qps": None}, "peak_qps: required (peak requests per second)"),
        (
            {"precision": "fp9"},
            "precision: 'fp9' is not allowed (did you mean 'fp8'?); allowed: "
            "fp32, bf16, fp16, fp8, int8, int4",
        ),
        (
            {"precision": 8},
            "precision: 8 is not allowed; allowed: fp32, bf16, fp16, fp8, int8, int4",
        ),
        ({"stage": "prod"}, "stage: 'prod' is not allowed; allowed: development, production"),
        (
            {"stage": "producton"},
            "stage: 'producton' is not allowed (did you mean 'production'?); "
            "allowed: development, production",
        ),
        (
            {"gpu": "h1000"},
            f"gpu: unknown GPU 'h1000' (did you mean 'h100'?); known GPUs: {KNOWN_GPUS}",
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
        (
            {"prompt_tokens": 100_000, "output_tokens": 100_000},
            "prompt_tokens + output_tokens: 100000 + 100000 = 200000 tokens exceeds the context window "  # noqa: E501
            "of deepseek-r1 (163840 tokens)",
        ),
        ({"prompt_tokens": 0}, "prompt_tokens: must be at least 1 token; got 0"),
        (
            {"output_tokens": 1.5},
            "output_tokens: expected a whole number of tokens, not float; got 1.5",
        ),
        ({"model": 7}, "model: expected a model id (str), not int; got 7"),
        ({"budget_usd": -5}, "budget_usd: must be greater than 0; got -5"),
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


def test_unknown_model_suggests_the_closest_id() -> None:
    with pytest.raises(
        WorkloadError,
        match=r"^model: unknown model 'deepseek-r1-distil-qwen-7b' "
        r"\(did you mean 'deepseek-r1-distill-qwen-7b'\?\); known models: ",
    ):
        Workload(model="deepseek-r1-distil-qwen-7b", peak_qps=1, latency_ms=1)


def test_params_b_limits() -> None:
    with pytest.raises(
        WorkloadError,
        match=r"^params_b: must be at most 10000 billion; "
        r"got 20000$",
    ):
        Workload(params_b=20_000, peak_qps=1, latency_ms=1)
    with pytest.raises(
        WorkloadError,
        match=r"^peak_qps: must be at most 1e\+09 req/s; "
        r"got 2000000000.0$",
    ):
        Workload(params_b=7, peak_qps=2e9, latency_ms=1)
    with pytest.raises(WorkloadError, match=r"^params_b: must be greater than 0; got -3$"):
        Workload(params_b=-3, peak_qps=1, latency_ms=1)


def test_error_types_are_value_errors_under_one_root() -> None:
    assert issubclass(WorkloadError, R1RulesError)
    assert issubclass(WorkloadError, ValueError)


def test_ids_are_stored_canonical_and_precision_defaults_to_native() -> None:
    w = Workload(
        model="deepseek-ai/DeepSeek-R1-Distill-Qwen-7B", gpu="H100", peak_qps=1, latency_ms=100
    )
    assert (w.model, w.gpu, w.precision) == ("deepseek-r1-distill-qwen-7b", "h100-sxm", "bf16")
    assert Workload(**BASE).precision == "fp8"  # type: ignore[arg-type]
    assert Workload(params_b=13, peak_qps=1, latency_ms=1).precision == "bf16"


def test_defaults_reflect_reasoning_outputs() -> None:
    w = Workload(**BASE)  # type: ignore[arg-type]
    assert (w.prompt_tokens, w.output_tokens, w.stage) == (1024, 4096, "production")


def test_workload_is_frozen_hashable_and_pickles() -> None:
    w = Workload(**BASE)  # type: ignore[arg-type]
    with pytest.raises(AttributeError):
        w.peak_qps = 2  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(w)) == w
    assert hash(w) == hash(Workload(**BASE))  # type: ignore[arg-type]


def test_evaluate_refuses_what_is_not_a_workload() -> None:
    with pytest.raises(WorkloadError, match=r"^workload: expected an r1rules\.Workload, not dict$"):
        r1rules.evaluate({"model": "deepseek-r1"})  # type: ignore[arg-type]


def test_a_model_from_a_hugging_face_config_can_be_evaluated(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A local config.json (here a Llama-3-8B-shaped model) becomes a custom model."""
    import json

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
    with pytest.raises(WorkloadError, match="exceeds the context window"):
        Workload(model=model, peak_qps=1, latency_ms=1, prompt_tokens=8000, output_tokens=500)


def test_unknown_field_names_and_positional_values_are_workload_errors() -> None:
    with pytest.raises(WorkloadError) as caught:
        Workload(modell="deepseek-r1", peak_qps=1, latency_ms=1)  # type: ignore[call-arg]
    assert str(caught.value) == (
        "modell: unknown workload field (did you mean 'model'?); allowed: peak_qps, "
        "latency_ms, model, params_b, precision, kv_cache_precision, gpu, prompt_tokens, "
        "output_tokens, stage, budget_usd"
    )
    with pytest.raises(
        WorkloadError,
        match=r"^Workload takes keyword arguments only "
        r"\(field=value\); got 1 positional value\(s\)$",
    ):
        Workload("deepseek-r1", peak_qps=1, latency_ms=1)  # type: ignore[misc]
