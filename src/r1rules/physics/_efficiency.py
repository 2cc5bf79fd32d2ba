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

from r1rules._workload import DEFAULT_ENGINE
from r1rules.catalog import Engine, EngineProfile, Gpu, default_catalog

__all__ = ["Efficiency", "default_engine", "efficiency", "engine_or_default"]

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
