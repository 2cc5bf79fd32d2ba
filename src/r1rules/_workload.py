"""The workload: the validated input fact.

A Workload that exists has valid values (types, ranges, allowed values); the ids it names
are looked up in a catalog only by :meth:`Workload.resolve`, against the catalog of the rule
set that evaluates it, so a rule folder's own models and GPUs can be named.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import attrs

from r1rules._errors import CatalogError, WorkloadError, safe_repr, suggest
from r1rules._little import DEFAULT_TPOT_MS_FOR_CONCURRENCY, little_qps, request_seconds
from r1rules._vocabulary import (
    BUILTIN_FACTS,
    ENGINES,
    KV_PRECISIONS,
    OBJECTIVES,
    PRECISIONS,
    STAGES,
)
from r1rules.catalog import Catalog, Model, default_catalog, generic_dense_model

__all__ = [
    "DEFAULT_ENGINE",
    "DEFAULT_KV_CACHE_PRECISION",
    "DEFAULT_OBJECTIVE",
    "DEFAULT_OUTPUT_TOKENS",
    "DEFAULT_PROMPT_TOKENS",
    "DEFAULT_STAGE",
    "DEFAULT_TPOT_MS_FOR_CONCURRENCY",
    "STAGES",
    "Workload",
    "checked",
    "choice",
    "little_qps",
    "problems_error",
    "request_seconds",
]

# R1 is a reasoning model: its answers carry a long chain of thought. DeepSeek-R1's paper
# (arXiv 2501.12948, fig. 3) shows average response length growing past several thousand
# tokens during RL; 4,096 output tokens is a middle figure for reasoning traffic, and 1,024
# prompt tokens a typical chat/RAG prompt. Both are defaults to override, not measurements.
DEFAULT_PROMPT_TOKENS = 1024
DEFAULT_OUTPUT_TOKENS = 4096
DEFAULT_STAGE = "production"
DEFAULT_OBJECTIVE = "cost"
DEFAULT_KV_CACHE_PRECISION = "bf16"
# vLLM: the most deployed open engine and the most measured; it runs every layout (engines.toml)
DEFAULT_ENGINE = "vllm"


def _fail(field: str, problem: str, value: object) -> WorkloadError:
    return WorkloadError(f"{field}: {problem}; got {safe_repr(value)}")


def problems_error(problems: list[str], what: str = "the workload") -> WorkloadError:
    """One WorkloadError for every problem (each a line starting with its field); a single
    problem is the message as it is."""
    if len(problems) == 1:
        return WorkloadError(problems[0])
    lines = "\n".join(f"  {p}" for p in problems)
    return WorkloadError(f"{len(problems)} problems in {what}:\n{lines}")


def _number(field: str, value: object, *, above_low: bool = True, fact: str = "") -> float:
    """A finite number within the range the rules' fact vocabulary gives the field (its
    ``low`` excluded when ``above_low``: no requests, latency or budget is no workload),
    whole when the vocabulary's fact is. Every numeric field is checked here, against the
    vocabulary's bounds (the one copy of them)."""
    spec = BUILTIN_FACTS[fact or field]
    if isinstance(value, bool) or not isinstance(value, int if spec.integer else (int, float)):
        what = f"a whole number of {spec.unit}" if spec.integer else "a number"
        raise _fail(field, f"expected {what}, not {type(value).__name__}", value)
    if isinstance(value, float) and not math.isfinite(value):  # an int: the range below
        raise _fail(field, "must be a finite number", value)

    def shown(bound: float) -> str:
        return str(int(bound)) if spec.integer else f"{bound:g}"

    if above_low and value <= spec.low:
        raise _fail(field, f"must be greater than {shown(spec.low)}", value)
    if not spec.low <= value <= spec.high:
        unit = f" {spec.unit}" if spec.unit else ""
        opening = "(" if above_low else "["
        allowed = f"{opening}{shown(spec.low)}, {shown(spec.high)}]{unit}"
        raise _fail(field, f"must be in {allowed}", value)
    return value if spec.integer else float(value)


def choice(field: str, value: object, allowed: tuple[str, ...]) -> str:
    """``value`` as one of ``allowed`` (lower-case names): case and surrounding whitespace
    are ignored, as in catalog ids (``FP8`` is ``fp8``); anything else is a WorkloadError."""
    if isinstance(value, str) and value.strip().lower() in allowed:
        return value.strip().lower()
    if not isinstance(value, str) or value not in allowed:
        hint = suggest(value, allowed) if isinstance(value, str) else ""
        raise WorkloadError(
            f"{field}: {safe_repr(value)} is not allowed{hint}; allowed: {', '.join(allowed)}"
        )
    return value


def _name(field: str, what: str, value: object) -> str:
    """A catalog name as given (surrounding whitespace removed); looked up at resolution."""
    if not isinstance(value, str):
        raise _fail(field, f"expected a {what} id (str), not {type(value).__name__}", value)
    if not value.strip():
        raise _fail(field, f"expected a {what} id, not an empty string", value)
    return value.strip()


def _model(value: object) -> str | Model | None:
    if value is None or isinstance(value, Model):
        return value
    return _name("model", "model", value)


# One check per field: each returns the stored value or raises WorkloadError naming the field.
def _optional(field: str, fact: str = "", *, above_low: bool = True) -> Callable[[object], object]:
    return lambda v: None if v is None else _number(field, v, above_low=above_low, fact=fact)


_CHECKS: dict[str, Callable[[object], object]] = {
    "peak_qps": _optional("peak_qps"),
    "concurrent_requests": _optional("concurrent_requests"),
    "latency_ms": _optional("latency_ms"),
    "tpot_ms": _optional("tpot_ms", "tpot_target_ms"),
    "model": _model,
    "params_b": lambda v: None if v is None else _number("params_b", v),
    "precision": lambda v: None if v is None else choice("precision", v, PRECISIONS),
    "kv_cache_precision": lambda v: choice("kv_cache_precision", v, KV_PRECISIONS),
    "gpu": lambda v: None if v is None else _name("gpu", "GPU", v),
    "prompt_tokens": lambda v: int(_number("prompt_tokens", v, above_low=False)),
    "output_tokens": lambda v: int(_number("output_tokens", v, above_low=False)),
    "stage": lambda v: choice("stage", v, STAGES),
    "budget_usd": _optional("budget_usd", above_low=False),
    "objective": lambda v: choice("objective", v, OBJECTIVES),
    "gpu_count": _optional("gpu_count", "fleet_gpu_count", above_low=False),
    "engine": lambda v: choice("engine", v, ENGINES),
    "request_overhead_ms": _optional("request_overhead_ms", above_low=False),
}


def checked(field: str, value: object) -> Any:
    """``value`` as the Workload field ``field`` stores it; WorkloadError naming the field."""
    return _CHECKS[field](value)


def _load_problems(values: dict[str, Any], bad: set[str]) -> list[str]:
    """The load and the targets: peak_qps or concurrent_requests (one of them; both only
    when they agree, as in a resolved workload), latency_ms, and a pinned GPU for
    gpu_count. A fleet (gpu_count) needs neither load nor target: it is asked what load
    it carries."""
    if bad & {"gpu_count", "gpu"}:
        return []
    qps, concurrent = values.get("peak_qps"), values.get("concurrent_requests")
    latency, fleet = values.get("latency_ms"), values["gpu_count"] is not None
    if bad & {"peak_qps", "concurrent_requests"}:
        qps = concurrent = 0.0  # reported already: no "required" beside it
    if "latency_ms" in bad:
        latency = 0.0
    problems: list[str] = []
    if fleet and values["gpu"] is None:
        problems.append(
            "gpu_count: a fleet needs its GPU model too (gpu = ...); without one, leave "
            "gpu_count out and r1rules sizes the fleet"
        )
    if qps is None and concurrent is None and not fleet:
        problems.append(
            "peak_qps: required (peak requests per second), or give concurrent_requests "
            "(requests in flight at peak), or gpu_count with gpu for a fleet you have"
        )
    if latency is None and (concurrent is not None or not fleet):
        problems.append("latency_ms: required (time-to-first-token target in milliseconds)")
    if qps and concurrent and latency:
        derived = little_qps(concurrent, latency, values["tpot_ms"], values["output_tokens"])
        if not math.isclose(qps, derived, rel_tol=1e-9):
            problems.append(
                f"peak_qps/concurrent_requests: give one of them (concurrent_requests "
                f"{concurrent:g} means peak_qps {derived:.6g} by Little's law here; got "
                f"peak_qps {qps:g})"
            )
    return problems


def _field_order(problem: str) -> int:
    name = problem.split(":", 1)[0].split("/", 1)[0]
    return FIELD_NAMES.index(name) + 1 if name in FIELD_NAMES else 0


@attrs.frozen(kw_only=True, init=False)
class Workload:
    """What has to be served. Validated on construction: every bad field is reported at once.

    Give either ``model`` (a catalog id, Hugging Face repo id or alias, or a ``Model``
    record such as ``model_from_hf_config("config.json")`` returns) or ``params_b``
    (a generic dense model of that many billion parameters), not both. ``precision``
    defaults to the model's native precision (FP8 for R1, BF16 for the distills), filled in
    by :meth:`resolve`. ``latency_ms`` is the time-to-first-token target. ``gpu`` pins the
    GPU model. ``objective`` chooses the answer among the options: ``cost`` (the default:
    the cheapest that meets the targets in the seed §5 class), ``latency`` (the fastest
    within ``budget_usd``) or ``article`` (the article's configuration, as r1rules 0.1).

    The load is ``peak_qps`` or ``concurrent_requests`` (requests in flight at peak):
    :meth:`resolve` turns the latter into ``peak_qps`` by Little's law, each request lasting
    ``latency_ms`` plus ``tpot_ms`` per further output token (``tpot_ms`` defaults then to
    MLPerf's 80 ms for R1 and becomes a target). ``tpot_ms`` is a time-per-output-token
    target beside ``latency_ms``, used by sizing and the rules. ``gpu_count`` (with ``gpu``)
    describes a fleet the user already has: :func:`r1rules.fleet` says what it carries
    (``evaluate`` sizes a new deployment and refuses it). ``engine`` is the serving engine
    (``vllm``, the default; ``sglang``, ``trtllm``, ``llama.cpp``): its efficiency profile
    and the layouts it can run shape every estimate. ``request_overhead_ms``: your stack's
    measured way to a first token off the GPU (API, tokenizer, admission), counted in every
    TTFT instead of the engine profile's ``request_ms``. Model and GPU names are kept as
    given until :meth:`resolve` looks them up in the rules' catalog.
    """

    peak_qps: float | None = None
    latency_ms: float | None = None
    model: str | Model | None = None
    params_b: float | None = None
    precision: str | None = None
    kv_cache_precision: str = DEFAULT_KV_CACHE_PRECISION
    gpu: str | None = None
    prompt_tokens: int = DEFAULT_PROMPT_TOKENS
    output_tokens: int = DEFAULT_OUTPUT_TOKENS
    stage: str = DEFAULT_STAGE
    budget_usd: float | None = None
    objective: str = DEFAULT_OBJECTIVE
    concurrent_requests: float | None = None
    tpot_ms: float | None = None
    gpu_count: int | None = None
    engine: str = DEFAULT_ENGINE
    request_overhead_ms: float | None = None

    def __init__(
        self,
        *args: object,
        peak_qps: float | None = None,
        latency_ms: float | None = None,
        model: str | Model | None = None,
        params_b: float | None = None,
        precision: str | None = None,
        kv_cache_precision: str = DEFAULT_KV_CACHE_PRECISION,
        gpu: str | None = None,
        prompt_tokens: int = DEFAULT_PROMPT_TOKENS,
        output_tokens: int = DEFAULT_OUTPUT_TOKENS,
        stage: str = DEFAULT_STAGE,
        budget_usd: float | None = None,
        objective: str = DEFAULT_OBJECTIVE,
        concurrent_requests: float | None = None,
        tpot_ms: float | None = None,
        gpu_count: int | None = None,
        engine: str = DEFAULT_ENGINE,
        request_overhead_ms: float | None = None,
        **unknown: object,
    ) -> None:
        # Written out (not attrs' own) so that a positional value or an unknown field name is
        # a WorkloadError like every other bad input, not Python's TypeError, and so that
        # every bad field is reported in one error.
        if args:
            raise WorkloadError(
                f"Workload takes keyword arguments only (field=value); got "
                f"{len(args)} positional value(s)"
            )
        given: dict[str, object] = {
            "peak_qps": peak_qps,
            "latency_ms": latency_ms,
            "model": model,
            "params_b": params_b,
            "precision": precision,
            "kv_cache_precision": kv_cache_precision,
            "gpu": gpu,
            "prompt_tokens": prompt_tokens,
            "output_tokens": output_tokens,
            "stage": stage,
            "budget_usd": budget_usd,
            "objective": objective,
            "concurrent_requests": concurrent_requests,
            "tpot_ms": tpot_ms,
            "gpu_count": gpu_count,
            "engine": engine,
            "request_overhead_ms": request_overhead_ms,
        }
        problems = [
            f"{name}: unknown workload field{suggest(name, FIELD_NAMES)}; "
            f"allowed: {', '.join(FIELD_NAMES)}"
            for name in sorted(unknown)
        ]
        values: dict[str, Any] = {}
        bad: set[str] = set()
        for name, check in _CHECKS.items():
            try:
                values[name] = check(given[name])
            except WorkloadError as exc:
                problems.append(str(exc))
                bad.add(name)
        # (no model at all beside an unknown field: that field is the misspelt model, named)
        misspelt = unknown and model is None and params_b is None
        if (
            not bad & {"model", "params_b"}
            and (model is None) == (params_b is None)
            and not misspelt
        ):
            both = "both were given" if model is not None else "neither was given"
            problems.append(
                f"model/params_b: give exactly one of model (a catalog id) "
                f"or params_b (billions of parameters); {both}"
            )
        if not bad & {"output_tokens", "tpot_ms"}:
            problems += _load_problems(values, bad)
        problems.sort(key=_field_order)  # unknown names first, then in field order
        if problems:
            raise problems_error(problems)
        self.__attrs_init__(**values)

    def resolve(self, catalog: Catalog | None = None) -> tuple[Workload, Model]:
        """This workload with canonical ids and its precision filled in, and its model.

        Names are looked up in ``catalog`` (default: the shipped one); ``evaluate`` passes
        the rule set's. Raises WorkloadError listing an unknown model or GPU (with a "did
        you mean") and prompt + output tokens beyond the model's context window. A
        workload that is already canonical is returned as it is.
        """
        catalog = default_catalog() if catalog is None else catalog
        problems: list[str] = []
        model: Model | None = None
        if isinstance(self.model, Model):
            model = self.model
        elif self.model is not None:
            try:  # a canonical id is found as it is (a record's id is one of its names)
                model = catalog.models.get(self.model) or catalog.model(self.model)
            except CatalogError as exc:
                problems.append(f"model: {exc}")
        else:
            assert self.params_b is not None
            model = generic_dense_model(self.params_b)
        gpu = self.gpu
        if gpu is not None and gpu not in catalog.gpus:
            try:
                gpu = catalog.gpu(gpu).id
            except CatalogError as exc:
                problems.append(f"gpu: {exc}")
        if model is not None and self.sequence_tokens > model.max_context_tokens:
            problems.append(
                f"prompt_tokens + output_tokens: {self.prompt_tokens} + "
                f"{self.output_tokens} = {self.sequence_tokens} tokens exceeds the context "
                f"window of {model.id} ({model.max_context_tokens} tokens)"
            )
        if problems:
            raise problems_error(problems)
        assert model is not None
        changes: dict[str, object] = {
            "model": model.id if isinstance(self.model, str) else self.model,
            "gpu": gpu,
            "precision": self.precision or model.native_precision,
        }
        if self.concurrent_requests is not None and self.latency_ms is not None:
            # the load in requests/s, and the TPOT that Little's law assumed as a target
            tpot = self.tpot_ms or DEFAULT_TPOT_MS_FOR_CONCURRENCY
            changes["tpot_ms"] = tpot
            changes["peak_qps"] = little_qps(
                self.concurrent_requests, self.latency_ms, tpot, self.output_tokens
            )
        if all(getattr(self, name) == value for name, value in changes.items()):
            return self, model
        values = {name: getattr(self, name) for name in FIELD_NAMES} | changes
        canonical = object.__new__(Workload)
        canonical.__attrs_init__(**values)  # the changes are valid: no second check
        return canonical, model

    def resolved_model(self, catalog: Catalog | None = None) -> Model:
        """The model this workload names in ``catalog`` (default: the shipped one), the
        record given, or the generic model for ``params_b``."""
        return self.resolve(catalog)[1]

    @property
    def sequence_tokens(self) -> int:
        return self.prompt_tokens + self.output_tokens

    def to_dict(self) -> dict[str, object]:
        """JSON-ready fields; a custom Model record is shown by its id."""
        data = attrs.asdict(self, recurse=False)
        if isinstance(self.model, Model):
            data["model"] = self.model.id
        return data


FIELD_NAMES: tuple[str, ...] = tuple(a.name for a in attrs.fields(Workload))
