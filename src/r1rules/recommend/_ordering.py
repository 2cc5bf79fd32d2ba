"""The catalog's GPUs in the orders the decision reads them: by id, the ones that can hold
the model, and by an objective's ``preview_key`` (each cached by the identity of the
sizings it was found from)."""

from __future__ import annotations

import functools
import types
from collections.abc import Mapping

from r1rules.catalog import Catalog, Gpu
from r1rules.physics import Sizing
from r1rules.recommend._cache import Identity, cost_by_identity, on_clear
from r1rules.recommend._options import preview_key

__all__ = ["by_id", "gpu_order", "sizable"]


@functools.lru_cache(maxsize=64)
def by_id(catalog: Identity) -> tuple[Gpu, ...]:
    """A catalog's GPUs in the order of their ids."""
    item = catalog.item
    assert isinstance(item, Catalog)
    return tuple(sorted(item.gpus.values(), key=lambda g: g.id))


@functools.lru_cache(maxsize=1024)
def sizable(
    catalog: Identity, found: Identity
) -> tuple[Mapping[str, Sizing | None], tuple[Gpu, ...]]:
    """Each GPU's sizing in ``found`` (``sizings_for`` the catalog's GPUs, by id) by its id,
    read-only, and the GPUs that can hold the model; cached by the tuple's identity."""
    sizings = found.item
    assert isinstance(sizings, tuple)
    gpus = by_id(catalog)
    keyed = types.MappingProxyType({g.id: s for g, s in zip(gpus, sizings, strict=True)})
    return keyed, tuple([g for g, s in zip(gpus, sizings, strict=True) if s is not None])


on_clear(sizable.cache_clear)


@functools.lru_cache(maxsize=1024, typed=True)
def gpu_order(
    catalog: Identity,
    prices: Identity,
    found: Identity,
    fabric: str,
    budget: float | None,
    article: str | None,
    objective: str,
) -> tuple[Gpu, ...]:
    """``_Brancher.ordered``: the catalog's GPUs that ``found`` sized (its sizings, in the
    order of ``by_id``; None for a GPU that cannot hold the model) sorted by
    ``preview_key``."""
    sizings = found.item
    assert isinstance(sizings, tuple)
    keyed: list[tuple[tuple[object, ...], Gpu]] = []
    for gpu, sizing in zip(by_id(catalog), sizings, strict=True):
        if sizing is None:
            continue
        cost = cost_by_identity(
            prices,
            gpu,
            sizing.sized_gpu_count,
            sizing.nodes,
            fabric,
            sizing.output_tokens_per_s,
            False,
        )
        within = None if budget is None or cost is None else cost.capital_usd <= budget
        key = preview_key(sizing, cost, within, article=gpu.id == article, objective=objective)
        keyed.append((key, gpu))
    keyed.sort(key=_first)  # each key ends with its GPU's id: no two are equal
    return tuple([gpu for _, gpu in keyed])


on_clear(gpu_order.cache_clear)


def _first(pair: tuple[tuple[object, ...], Gpu]) -> tuple[object, ...]:
    return pair[0]
