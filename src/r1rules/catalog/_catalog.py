"""Model and GPU catalogs: TOML data with sources -> frozen records.

The shipped catalogs live in the top-level ``rules/catalog/`` folder (``models.toml``,
``gpus.toml``); users extend them with files of the same shape (see ``load_catalog``).
Parameter counts follow ``[meta] param_count_derivation`` of ``rules/catalog/models.toml``.
"""

from __future__ import annotations

import functools
import importlib.resources
import itertools
import math
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import attrs

from r1rules._errors import CatalogError, suggest
from r1rules.catalog._hf_config import HfConfig, read_hf_config
from r1rules.catalog._load import (
    ATTENTIONS,
    KINDS,
    PRECISIONS,
    SEGMENTS,
    lookup_key,
    read_catalog,
)

__all__ = [
    "ATTENTIONS",
    "KINDS",
    "PRECISIONS",
    "SEGMENTS",
    "Catalog",
    "FrozenMap",
    "Gpu",
    "Model",
    "default_catalog",
    "dense_param_count",
    "generic_dense_model",
    "load_catalog",
    "model_from_hf_config",
    "shipped_rules_dir",
]

K = TypeVar("K")
V = TypeVar("V")


class FrozenMap(Mapping[K, V]):
    """A read-only, hashable mapping: catalogs (and the cached default) can't be mutated."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[K, V] | Iterable[tuple[K, V]] = ()) -> None:
        self._data: dict[K, V] = dict(data)

    def __getitem__(self, key: K) -> V:
        return self._data[key]

    def __iter__(self) -> Iterator[K]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        return hash(frozenset(self._data.items()))

    def __repr__(self) -> str:
        return f"FrozenMap({self._data!r})"


def _frozen(value: Mapping[Any, Any]) -> FrozenMap[Any, Any]:
    return value if isinstance(value, FrozenMap) else FrozenMap(value)


def _strings(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


def _one_of(choices: tuple[str, ...]) -> Any:
    """An attrs validator: the value must be one of ``choices`` (raises ``CatalogError``)."""

    def check(_: object, attribute: attrs.Attribute[str], value: str) -> None:
        if value not in choices:
            raise CatalogError(
                f"{attribute.name}: unknown value {value!r}"
                f"{suggest(str(value), choices)}; allowed: {', '.join(choices)}"
            )

    return check


def _rates(_: object, attribute: attrs.Attribute[Mapping[str, float]], value: Any) -> None:
    if set(value) != set(PRECISIONS):
        raise CatalogError(
            f"{attribute.name}: expected the keys {', '.join(PRECISIONS)}, "
            f"got {', '.join(sorted(value))}"
        )


@attrs.frozen
class Model:
    """One model's architecture, as in its config.json (sizes in units named by the field)."""

    id: str
    name: str
    hf_repo: str | None
    aliases: tuple[str, ...] = attrs.field(converter=_strings)
    kind: str = attrs.field(validator=_one_of(KINDS))  # "dense" | "moe"
    attention: str = attrs.field(validator=_one_of(ATTENTIONS))  # "gqa" | "mla"
    nominal_params_b: float  # the size class people name it by (7 for the 7.6B Qwen distill)
    total_params_b: float
    active_params_b: float
    num_layers: int
    hidden_size: int
    intermediate_size: int
    num_attention_heads: int
    num_kv_heads: int
    head_dim: int
    vocab_size: int
    tie_word_embeddings: bool
    max_context_tokens: int
    native_precision: str = attrs.field(validator=_one_of(PRECISIONS))  # one of PRECISIONS
    source: str
    # MLA (DeepSeek-V3 architecture); 0 for GQA models
    kv_lora_rank: int = 0
    qk_rope_head_dim: int = 0
    # mixture of experts; 0 for dense models
    n_routed_experts: int = 0
    n_shared_experts: int = 0
    experts_per_token: int = 0
    moe_intermediate_size: int = 0
    first_dense_layers: int = 0
    # published checkpoint size in GB (10^9 bytes), for checks; None when not published
    checkpoint_size_gb: float | None = None
    assumption: str | None = None  # set for generic models whose architecture is derived


@attrs.frozen
class Gpu:
    """One GPU's published specifications (dense tensor rates; GB = 10^9 bytes)."""

    id: str
    name: str
    vendor: str
    aliases: tuple[str, ...] = attrs.field(converter=_strings)
    segment: str = attrs.field(validator=_one_of(SEGMENTS))  # "consumer" | "datacenter"
    memory_gb: float
    memory_type: str
    hbm: bool
    memory_bandwidth_gbps: float
    # dense tensor TFLOPS (TOPS for int8/int4) by precision; 0 where not native
    tflops: Mapping[str, float] = attrs.field(converter=_frozen, validator=_rates)
    fp8_native: bool
    int4_native: bool
    interconnect: str
    interconnect_bw_gbps: float  # GPU-to-GPU (NVLink/XGMI) per GPU, bidirectional; 0 = PCIe only
    nvlink_domain: int  # GPUs that share the fast fabric (8 with NVSwitch, 2 with a bridge, 1 none)
    max_per_node: int  # GPUs one server of this kind holds
    tdp_w: float
    price_usd: float | None  # approximate purchase price per GPU; None when no source gives one
    cloud_usd_per_hour: float | None
    source: str


def _names(record: Model | Gpu) -> tuple[str, ...]:
    repo = (record.hf_repo,) if isinstance(record, Model) and record.hf_repo else ()
    return (record.id, *repo, *record.aliases)


def _index(kind: str, records: Mapping[str, Model] | Mapping[str, Gpu]) -> FrozenMap[str, str]:
    """Lookup key of every id, HF repo id and alias -> canonical id; clashes are errors."""
    index: dict[str, str] = {}
    for key, record in records.items():
        if key != record.id:
            raise CatalogError(f"{kind} stored under {key!r} has id {record.id!r}")
        for name in _names(record):
            owner = index.setdefault(lookup_key(name), record.id)
            if owner != record.id:
                raise CatalogError(f"{kind} name {name!r} names both {owner!r} and {record.id!r}")
    return FrozenMap(index)


def _resolve(
    kind: str, name: str, index: Mapping[str, str], records: Mapping[str, Model] | Mapping[str, Gpu]
) -> str:
    found = index.get(lookup_key(name)) if isinstance(name, str) else None
    if found is None:
        choices = [n for record in records.values() for n in _names(record)]
        known = ", ".join(sorted(records)) or "(none)"
        raise CatalogError(
            f"unknown {kind} {name!r}{suggest(str(name), choices)}; known {kind}s: {known}"
        )
    return found


@attrs.frozen
class Catalog:
    """Models and GPUs by canonical id, plus an alias index (lower-cased) for lookups."""

    models: Mapping[str, Model] = attrs.field(converter=_frozen)
    gpus: Mapping[str, Gpu] = attrs.field(converter=_frozen)
    _model_index: Mapping[str, str] = attrs.field(init=False, repr=False, eq=False)
    _gpu_index: Mapping[str, str] = attrs.field(init=False, repr=False, eq=False)

    @_model_index.default
    def _build_model_index(self) -> Mapping[str, str]:
        return _index("model", self.models)

    @_gpu_index.default
    def _build_gpu_index(self) -> Mapping[str, str]:
        return _index("GPU", self.gpus)

    def model(self, name: str) -> Model:
        """The model named by its id, HF repo id or an alias (case and ``_``/space-insensitive).

        Raises ``CatalogError`` with a "did you mean" and the known ids when nothing matches.
        """
        return self.models[_resolve("model", name, self._model_index, self.models)]

    def gpu(self, name: str) -> Gpu:
        """The GPU named by its id or an alias (case and ``_``/space-insensitive)."""
        return self.gpus[_resolve("GPU", name, self._gpu_index, self.gpus)]

    def model_ids(self) -> tuple[str, ...]:
        """Canonical model ids, sorted."""
        return tuple(sorted(self.models))

    def gpu_ids(self) -> tuple[str, ...]:
        """Canonical GPU ids, sorted."""
        return tuple(sorted(self.gpus))


def shipped_rules_dir() -> Path:
    """The shipped ``rules`` folder: inside the installed package, else the source checkout's."""
    packaged = importlib.resources.files("r1rules") / "rules"
    if isinstance(packaged, Path) and (packaged / "catalog").is_dir():
        return packaged
    return Path(__file__).resolve().parents[3] / "rules"


def load_catalog(*paths: str | os.PathLike[str], include_default: bool = True) -> Catalog:
    """Load the shipped catalog (unless ``include_default`` is false), then each extra file or
    folder of ``*.toml`` in order. Later files add entries; redefining an id needs
    ``replace = true``. Raises ``CatalogError`` listing every problem of the load at once.
    """
    shipped = shipped_rules_dir() / "catalog"
    files = (shipped / "models.toml", shipped / "gpus.toml") if include_default else ()
    models, gpus = read_catalog((*files, *(Path(p) for p in paths)))
    return Catalog(
        models={e.id: Model(id=e.id, **e.fields) for e in models},
        gpus={e.id: Gpu(id=e.id, **e.fields) for e in gpus},
    )


@functools.cache
def default_catalog() -> Catalog:
    """The shipped catalog, loaded once per process and cached (it is immutable)."""
    return load_catalog()


def _dense_count(
    *,
    layers: int,
    hidden: int,
    inter: int,
    heads: int,
    kv_heads: int,
    head_dim: int,
    vocab: int,
    tied: bool,
    qkv_bias: bool = False,
) -> int:
    """Parameters of a dense decoder by the [meta] formula: q/k/v/o, SwiGLU MLP (3 matrices),
    two RMSNorms per layer, embedding (+ an untied LM head) and the final norm."""
    attn = hidden * heads * head_dim + 2 * hidden * kv_heads * head_dim + heads * head_dim * hidden
    bias = (heads + 2 * kv_heads) * head_dim if qkv_bias else 0
    per_layer = attn + bias + 3 * hidden * inter + 2 * hidden
    return layers * per_layer + vocab * hidden * (1 if tied else 2) + hidden


def dense_param_count(model: Model, *, qkv_bias: bool = False) -> int:
    """Parameters of a dense GQA ``model`` computed from its architecture fields (``qkv_bias``
    for Qwen2, which the record does not carry: 0.01% of the total). MoE/MLA models need
    fields the record lacks: counting them raises ``CatalogError``."""
    if model.kind != "dense" or model.attention != "gqa":
        raise CatalogError(
            f"model {model.id!r}: parameters can be counted from the record "
            f"only for dense GQA models, not {model.kind}/{model.attention}"
        )
    return _dense_count(
        layers=model.num_layers,
        hidden=model.hidden_size,
        inter=model.intermediate_size,
        heads=model.num_attention_heads,
        kv_heads=model.num_kv_heads,
        head_dim=model.head_dim,
        vocab=model.vocab_size,
        tied=model.tie_word_embeddings,
        qkv_bias=qkv_bias,
    )


def _mla_moe_counts(c: HfConfig) -> tuple[int, int]:
    """(total, active) parameters of a DeepSeek-V3-architecture main model (MTP excluded)."""
    h, heads = c.hidden_size, c.num_attention_heads
    qk_head = c.qk_nope_head_dim + c.qk_rope_head_dim
    q = (
        h * c.q_lora_rank + c.q_lora_rank + c.q_lora_rank * heads * qk_head
        if c.q_lora_rank
        else h * heads * qk_head
    )
    kv = (
        h * (c.kv_lora_rank + c.qk_rope_head_dim)
        + c.kv_lora_rank
        + c.kv_lora_rank * heads * (c.qk_nope_head_dim + c.v_head_dim)
    )
    attn = q + kv + heads * c.v_head_dim * h + 2 * h
    expert = 3 * h * c.moe_intermediate_size
    router = h * c.n_routed_experts + c.n_routed_experts  # gate weight + score-correction bias
    moe_layers = c.num_hidden_layers - c.first_k_dense_replace
    fixed = (
        c.num_hidden_layers * attn
        + c.first_k_dense_replace * 3 * h * c.intermediate_size
        + moe_layers * (router + c.n_shared_experts * expert)
        + c.vocab_size * h * (1 if c.tie_word_embeddings else 2)
        + h
    )
    return (
        fixed + moe_layers * c.n_routed_experts * expert,
        fixed + moe_layers * c.num_experts_per_tok * expert,
    )


def model_from_hf_config(path: str | os.PathLike[str], *, model_id: str | None = None) -> Model:
    """A ``Model`` from a local Hugging Face config.json (or the folder holding it).

    Supports LlamaForCausalLM, Qwen2ForCausalLM (q/k/v biases) and DeepseekV3ForCausalLM
    (MLA attention, MoE; the MTP module is not counted). The id is ``model_id``, else derived
    from ``_name_or_path`` or the folder name. Raises ``CatalogError`` for an unsupported
    architecture or listing every missing/invalid field.
    """
    c = read_hf_config(Path(path))
    repo = c.name_or_path if re.fullmatch(r"[^/\s]+/[^/\s]+", c.name_or_path or "") else None
    folder = Path(path) if Path(path).is_dir() else Path(path).resolve().parent
    stem = (c.name_or_path or folder.name).rsplit("/", 1)[-1].lower()
    mid = model_id or re.sub(r"[^a-z0-9.]+", "-", stem).strip("-.") or "hf-model"
    deepseek = c.architecture == "DeepseekV3ForCausalLM"
    if deepseek:
        total, active = _mla_moe_counts(c)
    else:
        total = active = _dense_count(
            layers=c.num_hidden_layers,
            hidden=c.hidden_size,
            inter=c.intermediate_size,
            heads=c.num_attention_heads,
            kv_heads=c.num_key_value_heads,
            head_dim=c.head_dim,
            vocab=c.vocab_size,
            tied=c.tie_word_embeddings,
            qkv_bias=c.architecture == "Qwen2ForCausalLM",
        )
    moe = deepseek and c.n_routed_experts > 0
    return Model(
        id=mid,
        name=c.name_or_path or mid,
        hf_repo=repo,
        aliases=(),
        kind="moe" if moe else "dense",
        attention="mla" if deepseek else "gqa",
        nominal_params_b=float(f"{total / 1e9:.3g}"),
        total_params_b=total / 1e9,
        active_params_b=active / 1e9,
        num_layers=c.num_hidden_layers,
        hidden_size=c.hidden_size,
        intermediate_size=c.intermediate_size,
        num_attention_heads=c.num_attention_heads,
        num_kv_heads=c.num_key_value_heads,
        head_dim=c.head_dim,
        vocab_size=c.vocab_size,
        tie_word_embeddings=c.tie_word_embeddings,
        max_context_tokens=c.max_position_embeddings,
        native_precision=c.precision,
        source=f"derived from {path} (params by [meta] param_count_derivation)",
        kv_lora_rank=c.kv_lora_rank,
        qk_rope_head_dim=c.qk_rope_head_dim,
        n_routed_experts=c.n_routed_experts if moe else 0,
        n_shared_experts=c.n_shared_experts if moe else 0,
        experts_per_token=c.num_experts_per_tok if moe else 0,
        moe_intermediate_size=c.moe_intermediate_size if moe else 0,
        first_dense_layers=c.first_k_dense_replace if moe else 0,
    )


# (params_b, d_model, layers) of LLaMA-1 7B/13B/33B/65B: arXiv:2302.13971, Table 2
_LLAMA1_SHAPES = ((6.7, 4096, 32), (13.0, 5120, 40), (32.5, 6656, 60), (65.2, 8192, 80))
GENERIC_MAX_PARAMS_B = 10000.0
_GENERIC_SOURCE = (
    "derived: width and depth interpolated in log-params between the LLaMA-1 7B/13B/33B/65B "
    "shapes (arXiv:2302.13971, Table 2), FFN width fitted to the parameter count; GQA with "
    "8 KV heads and a 131072-token context as Llama 3.1 (arXiv:2407.21783) and the R1 "
    "distills' config.json"
)
_GENERIC_ASSUMPTION = (
    "generic dense decoder, not a real checkpoint: LLaMA-style (SwiGLU FFN, RMSNorm, untied "
    "32000-token embeddings as LLaMA-1, head_dim 128); d_model and layers interpolated "
    "log-log between LLaMA-1 7B/13B/33B/65B (extrapolated outside; d_model rounded to a "
    "multiple of 1024), FFN width (multiple of 256) fitted so the count matches params_b "
    "(within 3% from 1B up); GQA with 8 KV heads (LLaMA-1 used full multi-head attention; "
    "a 128K context with MHA would be unrealistic), context 131072 tokens, native bf16"
)


def _llama1_interpolate(params_b: float, column: int) -> float:
    """Column 1 (d_model) or 2 (layers) of the LLaMA-1 shapes, log-log piecewise linear."""
    points = [(math.log(row[0]), math.log(row[column])) for row in _LLAMA1_SHAPES]
    segments = list(itertools.pairwise(points))
    x = math.log(params_b)
    (x0, y0), (x1, y1) = next((s for s in segments if x <= s[1][0]), segments[-1])
    return math.exp(y0 + (y1 - y0) * (x - x0) / (x1 - x0))


def generic_dense_model(params_b: float) -> Model:
    """A generic LLaMA-style dense decoder of ``params_b`` billion parameters.

    Deterministic; valid for any ``params_b`` in (0, 10000]; its architecture's parameter
    count is within 3% of ``params_b`` from 1B up (below ~0.5B the fixed embedding dominates).
    Its id is ``generic-<params>b``. Raises ``CatalogError`` for a size outside (0, 10000].
    """
    if (
        isinstance(params_b, bool)
        or not isinstance(params_b, (int, float))
        or not 0 < params_b <= GENERIC_MAX_PARAMS_B
    ):
        raise CatalogError(
            f"generic model size must be a number in (0, 10000] billion "
            f"parameters, got {params_b!r}"
        )
    width = _llama1_interpolate(params_b, 1)
    unit = 1024 if width >= 1024 else 128  # 1024 = 8 KV heads x head_dim 128
    vocab, head_dim, hidden = 32000, 128, max(128, unit * round(width / unit))
    heads = hidden // head_dim
    kv_heads = 8 if heads % 8 == 0 else heads
    layers = max(1, round(_llama1_interpolate(params_b, 2)))
    count = functools.partial(
        _dense_count,
        hidden=hidden,
        heads=heads,
        kv_heads=kv_heads,
        head_dim=head_dim,
        vocab=vocab,
        tied=False,
    )
    rest = params_b * 1e9 - count(layers=layers, inter=0)
    inter = max(256, 256 * round(rest / (3 * hidden * layers) / 256))
    size = format(Decimal(repr(float(params_b))), "f")
    size = size.rstrip("0").rstrip(".") if "." in size else size
    return Model(
        id=f"generic-{size}b",
        name=f"Generic dense {size}B (LLaMA-style)",
        hf_repo=None,
        aliases=(),
        kind="dense",
        attention="gqa",
        nominal_params_b=float(params_b),
        total_params_b=float(params_b),
        active_params_b=float(params_b),
        num_layers=layers,
        hidden_size=hidden,
        intermediate_size=inter,
        num_attention_heads=heads,
        num_kv_heads=kv_heads,
        head_dim=head_dim,
        vocab_size=vocab,
        tie_word_embeddings=False,
        max_context_tokens=131072,
        native_precision="bf16",
        source=_GENERIC_SOURCE,
        assumption=_GENERIC_ASSUMPTION,
    )
