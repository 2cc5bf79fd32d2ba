"""Catalogs: models and GPUs as validated records, their TOML loading, and HF config import."""

from r1rules.catalog._catalog import (
    Catalog,
    FrozenMap,
    Gpu,
    Model,
    default_catalog,
    generic_dense_model,
    load_catalog,
    model_from_hf_config,
    shipped_rules_dir,
)
from r1rules.catalog._prices import (
    EMPTY_PRICES,
    INCLUDED,
    Assumptions,
    Fabric,
    GpuPrice,
    Host,
    PriceList,
)

__all__ = [
    "EMPTY_PRICES",
    "INCLUDED",
    "Assumptions",
    "Catalog",
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
    "shipped_rules_dir",
]
