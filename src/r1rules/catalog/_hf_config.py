"""A local Hugging Face ``config.json`` -> the architecture fields a catalog Model needs."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from r1rules._errors import CatalogError
from r1rules.catalog._load import Spec, check_number, one_of, show_value, summary

__all__ = ["HF_ARCHITECTURES", "HfConfig", "read_hf_config"]

HF_ARCHITECTURES = ("DeepseekV3ForCausalLM", "LlamaForCausalLM", "Qwen2ForCausalLM")


@attrs.frozen
class HfConfig:
    """The architecture fields of a Hugging Face config.json (0 where a field does not apply)."""

    architecture: str
    name_or_path: str | None
    hidden_size: int
    num_hidden_layers: int
    intermediate_size: int
    num_attention_heads: int
    num_key_value_heads: int
    head_dim: int
    vocab_size: int
    max_position_embeddings: int
    tie_word_embeddings: bool
    precision: str
    q_lora_rank: int = 0
    kv_lora_rank: int = 0
    qk_nope_head_dim: int = 0
    qk_rope_head_dim: int = 0
    v_head_dim: int = 0
    n_routed_experts: int = 0
    n_shared_experts: int = 0
    num_experts_per_tok: int = 0
    moe_intermediate_size: int = 0
    first_k_dense_replace: int = 0


_HF_COMMON = (
    "hidden_size",
    "num_hidden_layers",
    "intermediate_size",
    "num_attention_heads",
    "vocab_size",
    "max_position_embeddings",
)
_HF_DEEPSEEK = (
    "kv_lora_rank",
    "qk_nope_head_dim",
    "qk_rope_head_dim",
    "v_head_dim",
    "n_routed_experts",
    "n_shared_experts",
    "num_experts_per_tok",
    "moe_intermediate_size",
    "first_k_dense_replace",
)
_HF_DTYPES = {"bfloat16": "bf16", "float16": "fp16", "float32": "fp32"}


def _hf_json(path: Path) -> tuple[dict[str, Any], list[str]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        return {}, [f"{path}: cannot read: {exc.strerror or exc}"]
    except ValueError as exc:
        return {}, [f"{path}: invalid JSON: {exc}"]
    return (data, []) if isinstance(data, dict) else ({}, [f"{path}: expected a JSON object"])


def _hf_precision(data: Mapping[str, Any]) -> tuple[str, list[str]]:
    quant = data.get("quantization_config")
    if isinstance(quant, dict) and quant.get("quant_method") == "fp8":
        return "fp8", []
    dtype = data.get("torch_dtype", data.get("dtype"))
    if dtype is None:
        return "", ["missing field 'torch_dtype'"]
    if dtype not in _HF_DTYPES:
        return "", [f"torch_dtype: {one_of(str(dtype), tuple(_HF_DTYPES))}"]
    return _HF_DTYPES[dtype], []


def read_hf_config(path: str | Path) -> HfConfig:
    """Read a config.json (or a folder holding one) of a supported architecture.

    Raises ``CatalogError`` naming the file and listing every missing or invalid field.
    """
    path = Path(path)
    path = path / "config.json" if path.is_dir() else path
    data, problems = _hf_json(path)
    if problems:
        raise CatalogError(summary(problems, "the Hugging Face config"))
    archs = data.get("architectures")
    arch = archs[0] if isinstance(archs, list) and archs else None
    if arch not in HF_ARCHITECTURES:
        shown = repr(arch) if arch is not None else "(no 'architectures' field)"
        raise CatalogError(
            f"{path}: unsupported architecture {shown}; supported: {', '.join(HF_ARCHITECTURES)}"
        )
    deepseek = arch == "DeepseekV3ForCausalLM"
    values: dict[str, Any] = {}
    specs = [(k, Spec("int")) for k in _HF_COMMON]
    specs += [(k, Spec("int", minimum="non_negative")) for k in _HF_DEEPSEEK if deepseek]
    for key, spec in specs:
        if key not in data:
            problems.append(f"missing field {key!r}")
        elif (problem := check_number(data[key], spec)) is None:
            values[key] = data[key]
        else:
            problems.append(f"{key}: {problem}")
    for key in ("num_key_value_heads", "head_dim", "q_lora_rank", "moe_layer_freq"):
        if data.get(key) is not None and check_number(data[key], Spec("int")) is not None:
            problems.append(f"{key}: {check_number(data[key], Spec('int'))}")
    if data.get("moe_layer_freq", 1) != 1:
        problems.append(
            f"moe_layer_freq: only 1 is supported, got {show_value(data['moe_layer_freq'])}"
        )
    precision, found = _hf_precision(data)
    problems += found
    if problems:
        raise CatalogError(summary([f"{path}: {p}" for p in problems], "the Hugging Face config"))
    heads = values["num_attention_heads"]
    name = data.get("_name_or_path")
    return HfConfig(
        architecture=arch,
        name_or_path=name if isinstance(name, str) and name else None,
        num_key_value_heads=data.get("num_key_value_heads") or heads,
        head_dim=data.get("head_dim")
        or (values["v_head_dim"] if deepseek else values["hidden_size"] // heads),
        tie_word_embeddings=bool(data.get("tie_word_embeddings", False)),
        precision=precision,
        q_lora_rank=data.get("q_lora_rank") or 0,
        **values,
    )
