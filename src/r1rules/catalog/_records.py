"""The catalog records, ``Model`` and ``Gpu``: frozen, and valid however they are built
(from catalog files, a config.json, in code or with ``attrs.evolve``)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, TypeVar

import attrs

from r1rules._errors import CatalogError
from r1rules.catalog._schema import dense_count, record_problems

__all__ = ["FrozenMap", "Gpu", "Model", "dense_param_count"]

K = TypeVar("K")
V = TypeVar("V")


class FrozenMap(Mapping[K, V]):
    """A read-only, hashable mapping: catalogs (and the cached default) can't be mutated."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[K, V] | Iterable[tuple[K, V]] = ()) -> None:
        self._data: dict[K, V] = dict(data)

    @classmethod
    def adopting(cls, data: dict[K, V]) -> FrozenMap[K, V]:
        """A FrozenMap of ``data`` itself, not a copy: for a dict nothing else holds or
        changes any more (a copy of a large one costs microseconds)."""
        adopted = cls.__new__(cls)
        adopted._data = data
        return adopted

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


def frozen(value: Mapping[Any, Any]) -> FrozenMap[Any, Any]:
    return value if isinstance(value, FrozenMap) else FrozenMap(value)


def _strings(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


def _validate(kind: str, record: Model | Gpu) -> None:
    """Raise CatalogError listing every problem of the record's fields (field first)."""
    problems = record_problems(kind, attrs.asdict(record, recurse=False))
    if not isinstance(record.id, str) or not record.id.strip():
        problems.insert(0, ("id", f"expected a non-empty string, got {record.id!r}"))
    if len(problems) == 1:
        raise CatalogError(f"{problems[0][0]}: {problems[0][1]}")
    if problems:
        lines = "\n".join(f"  {field}: {text}" for field, text in problems)
        noun = "model" if kind == "model" else "GPU"
        raise CatalogError(f"{len(problems)} problems in {noun} {record.id!r}:\n{lines}")


@attrs.frozen(cache_hash=True)  # a key of the physics' caches: hashed often
class Model:
    """One model's architecture, as in its config.json (sizes in units named by the field).

    Every field is checked on construction (``catalog._schema`` has the rules: positive
    sizes, heads divisible by KV heads, experts per token within the experts, ...); a bad
    value raises ``CatalogError`` naming the field and the value.
    """

    id: str
    name: str
    hf_repo: str | None
    aliases: tuple[str, ...] = attrs.field(converter=_strings)
    kind: str  # "dense" | "moe"
    attention: str  # "gqa" | "mla"
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
    native_precision: str  # one of PRECISIONS
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

    def __attrs_post_init__(self) -> None:
        _validate("model", self)


@attrs.frozen(cache_hash=True)  # a key of the physics' caches: hashed often
class Gpu:
    """One GPU's published specifications (dense tensor rates; GB = 10^9 bytes).

    Checked on construction like ``Model``: positive memory, bandwidth and counts,
    non-negative rates with a bf16 or fp16 one, flags that agree with the rates.
    """

    id: str
    name: str
    vendor: str
    aliases: tuple[str, ...] = attrs.field(converter=_strings)
    segment: str  # "consumer" | "datacenter"
    memory_gb: float
    memory_type: str
    hbm: bool
    memory_bandwidth_gbps: float
    # dense tensor TFLOPS (TOPS for int8/int4) by precision; 0 where not native
    tflops: Mapping[str, float] = attrs.field(converter=frozen)
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
    # the vendor's name of its chip generation ("hopper", "blackwell", "cdna3"): engine
    # profiles may be kept per architecture; None when not stated
    architecture: str | None = None

    def __attrs_post_init__(self) -> None:
        _validate("gpu", self)


def dense_param_count(model: Model, *, qkv_bias: bool = False) -> int:
    """Parameters of a dense GQA ``model`` computed from its architecture fields (``qkv_bias``
    for Qwen2, which the record does not carry: 0.01% of the total). MoE/MLA models need
    fields the record lacks: counting them raises ``CatalogError``."""
    if model.kind != "dense" or model.attention != "gqa":
        raise CatalogError(
            f"model {model.id!r}: parameters can be counted from the record "
            f"only for dense GQA models, not {model.kind}/{model.attention}"
        )
    return dense_count(attrs.asdict(model, recurse=False), qkv_bias=qkv_bias)
