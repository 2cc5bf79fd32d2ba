"""Catalogs: models, GPUs and serving engines as validated records, their TOML loading,
and HF config import."""

from r1rules.catalog._catalog import (
    Catalog,
    FrozenMap,
    Gpu,
    Model,
    default_catalog,
    generic_dense_model,
    load_catalog,
    model_from_hf_config,
    shipped_engines,
    shipped_rules_dir,
)
from r1rules.catalog._engines import FIGURES, MEMORY_BUDGETS, Engine, EngineProfile
from r1rules.catalog._prices import (
    EMPTY_PRICES,
    INCLUDED,
    Assumptions,
    Fabric,
    GpuPrice,
    Host,
    PriceList,
)
from r1rules.catalog._release import release

__all__ = [
    "EMPTY_PRICES",
    "FIGURES",
    "INCLUDED",
    "MEMORY_BUDGETS",
    "Assumptions",
    "Catalog",
    "Engine",
    "EngineProfile",
    "Fabric",
    "FrozenMap",
    "Gpu",
    "GpuPrice",
    "Host",
    "Model",
    "PriceList",
    "default_catalog",
    "generic_dense_model",
    "load_catalog",
    "model_from_hf_config",
    "release",
    "shipped_engines",
    "shipped_rules_dir",
]
