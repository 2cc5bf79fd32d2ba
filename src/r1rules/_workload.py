"""The workload: the validated input fact. A Workload that exists is a valid one."""

from __future__ import annotations

import math

import attrs

from r1rules._errors import CatalogError, WorkloadError, suggest
from r1rules._vocabulary import BUILTIN_FACTS, KV_PRECISIONS, PRECISIONS
from r1rules.catalog import Model, default_catalog, generic_dense_model

__all__ = ["DEFAULT_OUTPUT_TOKENS", "DEFAULT_PROMPT_TOKENS", "STAGES", "Workload"]

STAGES = ("development", "production")

# R1 is a reasoning model: its answers carry a long chain of thought. DeepSeek-R1's paper
# (arXiv 2501.12948, fig. 3) shows average response length growing past several thousand
# tokens during RL; 4,096 output tokens is a middle figure for reasoning traffic, and 1,024
# prompt tokens a typical chat/RAG prompt. Both are defaults to override, not measurements.
DEFAULT_PROMPT_TOKENS = 1024
DEFAULT_OUTPUT_TOKENS = 4096


def _fail(field: str, problem: str, value: object) -> WorkloadError:
    return WorkloadError(f"{field}: {problem}; got {value!r}")


def _number(field: str, value: object, *, positive: bool = True) -> float:
    """A finite number within the range the rules' fact vocabulary gives the field."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _fail(field, f"expected a number, not {type(value).__name__}", value)
    try:
        finite = math.isfinite(value)
    except OverflowError:  # an int beyond any float
        finite = False
    if not finite:
        raise _fail(field, "must be a finite number", value)
    if positive and value <= 0:
        raise _fail(field, "must be greater than 0", value)
    if value < 0:
        raise _fail(field, "must be 0 or more", value)
    spec = BUILTIN_FACTS.get(field)
    if spec is not None and value > spec.high:
        unit = f" {spec.unit}" if spec.unit else ""
        raise _fail(field, f"must be at most {spec.high:g}{unit}", value)
    return float(value)


def _tokens(field: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(field, f"expected a whole number of tokens, not {type(value).__name__}", value)
    if value < 1:
        raise _fail(field, "must be at least 1 token", value)
    return value


def choice(field: str, value: object, allowed: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in allowed:
        hint = suggest(value, allowed) if isinstance(value, str) else ""
        raise WorkloadError(
            f"{field}: {value!r} is not allowed{hint}; allowed: {', '.join(allowed)}"
        )
    return value


def _model_id(value: object) -> str | Model | None:
    if value is None or isinstance(value, Model):
        return value
    if not isinstance(value, str):
        raise _fail("model", f"expected a model id (str), not {type(value).__name__}", value)
    try:
        return default_catalog().model(value).id
    except CatalogError as exc:
        raise WorkloadError(f"model: {exc}") from None


def _gpu_id(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _fail("gpu", f"expected a GPU id (str), not {type(value).__name__}", value)
    try:
        return default_catalog().gpu(value).id
    except CatalogError as exc:
        raise WorkloadError(f"gpu: {exc}") from None


def _required(field: str, meaning: str, value: object) -> float:
    if value is None:
        raise WorkloadError(f"{field}: required ({meaning})")
    return _number(field, value)


# Named converters (one per field): attrs runs them before the instance exists.
def _peak_qps(value: object) -> float:
    return _required("peak_qps", "peak requests per second", value)


def _latency_ms(value: object) -> float:
    return _required("latency_ms", "time-to-first-token target in milliseconds", value)


def _params_b(value: object) -> float | None:
    return None if value is None else _number("params_b", value)


def _budget_usd(value: object) -> float | None:
    return None if value is None else _number("budget_usd", value)


def _kv_cache_precision(value: object) -> str:
    return choice("kv_cache_precision", value, KV_PRECISIONS)


def _prompt_tokens(value: object) -> int:
    return _tokens("prompt_tokens", value)


def _output_tokens(value: object) -> int:
    return _tokens("output_tokens", value)


def _stage(value: object) -> str:
    return choice("stage", value, STAGES)


@attrs.frozen(kw_only=True, init=False)
class Workload:
    """What has to be served. Validated on construction; ids are stored canonical.

    Give either ``model`` (a catalog id, Hugging Face repo id or alias, or a ``Model``
    record such as ``model_from_hf_config("config.json")`` returns) or ``params_b``
    (a generic dense model of that many billion parameters), not both. ``precision``
    defaults to the model's native precision (FP8 for R1, BF16 for the distills).
    ``latency_ms`` is the time-to-first-token target. ``gpu`` pins the GPU model.
    """

    peak_qps: float = attrs.field(default=None, converter=_peak_qps)
    latency_ms: float = attrs.field(default=None, converter=_latency_ms)
    model: str | Model | None = attrs.field(default=None, converter=_model_id)
    params_b: float | None = attrs.field(default=None, converter=_params_b)
    precision: str | None = attrs.field(default=None)
    kv_cache_precision: str = attrs.field(default="bf16", converter=_kv_cache_precision)
    gpu: str | None = attrs.field(default=None, converter=_gpu_id)
    prompt_tokens: int = attrs.field(default=DEFAULT_PROMPT_TOKENS, converter=_prompt_tokens)
    output_tokens: int = attrs.field(default=DEFAULT_OUTPUT_TOKENS, converter=_output_tokens)
    stage: str = attrs.field(default="production", converter=_stage)
    budget_usd: float | None = attrs.field(default=None, converter=_budget_usd)

    def __init__(
        self,
        *args: object,
        peak_qps: float | None = None,
        latency_ms: float | None = None,
        model: str | Model | None = None,
        params_b: float | None = None,
        precision: str | None = None,
        kv_cache_precision: str = "bf16",
        gpu: str | None = None,
        prompt_tokens: int = DEFAULT_PROMPT_TOKENS,
        output_tokens: int = DEFAULT_OUTPUT_TOKENS,
        stage: str = "production",
        budget_usd: float | None = None,
        **unknown: object,
    ) -> None:
        # Written out (not attrs' own) so that a positional value or an unknown field name is
        # a WorkloadError like every other bad input, not Python's TypeError.
        if args:
            raise WorkloadError(
                f"Workload takes keyword arguments only (field=value); got "
                f"{len(args)} positional value(s)"
            )
        if unknown:
            name = sorted(unknown)[0]
            raise WorkloadError(
                f"{name}: unknown workload field{suggest(name, FIELD_NAMES)}; "
                f"allowed: {', '.join(FIELD_NAMES)}"
            )
        self.__attrs_init__(
            peak_qps=peak_qps,
            latency_ms=latency_ms,
            model=model,
            params_b=params_b,
            precision=precision,
            kv_cache_precision=kv_cache_precision,
            gpu=gpu,
            prompt_tokens=prompt_tokens,
            output_tokens=output_tokens,
            stage=stage,
            budget_usd=budget_usd,
        )

    def __attrs_post_init__(self) -> None:
        if (self.model is None) == (self.params_b is None):
            both = "both were given" if self.model is not None else "neither was given"
            raise WorkloadError(
                f"model/params_b: give exactly one of model (a catalog id) "
                f"or params_b (billions of parameters); {both}"
            )
        if self.precision is None:
            object.__setattr__(self, "precision", self.resolved_model().native_precision)
        else:
            choice("precision", self.precision, PRECISIONS)
        window = self.resolved_model().max_context_tokens
        total = self.prompt_tokens + self.output_tokens
        if total > window:
            raise WorkloadError(
                f"prompt_tokens + output_tokens: {self.prompt_tokens} + "
                f"{self.output_tokens} = {total} tokens exceeds the context "
                f"window of {self.resolved_model().id} ({window} tokens)"
            )

    def resolved_model(self) -> Model:
        """The catalog model (or the record given), or the generic model for ``params_b``."""
        if isinstance(self.model, Model):
            return self.model
        if self.model is not None:
            return default_catalog().model(self.model)
        assert self.params_b is not None
        return generic_dense_model(self.params_b)

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
