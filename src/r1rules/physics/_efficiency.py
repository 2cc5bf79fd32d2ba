"""How close serving kernels come to a GPU's datasheet: the engine's profile for a GPU.

The figures are catalog data (``rules/catalog/engines.toml``, one profile per engine, GPU
vendor and segment, each figure with its source or the training cases of
``benchmarks/measurements.toml`` it was fitted on); :class:`~r1rules.catalog.EngineProfile`
holds them. Each field is a fraction of a datasheet rate (memory bandwidth, dense tensor
TFLOPS) or a time the datasheet has no rate for (a kernel's launch-and-drain; ``step_ms``,
the host's work per forward pass). ``benchmarks/accuracy.py`` prints each fitted figure's
error on the held-out split. Physics functions take an :class:`~r1rules.catalog.Engine`;
None means the default engine (``Workload.engine``'s default) of the shipped catalog.
"""

from __future__ import annotations

import functools

from r1rules._workload import DEFAULT_ENGINE
from r1rules.catalog import Engine, EngineProfile, Gpu, default_catalog

__all__ = ["Efficiency", "default_engine", "efficiency", "engine_or_default", "with_overhead"]

# The roofline's name for one profile: what the kernels of an engine reach on a GPU.
Efficiency = EngineProfile


def default_engine() -> Engine:
    """The default engine of the shipped catalog."""
    return default_catalog().engine(DEFAULT_ENGINE)


def engine_or_default(engine: Engine | None) -> Engine:
    return default_engine() if engine is None else engine


def efficiency(gpu: Gpu, engine: Engine | None = None) -> Efficiency:
    """The profile of ``engine`` (default: :func:`default_engine`) for ``gpu``'s vendor and
    segment, or its explicit fallback vendor's; CatalogError when the engine does not run on
    ``gpu``."""
    return engine_or_default(engine).profile(gpu)


@functools.lru_cache(maxsize=256)  # the same record for the same figure: caches key on it
def with_overhead(engine: Engine, request_overhead_ms: float | None, stated_by: str) -> Engine:
    """``engine`` with a measured stack's way to a first token off the GPU in place of every
    profile's ``request_ms`` (``stated_by`` names the input); ``engine`` itself for None."""
    if request_overhead_ms is None:
        return engine
    source = f"stated: {stated_by} = {request_overhead_ms:g} ms (the user's measured stack)"
    return engine.with_request_ms(request_overhead_ms, source)
