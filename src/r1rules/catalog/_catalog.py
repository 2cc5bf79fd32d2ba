"""Model and GPU catalogs: TOML data with sources -> frozen records.

The shipped catalogs live in the top-level ``rules/catalog/`` folder (``models.toml``,
``gpus.toml``); users extend them with files of the same shape (see ``load_catalog``).
Parameter counts follow ``[meta] param_count_derivation`` of ``rules/catalog/models.toml``.
"""

from __future__ import annotations

import functools
import importlib.resources
import os
from collections.abc import Mapping
from pathlib import Path

import attrs

from r1rules._errors import CatalogError, suggest
from r1rules._vocabulary import PRECISIONS
from r1rules.catalog._engines import Engine, engines_of
from r1rules.catalog._generic import generic_dense_model
from r1rules.catalog._hf_config import model_from_hf_config
from r1rules.catalog._load import lookup_key, read_catalog
from r1rules.catalog._prices import EMPTY_PRICES, PRICE_TABLES, PriceList, price_list
from r1rules.catalog._records import FrozenMap, Gpu, Model, dense_param_count, frozen
from r1rules.catalog._schema import ATTENTIONS, KINDS, SEGMENTS

__all__ = [
    "ATTENTIONS",
    "KINDS",
    "PRECISIONS",
    "SEGMENTS",
    "Catalog",
    "Engine",
    "FrozenMap",
    "Gpu",
    "Model",
    "default_catalog",
    "dense_param_count",
    "generic_dense_model",
    "load_catalog",
    "model_from_hf_config",
    "shipped_engines",
    "shipped_rules_dir",
]


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


@functools.cache
def shipped_engines() -> FrozenMap[str, Engine]:
    """The engines of the shipped ``engines.toml``, read once per process."""
    entries = read_catalog((shipped_rules_dir() / "catalog" / "engines.toml",))
    return engines_of(entries["engines"], entries["engine_profiles"])


@attrs.frozen
class Catalog:
    """Models and GPUs by canonical id, plus an alias index (lower-cased) for lookups."""

    models: Mapping[str, Model] = attrs.field(converter=frozen)
    gpus: Mapping[str, Gpu] = attrs.field(converter=frozen)
    prices: PriceList = EMPTY_PRICES
    # serving engines by id, each with its profiles; the shipped ones unless given
    engines: Mapping[str, Engine] = attrs.field(factory=shipped_engines, converter=frozen)
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

    def engine(self, name: str) -> Engine:
        """The serving engine ``name`` (an id of ``ENGINES``, case-insensitive); CatalogError
        with a "did you mean" and the known ids otherwise."""
        found = self.engines.get(name.strip().lower()) if isinstance(name, str) else None
        if found is None:
            known = ", ".join(sorted(self.engines)) or "(none)"
            raise CatalogError(
                f"unknown engine {name!r}{suggest(str(name), self.engines)}; known engines: {known}"
            )
        return found

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
    files = tuple(shipped / name for name in _SHIPPED) if include_default else ()
    entries = read_catalog((*files, *(Path(p) for p in paths)))
    engines = entries["engines"]
    return Catalog(
        models={e.id: Model(id=e.id, **e.fields) for e in entries["models"]},
        gpus={e.id: Gpu(id=e.id, **e.fields) for e in entries["gpus"]},
        prices=price_list({top: {e.id: e.fields for e in entries[top]} for top in PRICE_TABLES}),
        # a catalog of its own without engines serves with the shipped engines
        engines=engines_of(engines, entries["engine_profiles"]) if engines else shipped_engines(),
    )


_SHIPPED = ("models.toml", "gpus.toml", "prices.toml", "engines.toml")


@functools.cache
def default_catalog() -> Catalog:
    """The shipped catalog, loaded once per process and cached (it is immutable)."""
    return load_catalog()
