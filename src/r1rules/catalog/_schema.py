"""The catalog schema: every record field with its type, range and (for models) its key in a
Hugging Face config.json, and the checks a model or GPU must pass however it is built.

This is the one table of model fields: the catalog files are read by it (``MODEL_SCHEMA``),
the ``Model`` record validates itself by it, and a config.json is mapped by it
(``HF_KEYS``). Problems are ``(field, text)`` pairs; callers add the file or record.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from r1rules._errors import control_problem, safe_repr, suggest
from r1rules._vocabulary import BUILTIN_FACTS, PRECISIONS

__all__ = [
    "ATTENTIONS",
    "GPU_SCHEMA",
    "HF_KEYS",
    "HF_ONLY",
    "KINDS",
    "MODEL_SCHEMA",
    "SEGMENTS",
    "HfKey",
    "Problem",
    "Spec",
    "check_number",
    "check_value",
    "dense_count",
    "gpu_problems",
    "model_problems",
    "not_bool",
    "one_of",
    "record_problems",
    "show_value",
    "text_problem",
]

KINDS = ("dense", "moe")
ATTENTIONS = ("gqa", "mla")
SEGMENTS = ("consumer", "datacenter")
_RATES = ", ".join(PRECISIONS)
Problem = tuple[str, str]  # (field or key path, what is wrong)


@attrs.frozen
class Spec:
    """How one field is checked: its type, whether required, its range or choices."""

    type: str  # "str" | "int" | "number" | "bool" | "strings" | "tflops" | "sources"
    required: bool = True
    minimum: str = "positive"  # "positive" | "non_negative"
    choices: tuple[str, ...] = ()
    default: Any = None
    least: float = 0.0  # the smallest value above 0 that is a real figure, not noise
    most: float = math.inf  # the largest physically sane figure (the physics stays finite)


@attrs.frozen
class HfKey:
    """Where a model field comes from in a config.json: its key, and when it must be there.

    ``need``: "all" (every supported architecture), "mla_moe" (DeepseekV3 only) or
    "optional" (a default applies when absent).
    """

    key: str
    need: str = "all"


# Every figure is bounded far above any real part (shipped: <= 288 GB, 8 TB/s, 5,000 TFLOPS,
# 1.2 kW, $60,000, 1M-token windows, 671B parameters) so that no product the physics forms
# overflows: a figure beyond these is a typo, not hardware.
_BIG, _HUGE = 1e6, 1e9  # a size, rate or count; a token count or price in USD
_STR, _BOOL, _NUM = Spec("str"), Spec("bool"), Spec("number", most=_BIG)
_INT, _TOKENS = Spec("int", most=_BIG), Spec("int", most=_HUGE)  # _TOKENS: vocab, context
_OPTIONAL_STR, _OPTIONAL_NUM = Spec("str", required=False), Spec("number", False, most=_HUGE)
_ALIASES = Spec("strings", required=False, default=())
_COUNT = Spec("int", required=False, minimum="non_negative", default=0, most=_BIG)
_PARAMS = Spec("number", most=BUILTIN_FACTS["params_b"].high)  # billions, as a workload's
# Rates and bandwidths so small that a roofline would overflow are not figures: a dense
# tensor rate is 0 (not native) or at least 0.01 TFLOPS; memory moves at least 1 GB/s.
_RATE = Spec("number", minimum="non_negative", least=0.01, most=_BIG)
_HF_COUNT = Spec("int", minimum="non_negative", most=_BIG)

# (model field, its spec, its config.json key). The order is the order problems of a
# config.json are reported in.
_MODEL_TABLE: tuple[tuple[str, Spec, HfKey | None], ...] = (
    ("name", _STR, None),
    ("hf_repo", _OPTIONAL_STR, None),
    ("aliases", _ALIASES, None),
    ("kind", Spec("str", choices=KINDS), None),
    ("attention", Spec("str", choices=ATTENTIONS), None),
    ("nominal_params_b", _PARAMS, None),
    ("total_params_b", _PARAMS, None),
    ("active_params_b", _PARAMS, None),
    ("hidden_size", _INT, HfKey("hidden_size")),
    ("num_layers", _INT, HfKey("num_hidden_layers")),
    ("intermediate_size", _INT, HfKey("intermediate_size")),
    ("num_attention_heads", _INT, HfKey("num_attention_heads")),
    ("num_kv_heads", _INT, HfKey("num_key_value_heads", "optional")),
    ("head_dim", _INT, HfKey("head_dim", "optional")),
    ("vocab_size", _TOKENS, HfKey("vocab_size")),
    ("tie_word_embeddings", _BOOL, HfKey("tie_word_embeddings", "optional")),
    ("max_context_tokens", _TOKENS, HfKey("max_position_embeddings")),
    ("native_precision", Spec("str", choices=PRECISIONS), None),  # from torch_dtype
    ("source", _STR, None),
    ("kv_lora_rank", _COUNT, HfKey("kv_lora_rank", "mla_moe")),
    ("qk_rope_head_dim", _COUNT, HfKey("qk_rope_head_dim", "mla_moe")),
    ("n_routed_experts", _COUNT, HfKey("n_routed_experts", "mla_moe")),
    ("n_shared_experts", _COUNT, HfKey("n_shared_experts", "mla_moe")),
    ("experts_per_token", _COUNT, HfKey("num_experts_per_tok", "mla_moe")),
    ("moe_intermediate_size", _COUNT, HfKey("moe_intermediate_size", "mla_moe")),
    ("first_dense_layers", _COUNT, HfKey("first_k_dense_replace", "mla_moe")),
    ("checkpoint_size_gb", _OPTIONAL_NUM, None),
    ("assumption", _OPTIONAL_STR, None),
)
MODEL_SCHEMA: Mapping[str, Spec] = {name: spec for name, spec, _ in _MODEL_TABLE}
HF_KEYS: Mapping[str, HfKey] = {name: hf for name, _, hf in _MODEL_TABLE if hf is not None}
"""Model field -> its config.json key."""
HF_ONLY: Mapping[str, tuple[Spec, HfKey]] = {
    # config.json keys no Model field holds: parameter counting of MLA needs them
    "q_lora_rank": (_INT, HfKey("q_lora_rank", "optional")),
    "qk_nope_head_dim": (_HF_COUNT, HfKey("qk_nope_head_dim", "mla_moe")),
    "v_head_dim": (_HF_COUNT, HfKey("v_head_dim", "mla_moe")),
    "moe_layer_freq": (_INT, HfKey("moe_layer_freq", "optional")),
}

GPU_SCHEMA: Mapping[str, Spec] = {
    "name": _STR,
    "vendor": _STR,
    "aliases": _ALIASES,
    "segment": Spec("str", choices=SEGMENTS),
    "memory_gb": _NUM,
    "memory_type": _STR,
    "hbm": _BOOL,
    "memory_bandwidth_gbps": Spec("number", least=1.0, most=_BIG),
    "tflops": Spec("tflops"),
    "fp8_native": _BOOL,
    "int4_native": _BOOL,
    "interconnect": _STR,
    "interconnect_bw_gbps": Spec("number", minimum="non_negative", least=1.0, most=_BIG),
    "nvlink_domain": _INT,
    "max_per_node": Spec("int", most=1024),  # as a host's max_gpus
    "tdp_w": _NUM,
    "price_usd": _OPTIONAL_NUM,
    "cloud_usd_per_hour": _OPTIONAL_NUM,
    "source": _STR,
    "architecture": _OPTIONAL_STR,
}


def show_value(value: object) -> str:
    if isinstance(value, bool):
        return "true (a boolean)" if value else "false (a boolean)"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, (str, int, float)):
        return safe_repr(value)
    return f"a {type(value).__name__}"


def not_bool(value: object) -> str:
    return f"expected true or false, got {show_value(value)}"


def one_of(value: str, choices: Sequence[str]) -> str:
    return f"unknown value {value!r}{suggest(value, choices)}; allowed: {', '.join(choices)}"


def check_number(value: object, spec: Spec) -> str | None:
    """Return the problem with a number (``None`` if fine); bool and NaN are not numbers."""
    noun = "an integer" if spec.type == "int" else "a number"
    wanted = {"int": (int,), "number": (int, float)}[spec.type]
    if isinstance(value, bool) or not isinstance(value, wanted):
        return f"expected {noun}, got {show_value(value)}"
    try:
        finite = math.isfinite(value)
    except OverflowError:  # an int beyond any float: finite, and beyond a bound if any
        finite = spec.most < math.inf
    if not finite:
        return f"expected a finite number, got {show_value(value)}"
    if spec.minimum == "positive" and value <= 0:
        return f"expected a positive {noun.split()[-1]}, got {show_value(value)}"
    if value < 0:
        return f"expected a non-negative {noun.split()[-1]}, got {show_value(value)}"
    if 0 < value < spec.least or value > spec.most:
        zero = "0 or " if spec.minimum == "non_negative" and spec.least else ""
        low = spec.least or 0
        opening = "(" if spec.minimum == "positive" and not spec.least else "["
        allowed = f"{zero}{noun} in {opening}{low:g}, {spec.most:g}]"
        return f"expected {allowed}, got {show_value(value)}"
    return None


def text_problem(value: object) -> str:
    """Why ``value`` is not a catalog text (a non-empty line of plain text), or ""."""
    if not isinstance(value, str) or not value.strip():
        return f"expected a non-empty string, got {show_value(value)}"
    return control_problem(value)


def check_value(key: str, value: object, spec: Spec) -> tuple[Any, list[Problem]]:
    """Check one value; return it converted (tuples, floats) and its problems."""
    if spec.type in ("int", "number"):
        problem = check_number(value, spec)
        if problem is not None:
            return None, [(key, problem)]
        assert isinstance(value, (int, float))  # narrowed by check_number
        return (float(value) if spec.type == "number" else value), []
    if spec.type == "bool":
        return value, ([] if isinstance(value, bool) else [(key, not_bool(value))])
    if spec.type == "str":
        if text_problem(value):
            return None, [(key, text_problem(value))]
        assert isinstance(value, str)  # narrowed by text_problem
        if spec.choices and value not in spec.choices:
            return None, [(key, one_of(value, spec.choices))]
        return value, []
    if spec.type == "strings":
        if not isinstance(value, list):
            return None, [(key, f"expected an array of strings, got {show_value(value)}")]
        bad = [(f"{key}[{i}]", text_problem(v)) for i, v in enumerate(value) if text_problem(v)]
        return tuple(value), bad
    if spec.type == "sources":
        if not isinstance(value, dict):
            return None, [(key, f"expected a table of strings, got {show_value(value)}")]
        bad = [(f"{key}.{k}", text_problem(v)) for k, v in value.items() if text_problem(v)]
        return dict(value), bad
    return _check_tflops(key, value)


def _check_tflops(key: str, value: object) -> tuple[Any, list[Problem]]:
    if not isinstance(value, dict):
        return None, [(key, f"expected a table with keys {_RATES}, got {show_value(value)}")]
    problems = [
        (f"{key}.{k}", f"unknown key{suggest(k, PRECISIONS)}; allowed: {_RATES}")
        for k in value
        if k not in PRECISIONS
    ]
    rate = _RATE
    for precision in PRECISIONS:
        if precision not in value:
            problems.append((f"{key}.{precision}", "missing required key"))
        elif (problem := check_number(value[precision], rate)) is not None:
            problems.append((f"{key}.{precision}", problem))
    return {p: float(value[p]) for p in PRECISIONS if p in value}, problems


def _mla_floor(f: Mapping[str, Any]) -> float:
    """Parameters of an MLA model that are not its attention projections: experts, dense
    FFN, router gates, norms, embeddings and the kv_a projection (memory physics counts
    attention as what ``total_params_b`` leaves after these)."""
    h, layers = f["hidden_size"], f["num_layers"]
    moe_layers = layers - f["first_dense_layers"] if f["kind"] == "moe" else 0
    expert = 3 * h * f["moe_intermediate_size"]
    tables = f["vocab_size"] * h * (1 if f["tie_word_embeddings"] else 2)
    return float(
        tables
        + expert * (f["n_routed_experts"] + f["n_shared_experts"]) * moe_layers
        + 3 * h * f["intermediate_size"] * (layers - moe_layers)
        + f["n_routed_experts"] * h * moe_layers
        + 2 * h * layers
        + h
        + h * (f["kv_lora_rank"] + f["qk_rope_head_dim"]) * layers
    )


def model_problems(f: Mapping[str, Any]) -> list[Problem]:
    """Cross-field rules of a model whose fields are each valid on their own."""
    out: list[Problem] = []
    if f["active_params_b"] > f["total_params_b"]:
        out.append(("active_params_b", f"must not exceed total_params_b ({f['total_params_b']:g})"))
    if f["kind"] == "dense" and f["active_params_b"] != f["total_params_b"]:
        out.append(("active_params_b", "must equal total_params_b when kind = 'dense'"))
    heads = f["num_attention_heads"]
    if heads % f["num_kv_heads"]:
        out.append(("num_kv_heads", f"must divide num_attention_heads ({heads})"))
    if f["attention"] == "gqa" and f["hidden_size"] % heads:
        out.append(("hidden_size", f"must be a multiple of num_attention_heads ({heads})"))
    moe = ("n_routed_experts", "experts_per_token", "moe_intermediate_size")
    for key in moe if f["kind"] == "moe" else (*moe, "n_shared_experts", "first_dense_layers"):
        if (f[key] > 0) != (f["kind"] == "moe"):
            need = "must be positive" if f["kind"] == "moe" else "must be 0 (or absent)"
            out.append((key, f"{need} when kind = {f['kind']!r}"))
    if f["experts_per_token"] > f["n_routed_experts"]:
        routed = f["n_routed_experts"]
        out.append(("experts_per_token", f"must not exceed n_routed_experts ({routed})"))
    if f["first_dense_layers"] >= f["num_layers"] and f["kind"] == "moe":
        out.append(("first_dense_layers", f"must be below num_layers ({f['num_layers']})"))
    for key in ("kv_lora_rank", "qk_rope_head_dim"):
        if (f[key] > 0) != (f["attention"] == "mla"):
            need = "must be positive" if f["attention"] == "mla" else "must be 0 (or absent)"
            out.append((key, f"{need} when attention = {f['attention']!r}"))
    if f["hf_repo"] is not None and not re.fullmatch(r"[^/\s]+/[^/\s]+", f["hf_repo"]):
        out.append(("hf_repo", f"expected 'owner/name', got {f['hf_repo']!r}"))
    if not out and f["attention"] == "mla" and f["total_params_b"] * 1e9 <= _mla_floor(f):
        floor = _mla_floor(f) / 1e9
        out.append(
            (
                "total_params_b",
                f"{f['total_params_b']:g} leaves no room for MLA attention: experts, FFN, "
                f"embeddings and norms alone are {floor:.4g} billion",
            )
        )
    return out


def gpu_problems(f: Mapping[str, Any]) -> list[Problem]:
    """Cross-field rules of a GPU whose fields are each valid on their own."""
    out: list[Problem] = []
    for flag, precision in (("fp8_native", "fp8"), ("int4_native", "int4")):
        rate = f["tflops"][precision]
        if f[flag] != (rate > 0):
            out.append((flag, f"is {str(f[flag]).lower()} but tflops.{precision} is {rate:g}"))
    if f["tflops"]["bf16"] <= 0 and f["tflops"]["fp16"] <= 0:
        out.append(("tflops", "needs a bf16 or fp16 rate above 0 (the rate matmuls fall back to)"))
    if f["hbm"] != ("hbm" in f["memory_type"].lower()):
        out.append(("hbm", f"is {str(f['hbm']).lower()} but memory_type is {f['memory_type']!r}"))
    if (f["nvlink_domain"] > 1) != (f["interconnect_bw_gbps"] > 0):
        out.append(
            (
                "nvlink_domain",
                f"is {f['nvlink_domain']} but interconnect_bw_gbps is "
                f"{f['interconnect_bw_gbps']:g} (1 goes with 0: PCIe only)",
            )
        )
    return out


def record_problems(kind: str, fields: Mapping[str, Any]) -> list[Problem]:
    """Every problem of a record's field values (as the record holds them), each field's
    own first; the cross-field rules run once every field is valid on its own."""
    schema = MODEL_SCHEMA if kind == "model" else GPU_SCHEMA
    out: list[Problem] = []
    for key, spec in schema.items():
        value = fields[key]
        if value is None and not spec.required:
            continue
        if spec.type == "strings" and isinstance(value, tuple):
            value = list(value)
        elif spec.type == "tflops" and isinstance(value, Mapping):
            if set(value) != set(PRECISIONS):
                shown = ", ".join(sorted(map(str, value)))
                out.append((key, f"expected the keys {_RATES}, got {shown}"))
                continue
            value = dict(value)
        out += check_value(key, value, spec)[1]
    if out:
        return out
    return model_problems(fields) if kind == "model" else gpu_problems(fields)


def dense_count(f: Mapping[str, Any], *, qkv_bias: bool = False) -> int:
    """Parameters of a dense decoder with the model fields ``f`` by the [meta] formula of
    models.toml: q/k/v/o, SwiGLU MLP (3 matrices), two RMSNorms per layer, embedding (+ an
    untied LM head) and the final norm; ``qkv_bias`` adds Qwen2's q/k/v biases."""
    h, heads, kv_heads, head_dim = (
        f["hidden_size"],
        f["num_attention_heads"],
        f["num_kv_heads"],
        f["head_dim"],
    )
    attn = h * heads * head_dim + 2 * h * kv_heads * head_dim + heads * head_dim * h
    bias = (heads + 2 * kv_heads) * head_dim if qkv_bias else 0
    per_layer = attn + bias + 3 * h * f["intermediate_size"] + 2 * h
    tables = f["vocab_size"] * h * (1 if f["tie_word_embeddings"] else 2)
    return int(f["num_layers"] * per_layer + tables + h)
