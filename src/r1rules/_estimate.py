"""r1rules.estimate(): the physics of a deployment the user already has."""

from __future__ import annotations

from ._catalog import Gpu, Model, default_catalog
from ._errors import CatalogError, WorkloadError
from ._facts import KV_PRECISIONS, PRECISIONS
from ._roofline import Estimates
from ._roofline import estimate as _roofline_estimate
from ._workload import DEFAULT_OUTPUT_TOKENS, DEFAULT_PROMPT_TOKENS, _choice

__all__ = ["estimate"]


def _count(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise WorkloadError(f"{name}: expected a whole number, not {type(value).__name__}; "
                            f"got {value!r}")
    if value < 1:
        raise WorkloadError(f"{name}: must be at least 1; got {value!r}")
    return value


def estimate(*, model: str | Model, gpu: str | Gpu, gpu_count: int, concurrency: int,
             precision: str | None = None, prompt_tokens: int = DEFAULT_PROMPT_TOKENS,
             output_tokens: int = DEFAULT_OUTPUT_TOKENS, kv_cache_precision: str = "bf16",
             tensor_parallel: int | None = None) -> Estimates:
    """Memory, TTFT, TPOT and throughput of ``concurrency`` users on ``gpu_count`` GPUs.

    ``model`` and ``gpu`` are catalog ids, aliases or records; ``precision`` defaults to the
    model's native one. "I have 8 x H200: what TPOT at 64 concurrent users?" is
    ``estimate(model="deepseek-r1", gpu="h200", gpu_count=8, concurrency=64)``.
    Bad arguments raise WorkloadError naming the argument; a deployment that cannot hold
    the model returns ``fits=False``.
    """
    catalog = default_catalog()
    try:
        model_record = model if isinstance(model, Model) else catalog.model(_id("model", model))
        gpu_record = gpu if isinstance(gpu, Gpu) else catalog.gpu(_id("gpu", gpu))
    except CatalogError as exc:
        raise WorkloadError(str(exc)) from None
    chosen = model_record.native_precision if precision is None else precision
    _choice("precision", chosen, PRECISIONS)
    _choice("kv_cache_precision", kv_cache_precision, KV_PRECISIONS)
    return _roofline_estimate(
        model_record, chosen, gpu_record, _count("gpu_count", gpu_count),
        _count("concurrency", concurrency), _count("prompt_tokens", prompt_tokens),
        _count("output_tokens", output_tokens), kv_precision=kv_cache_precision,
        tensor_parallel=None if tensor_parallel is None
        else _count("tensor_parallel", tensor_parallel))


def _id(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise WorkloadError(f"{name}: expected a catalog id (str), not {type(value).__name__}; "
                            f"got {value!r}")
    return value
