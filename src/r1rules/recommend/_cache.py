"""Bounded caches of pure physics for the recommend layer: a deployment's cost and its
estimates. Both are functions of immutable records and numbers only (never of rule-engine
results), and planners evaluate the same deployments again across budgets, stages and
policies, as the sizing cache (``physics._sizing.size``) already assumes.

``clear()`` empties them (the benchmark's cold measurement does, with the sizing cache).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from r1rules.catalog import Engine, Gpu, Model, PriceList
from r1rules.physics import SIZING_CACHE_SIZE, Cost, Estimates, cost_of, estimate_deployment

__all__ = [
    "COST_CACHE_SIZE",
    "Identity",
    "cached_cost",
    "cached_estimates",
    "clear",
    "cost_by_identity",
    "on_clear",
]

_clearers: list[Callable[[], None]] = []


def on_clear(clearer: Callable[[], None]) -> None:
    """Have ``clear()`` call ``clearer`` too (another module's cache of pure physics)."""
    _clearers.append(clearer)


class Identity(tuple[int]):
    """A key that is its object's identity, for records that are slow to hash (a price list
    hashes all of its prices on every ``hash``: microseconds) and always the same object
    for the same value where it is used; a cache entry holding this key keeps the object
    (``item``) alive, so that its id is never reused meanwhile. A tuple of the id: hashed
    and compared in C (a key of every cache of the options path); the caches it keys hold
    no other tuples in its place."""

    item: object

    def __new__(cls, item: object) -> Identity:
        key = super().__new__(cls, (id(item),))
        key.item = item
        return key


# One cost per sized deployment in each of its two forms (described, for an option; not,
# for the order of the options): twice the sizing cache (``physics._sizing.size``), so that
# a deployment whose sizing is cached finds its cost cached too. Measured, with 8,192:
# the warm options=True benchmark (about 11,000 sizings) recomputed 80% of its costs.
COST_CACHE_SIZE = 2 * SIZING_CACHE_SIZE


@functools.lru_cache(maxsize=COST_CACHE_SIZE, typed=True)
def cost_by_identity(
    prices: Identity,
    gpu: Gpu,
    gpu_count: int,
    nodes: int,
    fabric_id: str,
    output_tokens_per_s: float,
    describe: bool,
) -> Cost | None:
    """``cost``, for a price list already wrapped in ``Identity``."""
    item = prices.item
    assert isinstance(item, PriceList)
    return cost_of(item, gpu, gpu_count, nodes, fabric_id, output_tokens_per_s, describe=describe)


def cached_cost(
    prices: PriceList,
    gpu: Gpu,
    gpu_count: int,
    nodes: int,
    fabric_id: str,
    output_tokens_per_s: float,
    *,
    describe: bool = True,
) -> Cost | None:
    """``physics.cost_of`` with the same arguments, cached."""
    return cost_by_identity(
        Identity(prices), gpu, gpu_count, nodes, fabric_id, output_tokens_per_s, describe
    )


@functools.lru_cache(maxsize=4096, typed=True)
def cached_estimates(
    model: Model,
    precision: str,
    gpu: Gpu,
    gpu_count: int,
    concurrency: int,
    prompt_tokens: int,
    output_tokens: int,
    kv_precision: str,
    tensor_parallel: int | None,
    pipeline_parallel: int | None,
    expert_parallel: int | None,
    data_parallel_attention: bool | None,
    engine: Engine,
) -> Estimates:
    """``physics.estimate_deployment`` with the same arguments, cached; every argument is
    positional (an immutable record, a number, a string or None), so that the key is
    built from the arguments alone (keywords cost the key their names)."""
    return estimate_deployment(
        model,
        precision,
        gpu,
        gpu_count,
        concurrency,
        prompt_tokens,
        output_tokens,
        kv_precision,
        tensor_parallel,
        pipeline_parallel,
        expert_parallel=expert_parallel,
        data_parallel_attention=data_parallel_attention,
        engine=engine,
    )


def clear() -> None:
    """Empty every cache of the recommend layer."""
    cost_by_identity.cache_clear()
    cached_estimates.cache_clear()
    for clearer in _clearers:
        clearer()
