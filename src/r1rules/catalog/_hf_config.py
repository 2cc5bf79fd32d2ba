"""A local Hugging Face ``config.json`` -> a catalog ``Model``.

Which config key fills which model field is in the one table of ``_schema`` (``HF_KEYS``);
every problem, of a key on its own or of the model it makes, is reported at once, each
naming the file and the config key.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from r1rules._errors import CatalogError, safe_repr
from r1rules._files import UnreadableFile, read_json
from r1rules.catalog._load import summary
from r1rules.catalog._records import Model
from r1rules.catalog._schema import (
    HF_KEYS,
    HF_ONLY,
    MODEL_SCHEMA,
    HfKey,
    Spec,
    check_number,
    dense_count,
    not_bool,
    one_of,
    record_problems,
    show_value,
    text_problem,
)

__all__ = ["HF_ARCHITECTURES", "model_from_hf_config"]

HF_ARCHITECTURES = ("DeepseekV3ForCausalLM", "LlamaForCausalLM", "Qwen2ForCausalLM")
_MLA_MOE = "DeepseekV3ForCausalLM"
_HF_DTYPES = {"bfloat16": "bf16", "float16": "fp16", "float32": "fp32"}
_WHAT = "the Hugging Face config"


def _hf_json(path: Path) -> tuple[dict[str, Any], list[str]]:
    try:
        data = read_json(path)
    except UnreadableFile as exc:
        return {}, [f"{path}: {exc.message}"]
    return (data, []) if isinstance(data, dict) else ({}, [f"{path}: expected a JSON object"])


def _hf_precision(data: Mapping[str, Any]) -> tuple[str, list[str]]:
    quant = data.get("quantization_config")
    if isinstance(quant, dict) and quant.get("quant_method") == "fp8":
        return "fp8", []
    dtype = data.get("torch_dtype", data.get("dtype"))
    if dtype is None:
        return "", ["missing field 'torch_dtype'"]
    if not isinstance(dtype, str):
        allowed = ", ".join(_HF_DTYPES)
        return "", [f"torch_dtype: expected a string, got {show_value(dtype)}; allowed: {allowed}"]
    if dtype not in _HF_DTYPES:
        return "", [f"torch_dtype: {one_of(dtype, tuple(_HF_DTYPES))}"]
    return _HF_DTYPES[dtype], []


def _read_key(
    data: Mapping[str, Any], hf: HfKey, spec: Spec, mla_moe: bool
) -> tuple[Any, str | None]:
    """(value, problem) of one config key; value None when absent and optional."""
    if hf.key not in data or (hf.need == "optional" and data[hf.key] is None):
        if hf.need == "all" or (hf.need == "mla_moe" and mla_moe):
            return None, f"missing field {hf.key!r}"
        return None, None
    value = data[hf.key]
    if spec.type == "bool":
        return value, (None if isinstance(value, bool) else f"{hf.key}: {not_bool(value)}")
    problem = check_number(value, Spec("int", minimum=spec.minimum, most=spec.most))
    return value, (None if problem is None else f"{hf.key}: {problem}")


def _read(path: Path) -> tuple[str, dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(architecture, model fields, HF-only values, the raw config); CatalogError listing
    every missing or invalid key."""
    data, problems = _hf_json(path)
    if problems:
        raise CatalogError(summary(problems, _WHAT))
    archs = data.get("architectures")
    arch = archs[0] if isinstance(archs, list) and archs else None
    if arch not in HF_ARCHITECTURES:
        shown = repr(arch) if arch is not None else "(no 'architectures' field)"
        raise CatalogError(
            f"{path}: unsupported architecture {shown}; supported: {', '.join(HF_ARCHITECTURES)}"
        )
    mla_moe = arch == _MLA_MOE
    fields: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    rows = [(name, MODEL_SCHEMA[name], hf, fields) for name, hf in HF_KEYS.items()]
    rows += [(name, spec, hf, extra) for name, (spec, hf) in HF_ONLY.items()]
    for name, spec, hf, into in rows:
        if hf.need == "mla_moe" and not mla_moe:
            continue
        value, problem = _read_key(data, hf, spec, mla_moe)
        if problem is not None:
            problems.append(problem)
        elif value is not None:
            into[name] = value
    if mla_moe and fields.get("n_routed_experts") == 0:  # its MoE layers would route nowhere
        moe = f"{_MLA_MOE} is a mixture of experts"
        problems.append(f"n_routed_experts: {moe}: expected a positive integer, got 0")
    if extra.get("moe_layer_freq", 1) != 1:
        shown = show_value(data["moe_layer_freq"])
        problems.append(f"moe_layer_freq: only 1 is supported, got {shown}")
    precision, found = _hf_precision(data)
    problems += found
    if problems:
        raise CatalogError(summary([f"{path}: {p}" for p in problems], _WHAT))
    fields["native_precision"] = precision
    return arch, fields, extra, data


def _defaults(fields: dict[str, Any], extra: Mapping[str, Any], mla_moe: bool) -> list[str]:
    """Fill the keys a config.json may leave out; return problems of the defaults."""
    heads = fields["num_attention_heads"]
    fields.setdefault("num_kv_heads", heads)
    fields.setdefault("tie_word_embeddings", False)
    for key in MODEL_SCHEMA:
        if key in HF_KEYS and HF_KEYS[key].need == "mla_moe":
            fields.setdefault(key, 0)
    if "head_dim" in fields:
        return []
    if mla_moe:
        fields["head_dim"] = extra["v_head_dim"]
        return []
    if fields["hidden_size"] % heads:
        fields["head_dim"] = 1  # placeholder: the problem below refuses the model
        return [
            f"hidden_size: {fields['hidden_size']} is not a multiple of num_attention_heads "
            f"({heads}), and no head_dim is given"
        ]
    fields["head_dim"] = fields["hidden_size"] // heads
    return []


def _mla_moe_counts(f: Mapping[str, Any], x: Mapping[str, Any]) -> tuple[int, int]:
    """(total, active) parameters of a DeepSeek-V3-architecture main model (MTP excluded);
    ``f`` holds model fields, ``x`` the config keys no model field holds."""
    h, heads, q_rank = f["hidden_size"], f["num_attention_heads"], x.get("q_lora_rank") or 0
    rope, kv_rank, nope, v_dim = (
        f["qk_rope_head_dim"],
        f["kv_lora_rank"],
        x["qk_nope_head_dim"],
        x["v_head_dim"],
    )
    q = (
        h * q_rank + q_rank + q_rank * heads * (nope + rope)
        if q_rank
        else h * heads * (nope + rope)
    )
    kv = h * (kv_rank + rope) + kv_rank + kv_rank * heads * (nope + v_dim)
    attn = q + kv + heads * v_dim * h + 2 * h
    expert = 3 * h * f["moe_intermediate_size"]
    routed = f["n_routed_experts"]
    router = h * routed + routed  # gate weight + score-correction bias
    layers, dense_layers = f["num_layers"], f["first_dense_layers"]
    moe_layers = layers - dense_layers
    fixed = (
        layers * attn
        + dense_layers * 3 * h * f["intermediate_size"]
        + moe_layers * (router + f["n_shared_experts"] * expert)
        + f["vocab_size"] * h * (1 if f["tie_word_embeddings"] else 2)
        + h
    )
    return (
        fixed + moe_layers * routed * expert,
        fixed + moe_layers * f["experts_per_token"] * expert,
    )


def _checked_path(path: object) -> str | os.PathLike[str]:
    """``path`` if it is a non-empty path; CatalogError naming ``path`` otherwise."""
    if not isinstance(path, (str, os.PathLike)):
        got = f"{type(path).__name__} {safe_repr(path)}"
        raise CatalogError(f"path: expected a path to a config.json (str or PathLike), got {got}")
    if not os.fspath(path):
        raise CatalogError("path: expected a path to a config.json, got an empty path")
    return path


def _checked_id(model_id: object) -> None:
    """CatalogError naming ``model_id`` unless it is None or a non-empty line of text."""
    if model_id is not None and text_problem(model_id):
        raise CatalogError(f"model_id: {text_problem(model_id)}")


def model_from_hf_config(path: str | os.PathLike[str], *, model_id: str | None = None) -> Model:
    """A ``Model`` from a local Hugging Face config.json (or the folder holding it).

    Supports LlamaForCausalLM, Qwen2ForCausalLM (q/k/v biases) and DeepseekV3ForCausalLM
    (MLA attention, MoE; the MTP module is not counted). The id is ``model_id``, else derived
    from ``_name_or_path`` or the folder name. Raises ``CatalogError`` for an unsupported
    architecture, or listing every missing or invalid key (each with the file and the key),
    those of the model the keys describe included, and for a ``path`` or ``model_id`` that
    is not one (an empty or non-text one, or one with a control character).
    """
    _checked_id(model_id)
    given = Path(_checked_path(path))
    file = given / "config.json" if given.is_dir() else given
    arch, fields, extra, data = _read(file)
    mla_moe = arch == _MLA_MOE
    problems = _defaults(fields, extra, mla_moe)
    name = data.get("_name_or_path")
    name = name if isinstance(name, str) and name else None
    if name is not None and text_problem(name):  # it would be the name and the repo id
        problems.append(f"_name_or_path: {text_problem(name)}")
        name = None
    repo = name if re.fullmatch(r"[^/\s]+/[^/\s]+", name or "") else None
    folder = given if given.is_dir() else given.resolve().parent
    stem = (name or folder.name).rsplit("/", 1)[-1].lower()
    mid = model_id or re.sub(r"[^a-z0-9.]+", "-", stem).strip("-.") or "hf-model"
    if not problems:
        if mla_moe:
            total, active = _mla_moe_counts(fields, extra)
        else:
            total = active = dense_count(fields, qkv_bias=arch == "Qwen2ForCausalLM")
        fields.update(
            id=mid,
            name=name or mid,
            hf_repo=repo,
            aliases=(),
            kind="moe" if mla_moe else "dense",
            attention="mla" if mla_moe else "gqa",
            nominal_params_b=float(f"{total / 1e9:.3g}"),
            total_params_b=total / 1e9,
            active_params_b=active / 1e9,
            source=f"derived from {path} (params by [meta] param_count_derivation)",
            checkpoint_size_gb=None,
            assumption=None,
        )
        keys = {name: hf.key for name, hf in HF_KEYS.items()}
        problems = [f"{keys.get(f, f)}: {t}" for f, t in record_problems("model", fields)]
    if problems:
        raise CatalogError(summary([f"{file}: {p}" for p in problems], _WHAT))
    return Model(**fields)
