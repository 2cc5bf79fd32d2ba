"""Serving engines as records: what each engine can run, and its efficiency profile on each
kind of GPU (vendor and segment, maybe architecture), every figure with its source or the
cases it was fitted on.

The shipped figures live in ``rules/catalog/engines.toml``; a rule folder's ``catalog/``
replaces any entry the way it replaces a GPU (``replace = true``). ``[engines.<id>]`` holds
an engine's capabilities (the layouts it runs, its default KV-cache precision, the vendors it
runs on); ``[engine_profiles.<id>]`` one profile: the roofline's efficiencies of that engine
on one vendor's GPUs of one segment, or, with ``architecture``, of one chip generation of
them (TensorRT-LLM on Hopper), which serves those GPUs first. A GPU of a vendor without a
profile of its own takes the profile of the engine's ``fallback_vendor`` in its segment: the
fallback is data, named in the entry, never implicit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

import attrs

from r1rules._errors import CatalogError, suggest
from r1rules._vocabulary import ENGINES, KV_PRECISIONS
from r1rules.catalog._records import FrozenMap, Gpu, frozen
from r1rules.catalog._release import RELEASE
from r1rules.catalog._schema import SEGMENTS, Spec, check_value

__all__ = [
    "ENGINE_SCHEMA",
    "ENGINE_TABLES",
    "FIGURES",
    "MEMORY_BUDGETS",
    "PROFILE_SCHEMA",
    "Engine",
    "EngineProfile",
    "engines_of",
    "profile_kind",
]

# The figures of a profile: a time the datasheet has no rate for, then fractions of a
# datasheet rate (memory bandwidth; the dense tensor rate of the weights' precision; the BF16
# rate for attention), then the launch-and-drain of one kernel.
FIGURES = (
    "step_ms",  # host work per forward pass: scheduling, sampling, launching the graph
    "bandwidth",  # of memory_bandwidth_gbps, streaming weights and KV cache
    "dense_gemm",  # attention projections, dense FFN, shared experts, lm_head
    "expert_gemm",  # routed experts sliced over tensor-parallel ranks (1/tp of every expert)
    "expert_gemm_ep",  # routed experts whole per rank under expert parallelism (grouped GEMM)
    "attention",  # attention scores and values, of the BF16 rate (any weight precision)
    "kernel_us",  # launch-and-drain of each kernel of each layer, once per forward pass
    "seq_us",  # host work per sequence per forward pass: sampling, logits, scheduling
    "request_ms",  # a request's way to its first token outside the GPU: API, tokenizer, queue
)
FRACTIONS = FIGURES[1:6]
_LIMITS = {
    "step_ms": 1000.0,
    "kernel_us": 10_000.0,
    "seq_us": 10_000.0,
    "request_ms": 10_000.0,
}  # beyond these: not a serving engine
CAPABILITIES = (
    "expert_parallel",
    "data_parallel_attention",
    "kv_cache_precision",
    "memory_fraction",
    "memory_budget",
)
# What an engine's ``memory_fraction`` is a fraction of: the device's memory (vLLM's
# --gpu-memory-utilization, SGLang's --mem-fraction-static: weights, activations and KV cache
# within it) or the memory free once the weights and runtime are loaded (TensorRT-LLM's
# KvCacheConfig.free_gpu_memory_fraction; llama.cpp, which allocates the cache it is asked for).
MEMORY_BUDGETS = ("device", "free")
# How an engine splits one replica over several GPUs when nobody says otherwise: tensor
# parallelism within a node and pipeline stages across nodes (vLLM, SGLang, TensorRT-LLM),
# or whole layers per GPU, a pipeline (llama.cpp's default --split-mode layer).
MULTI_GPU = ("tensor", "layers")

ENGINE_SCHEMA: Mapping[str, Spec] = {
    "name": Spec("str"),
    "expert_parallel": Spec("bool"),
    "data_parallel_attention": Spec("bool"),
    "kv_cache_precision": Spec("str", choices=KV_PRECISIONS),
    "memory_fraction": Spec("number"),
    "memory_budget": Spec("str", choices=MEMORY_BUDGETS),
    "multi_gpu": Spec("str", choices=MULTI_GPU, required=False, default="tensor"),
    "vendors": Spec("strings", required=False, default=()),
    "fallback_vendor": Spec("str", required=False, default="NVIDIA"),
    "sources": Spec("sources"),
}
PROFILE_SCHEMA: Mapping[str, Spec] = {
    "engine": Spec("str", choices=ENGINES),
    "vendor": Spec("str"),
    "segment": Spec("str", choices=SEGMENTS),
    **{
        name: Spec("number", minimum="non_negative" if name in _LIMITS else "positive")
        for name in FIGURES
    },
    "architecture": Spec("str", required=False),
    "since": Spec("str", required=False),
    "sources": Spec("sources"),
}

Pairs = list[tuple[str, str]]


def profile_kind(vendor: str, segment: str, architecture: str | None = None) -> str:
    """The key of the GPUs a profile serves: ``"NVIDIA datacenter"``, or with an
    architecture ``"NVIDIA datacenter hopper"``."""
    return f"{vendor} {segment} {architecture}" if architecture else f"{vendor} {segment}"


def _checked(fields: Mapping[str, Any], schema: Mapping[str, Spec]) -> Pairs:
    """Each field against its spec (as a record holds it: tuples, tables)."""
    out: Pairs = []
    for key, spec in schema.items():
        value = fields.get(key, spec.default)
        if value is None and not spec.required:
            continue
        if isinstance(value, tuple):
            value = list(value)
        elif isinstance(value, Mapping):
            value = dict(value)
        out += check_value(key, value, spec)[1]
    return out


def _source_problems(
    sources: Mapping[str, Any], needed: Iterable[str], known: Sequence[str]
) -> Pairs:
    out = [
        (f"sources.{name}", "missing: every figure names its source or the cases it was fitted on")
        for name in needed
        if name not in sources
    ]
    out += [
        (
            f"sources.{key}",
            f"not a figure of this entry{suggest(key, known)}; allowed: {', '.join(known)}",
        )
        for key in sources
        if key not in known
    ]
    return out


def profile_problems(fields: Mapping[str, Any]) -> Pairs:
    """Every problem of a profile's fields: types, fractions in (0, 1], times within reason,
    and a source for every figure."""
    out = _checked(fields, PROFILE_SCHEMA)
    if out:
        return out
    for name in FRACTIONS:
        if fields[name] > 1.0:
            out.append(
                (name, f"a fraction of a datasheet rate: expected at most 1, got {fields[name]!r}")
            )
    for name, limit in _LIMITS.items():
        if fields[name] > limit:
            out.append((name, f"expected at most {limit:g}, got {fields[name]!r}"))
    if fields.get("since") is not None and not RELEASE.fullmatch(fields["since"]):
        out.append(("since", f'a release number such as "0.5" or "1.0.2", got {fields["since"]!r}'))
    return out + _source_problems(fields["sources"], FIGURES, FIGURES)


def engine_problems(fields: Mapping[str, Any]) -> Pairs:
    """Every problem of an engine's own fields, and a source for every capability."""
    out = _checked(fields, ENGINE_SCHEMA)
    if out:
        return out
    if fields["memory_fraction"] > 1.0:
        out.append(
            (
                "memory_fraction",
                f"a fraction of the GPU's memory: expected at most 1, got "
                f"{fields['memory_fraction']!r}",
            )
        )
    needed = (
        *CAPABILITIES,
        *(["vendors"] if fields["vendors"] else []),
        *(["multi_gpu"] if fields.get("multi_gpu", "tensor") != "tensor" else []),
    )
    allowed = (*CAPABILITIES, "vendors", "multi_gpu")
    return out + _source_problems(fields["sources"], needed, allowed)


def _raise(what: str, problems: Pairs) -> None:
    if problems:
        lines = "; ".join(f"{key}: {text}" for key, text in problems)
        raise CatalogError(f"{what}: {lines}")


@attrs.frozen(cache_hash=True)
class EngineProfile:
    """One engine on one vendor's GPUs of one segment: the roofline's efficiencies.

    Fractions of the GPU's datasheet (``bandwidth``, ``dense_gemm``, ``expert_gemm``,
    ``expert_gemm_ep``, ``attention``) and times (``step_ms`` per forward pass, ``kernel_us``
    per kernel launch, ``seq_us`` per sequence a forward pass carries, ``request_ms`` per
    request before its first token, outside the GPU: the API server, the tokenizer, the
    scheduler's admission, streaming the token back). ``since``: the oldest engine release
    among the measurements the figures were fitted on (None when not known): engines change
    fast (early-2025 DeepSeek kernels were several times slower than 2026's), so the profile
    describes that release and later ones, up to the newest it was fitted on. ``sources``
    names, per figure, its source or the training cases of ``benchmarks/measurements.toml``
    it was fitted on (a text starting "fitted"). Two profiles with the same figures are
    equal whatever their sources say.
    """

    engine: str
    vendor: str
    segment: str
    step_ms: float
    bandwidth: float
    dense_gemm: float
    expert_gemm: float
    expert_gemm_ep: float
    attention: float
    kernel_us: float
    seq_us: float
    request_ms: float
    architecture: str | None = None
    since: str | None = None
    sources: Mapping[str, str] = attrs.field(
        factory=FrozenMap, converter=frozen, eq=False, repr=False
    )

    def __attrs_post_init__(self) -> None:
        _raise(
            f"engine profile {self.kind!r} of {self.engine!r}",
            profile_problems(attrs.asdict(self, recurse=False)),
        )

    @property
    def kind(self) -> str:
        """The GPUs it serves: vendor and segment, e.g. ``"NVIDIA datacenter"``, and its
        architecture when it is kept for one (``"NVIDIA datacenter hopper"``)."""
        return profile_kind(self.vendor, self.segment, self.architecture)


@attrs.frozen(cache_hash=True)
class Engine:
    """A serving engine: the layouts it runs, the vendors it runs on (none listed: any), its
    default KV-cache precision, its memory budget, and its profiles by GPU kind (``"NVIDIA
    datacenter"``).

    ``multi_gpu``: how a replica is split over GPUs unless a layout is stated (``tensor``:
    tensor parallel within a node, pipeline stages across nodes; ``layers``: whole layers
    per GPU, a pipeline, as llama.cpp's default ``--split-mode layer``).

    Memory budget: the engine takes ``memory_fraction`` of the device's memory for weights,
    runtime and KV cache (``memory_budget = "device"``), or that fraction of what is free once
    weights and runtime are loaded, for its KV cache (``"free"``).
    """

    id: str
    name: str
    expert_parallel: bool
    data_parallel_attention: bool
    kv_cache_precision: str
    memory_fraction: float
    memory_budget: str
    multi_gpu: str = "tensor"
    vendors: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    fallback_vendor: str = "NVIDIA"
    profiles: Mapping[str, EngineProfile] = attrs.field(factory=FrozenMap, converter=frozen)
    sources: Mapping[str, str] = attrs.field(
        factory=FrozenMap, converter=frozen, eq=False, repr=False
    )

    def __attrs_post_init__(self) -> None:
        _raise(f"engine {self.id!r}", engine_problems(attrs.asdict(self, recurse=False)))
        for kind, profile in self.profiles.items():
            if profile.engine != self.id or profile.kind != kind:
                raise CatalogError(
                    f"engine {self.id!r}: profiles[{kind!r}] is the profile of "
                    f"{profile.engine!r} on {profile.kind}"
                )

    def runs_on(self, gpu: Gpu) -> bool:
        """Whether the engine runs on ``gpu``'s vendor and has a profile for its kind."""
        return self._find(gpu) is not None

    def profile(self, gpu: Gpu) -> EngineProfile:
        """The profile of ``gpu``'s vendor, segment and architecture, else of its vendor and
        segment, else the fallback vendor's of its segment; CatalogError (:meth:`refusal`)
        when the engine does not run on it."""
        found = self._find(gpu)
        if found is None:
            raise CatalogError(self.refusal(gpu))
        return found

    def _find(self, gpu: Gpu) -> EngineProfile | None:
        if self.vendors and gpu.vendor not in self.vendors:
            return None
        profiles = self.profiles
        if gpu.architecture:
            found = profiles.get(profile_kind(gpu.vendor, gpu.segment, gpu.architecture))
            if found is not None:
                return found
        found = profiles.get(f"{gpu.vendor} {gpu.segment}")
        return found or profiles.get(f"{self.fallback_vendor} {gpu.segment}")

    def with_request_ms(self, request_ms: float, source: str) -> Engine:
        """This engine with every profile's ``request_ms`` (a request's way to its first
        token off the GPU) set to ``request_ms``, its source ``source``: a stack whose path
        was measured (``Workload.request_overhead_ms``). CatalogError beyond the figure's
        bounds."""
        profiles = {
            kind: attrs.evolve(
                p, request_ms=request_ms, sources={**p.sources, "request_ms": source}
            )
            for kind, p in self.profiles.items()
        }
        return attrs.evolve(self, profiles=profiles)

    def refusal(self, gpu: Gpu) -> str:
        """Why the engine cannot serve on ``gpu`` ("" when it can)."""
        if self._find(gpu) is not None:
            return ""
        if self.vendors and gpu.vendor not in self.vendors:
            return (
                f"{self.name} runs only on {' and '.join(self.vendors)} GPUs, not on "
                f"{gpu.id} ({gpu.vendor})"
            )
        return f"{self.name} has no profile for {gpu.vendor} {gpu.segment} GPUs ({gpu.id})"


class EntryLike(Protocol):
    """A validated catalog entry (``_load.Entry``): its id, file and record fields."""

    @property
    def id(self) -> str: ...
    @property
    def file(self) -> str: ...
    @property
    def fields(self) -> Mapping[str, Any]: ...


def engines_of(
    engines: Iterable[EntryLike], profiles: Iterable[EntryLike]
) -> FrozenMap[str, Engine]:
    """Engine records by id, each with its profiles (entries checked by
    :func:`engine_table_problems`)."""
    by_engine: dict[str, dict[str, EngineProfile]] = {}
    for entry in profiles:
        profile = EngineProfile(**entry.fields)
        by_engine.setdefault(profile.engine, {})[profile.kind] = profile
    return FrozenMap(
        {e.id: Engine(id=e.id, profiles=by_engine.get(e.id, {}), **e.fields) for e in engines}
    )


# Top-level table -> (entry kind, noun, schema, cross-key check): rows of ``_load.TABLES``.
ENGINE_TABLES: Mapping[
    str, tuple[str, str, Mapping[str, Spec], Callable[[Mapping[str, Any]], Pairs]]
] = {
    "engines": ("engine", "engine", ENGINE_SCHEMA, engine_problems),
    "engine_profiles": ("engine_profile", "engine profile", PROFILE_SCHEMA, profile_problems),
}
