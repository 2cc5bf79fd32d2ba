"""Prices as records: what a GPU, a host platform and a fabric cost, with dates and sources.

The shipped figures live in ``rules/catalog/prices.toml`` (every quote and range behind them
in ``research/prices.toml``); a rule folder's ``catalog/`` replaces any entry the same way
it replaces a GPU or a model. Every figure is approximate and dated: a record carries its
date, its status (``sourced``: quoted for this part; ``proxy``: derived from a sibling part
or a system price) and its source, and the cost of a recommendation cites them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from r1rules._errors import CatalogError
from r1rules.catalog._records import FrozenMap, frozen
from r1rules.catalog._schema import Spec

__all__ = [
    "ASSUMPTIONS_SCHEMA",
    "EMPTY_PRICES",
    "FABRIC_SCHEMA",
    "GPU_PRICE_SCHEMA",
    "HOST_SCHEMA",
    "INCLUDED",
    "NICS_PER",
    "PRICE_STATUSES",
    "PRICE_TABLES",
    "Assumptions",
    "Fabric",
    "GpuPrice",
    "Host",
    "PriceList",
    "price_list",
    "record_problems",
]

PRICE_STATUSES = ("sourced", "proxy")
NICS_PER = ("gpu", "node")
INCLUDED = "included"  # a GPU whose price is a per-GPU share of a whole system

_TEXT = Spec("str")
_OPTIONAL_TEXT = Spec("str", required=False, default="")
# Bounds far above any real figure (the dearest part priced is a ~$3M NVL72 rack), so that
# a deployment's cost stays finite: a price beyond them is a typo.
_MOST_USD, _MOST_WATTS, _MOST_PORTS = 1e9, 1e6, 1e6
_USD = Spec("number", minimum="non_negative", most=_MOST_USD)
_OPTIONAL_USD = Spec("number", required=False, minimum="non_negative", most=_MOST_USD)
_STATUS = Spec("str", choices=PRICE_STATUSES)

GPU_PRICE_SCHEMA: Mapping[str, Spec] = {
    "host": _TEXT,
    "purchase_usd": Spec("number", most=_MOST_USD),
    "purchase_usd_low": _OPTIONAL_USD,
    "purchase_usd_high": _OPTIONAL_USD,
    "purchase_date": _TEXT,
    "purchase_status": _STATUS,
    "purchase_basis": _TEXT,
    "purchase_source": _TEXT,
    "cloud_usd_per_hour": Spec("number", required=False, most=_MOST_USD),
    "cloud_date": _OPTIONAL_TEXT,
    "cloud_status": Spec("str", required=False, choices=PRICE_STATUSES, default=""),
    "cloud_provider": _OPTIONAL_TEXT,
    "cloud_source": _OPTIONAL_TEXT,
    "purchase_unit_gpus": Spec("int", required=False, default=1),
    "purchase_unit_basis": _OPTIONAL_TEXT,
}
HOST_SCHEMA: Mapping[str, Spec] = {
    "price_usd": _USD,
    "price_date": _TEXT,
    "price_status": _STATUS,
    "includes": _TEXT,
    "price_basis": _TEXT,
    "price_source": _TEXT,
    "power_w": Spec("number", False, minimum="non_negative", default=0.0, most=_MOST_WATTS),
    "power_basis": _OPTIONAL_TEXT,
    "power_source": _OPTIONAL_TEXT,
    "max_gpus": Spec("int", required=False, default=0),
    "max_gpus_source": _OPTIONAL_TEXT,
}
FABRIC_SCHEMA: Mapping[str, Spec] = {
    "nic_usd": _USD,
    "nics_per": Spec("str", choices=NICS_PER),
    "switch_usd": _OPTIONAL_USD,
    "switch_ports": Spec("int", required=False, most=_MOST_PORTS),
    "switch_port_usd": _OPTIONAL_USD,
    "optics_usd": Spec("number", False, minimum="non_negative", default=0.0, most=_MOST_USD),
    "price_date": _TEXT,
    "price_status": _STATUS,
    "price_basis": _TEXT,
    "price_source": _TEXT,
}
ASSUMPTIONS_SCHEMA: Mapping[str, Spec] = {
    "pue": Spec("number"),
    "pue_source": _TEXT,
    "electricity_usd_per_kwh": _USD,
    "electricity_source": _TEXT,
    "amortization_years": Spec("number"),
    "amortization_source": _TEXT,
}


def _finite_non_negative(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise CatalogError(f"{attribute.name}: expected a number, got {value!r}")
    if not math.isfinite(value) or value < 0:
        raise CatalogError(f"{attribute.name}: expected a finite number >= 0, got {value!r}")


def _optional_figure(
    instance: object, attribute: attrs.Attribute[float | None], value: object
) -> None:
    if value is not None:
        _finite_non_negative(instance, attribute, value)  # type: ignore[arg-type]


@attrs.frozen
class GpuPrice:
    """One GPU's approximate purchase price and cloud rate, each dated and sourced."""

    gpu: str
    host: str  # a hosts.<id>, or INCLUDED
    purchase_usd: float = attrs.field(validator=_finite_non_negative)
    purchase_date: str
    purchase_status: str
    purchase_basis: str
    purchase_source: str
    purchase_usd_low: float | None = attrs.field(default=None, validator=_optional_figure)
    purchase_usd_high: float | None = attrs.field(default=None, validator=_optional_figure)
    cloud_usd_per_hour: float | None = attrs.field(default=None, validator=_optional_figure)
    cloud_date: str = ""
    cloud_status: str = ""
    cloud_provider: str = ""
    cloud_source: str = ""
    # GPUs are bought in units of this many (an 8-GPU HGX/UBB baseboard, a 72-GPU NVL72
    # rack): a deployment pays for whole units.
    purchase_unit_gpus: int = 1
    purchase_unit_basis: str = ""

    def __attrs_post_init__(self) -> None:
        if not _gpu_number(self.purchase_unit_gpus, 1):
            raise CatalogError(
                f"price of GPU {self.gpu!r}: purchase_unit_gpus must be a whole number in "
                f"[1, 1024], got {self.purchase_unit_gpus!r}"
            )
        low, high = self.purchase_usd_low, self.purchase_usd_high
        if (low is not None and low > self.purchase_usd) or (
            high is not None and high < self.purchase_usd
        ):
            raise CatalogError(
                f"price of GPU {self.gpu!r}: purchase_usd {self.purchase_usd:g} lies outside "
                f"its range [{low}, {high}]"
            )
        if self.cloud_usd_per_hour is not None and not self.cloud_date:
            raise CatalogError(f"price of GPU {self.gpu!r}: cloud_usd_per_hour needs cloud_date")


@attrs.frozen
class Host:
    """One server without its GPUs (``includes`` says what is in it) and its own power draw."""

    id: str
    price_usd: float = attrs.field(validator=_finite_non_negative)
    price_date: str
    price_status: str
    includes: str
    price_basis: str
    price_source: str
    power_w: float = attrs.field(default=0.0, validator=_finite_non_negative)
    power_basis: str = ""
    power_source: str = ""
    # the GPUs it takes (0: as many as the GPU's max_per_node); a node holding more needs
    # a larger chassis, which the cost names as a gap
    max_gpus: int = 0
    max_gpus_source: str = ""

    def __attrs_post_init__(self) -> None:
        if not _gpu_number(self.max_gpus, 0):
            raise CatalogError(
                f"host {self.id!r}: max_gpus must be a whole number in [0, 1024] (0: no "
                f"limit of its own), got {self.max_gpus!r}"
            )


def _gpu_number(value: object, least: int) -> bool:
    """A whole number of GPUs (not a bool) from ``least`` to 1,024."""
    return isinstance(value, int) and not isinstance(value, bool) and least <= value <= 1024


@attrs.frozen
class Fabric:
    """The scale-out network between nodes: NICs, switch ports and optics.

    Switches are priced whole (``switch_usd`` for ``switch_ports`` ports) or per port
    (``switch_port_usd``); with neither, switch ports are a known gap in the cost.
    """

    id: str
    nic_usd: float = attrs.field(validator=_finite_non_negative)
    nics_per: str
    price_date: str
    price_status: str
    price_basis: str
    price_source: str
    switch_usd: float | None = attrs.field(default=None, validator=_optional_figure)
    switch_ports: int | None = None
    switch_port_usd: float | None = attrs.field(default=None, validator=_optional_figure)
    optics_usd: float = attrs.field(default=0.0, validator=_finite_non_negative)

    def __attrs_post_init__(self) -> None:
        if self.nics_per not in NICS_PER:
            raise CatalogError(f"fabric {self.id!r}: nics_per must be one of {', '.join(NICS_PER)}")
        if (self.switch_usd is None) != (self.switch_ports is None):
            raise CatalogError(
                f"fabric {self.id!r}: switch_usd and switch_ports go together (a whole switch "
                "and its port count); use switch_port_usd for a per-port price"
            )
        if self.switch_ports is not None and self.switch_ports < 2:
            raise CatalogError(f"fabric {self.id!r}: switch_ports must be at least 2")


@attrs.frozen
class Assumptions:
    """Power and finance assumptions of the on-premises cost, each with its source."""

    pue: float
    pue_source: str
    electricity_usd_per_kwh: float = attrs.field(validator=_finite_non_negative)
    electricity_source: str
    amortization_years: float
    amortization_source: str

    def __attrs_post_init__(self) -> None:
        if not (math.isfinite(self.pue) and 1.0 <= self.pue <= 5.0):
            raise CatalogError(f"assumptions: pue must lie in [1, 5], got {self.pue!r}")
        if not (math.isfinite(self.amortization_years) and 0.25 <= self.amortization_years <= 30):
            raise CatalogError(
                f"assumptions: amortization_years must lie in [0.25, 30], got "
                f"{self.amortization_years!r}"
            )


@attrs.frozen
class PriceList:
    """Every price the costing reads: GPUs by id, hosts, fabrics, and the assumptions."""

    gpus: Mapping[str, GpuPrice] = attrs.field(converter=frozen)
    hosts: Mapping[str, Host] = attrs.field(converter=frozen)
    fabrics: Mapping[str, Fabric] = attrs.field(converter=frozen)
    assumptions: Assumptions | None

    def __attrs_post_init__(self) -> None:
        for price in self.gpus.values():
            if price.host != INCLUDED and price.host not in self.hosts:
                known = ", ".join(sorted(self.hosts)) or "(none)"
                raise CatalogError(
                    f"price of GPU {price.gpu!r}: host {price.host!r} is not a hosts entry; "
                    f"known: {known}, or {INCLUDED!r}"
                )


EMPTY_PRICES = PriceList(
    gpus=FrozenMap({}), hosts=FrozenMap({}), fabrics=FrozenMap({}), assumptions=None
)


def record_problems(table: str) -> Callable[[Mapping[str, Any]], list[tuple[str, str]]]:
    """The cross-key check of a price table's entries: build the record, report its refusal.

    The records are the one home of their rules (ranges, fields that go together); the
    catalog loader calls this after each key passed its own schema.
    """
    build = _BUILDERS[table]

    def check(fields: Mapping[str, Any]) -> list[tuple[str, str]]:
        try:
            build("entry", dict(fields))
        except CatalogError as exc:
            return [("", str(exc).split(": ", 1)[-1])]
        return []

    return check


_BUILDERS: Mapping[str, Callable[[str, dict[str, Any]], object]] = {
    "gpu_prices": lambda i, f: GpuPrice(gpu=i, **f),
    "hosts": lambda i, f: Host(id=i, **f),
    "fabrics": lambda i, f: Fabric(id=i, **f),
    "assumptions": lambda _i, f: Assumptions(**f),
}
PRICE_TABLES: Mapping[str, tuple[str, str, Mapping[str, Spec]]] = {
    "gpu_prices": ("gpu_price", "price of GPU", GPU_PRICE_SCHEMA),
    "hosts": ("host", "host", HOST_SCHEMA),
    "fabrics": ("fabric", "fabric", FABRIC_SCHEMA),
    "assumptions": ("assumptions", "assumptions", ASSUMPTIONS_SCHEMA),
}


def price_list(entries: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> PriceList:
    """A PriceList from validated entries: table name -> entry id -> record fields.

    Only ``[assumptions.default]`` is read. Raises CatalogError for a GPU price naming a
    host that no ``hosts`` entry defines.
    """
    gpus = {i: GpuPrice(gpu=i, **f) for i, f in entries.get("gpu_prices", {}).items()}
    hosts = {i: Host(id=i, **f) for i, f in entries.get("hosts", {}).items()}
    fabrics = {i: Fabric(id=i, **f) for i, f in entries.get("fabrics", {}).items()}
    assumptions = entries.get("assumptions", {})
    unknown = sorted(set(assumptions) - {"default"})
    if unknown:
        raise CatalogError(
            f"assumptions: only [assumptions.default] is read, not {', '.join(unknown)}"
        )
    default = assumptions.get("default")
    return PriceList(
        gpus=gpus,
        hosts=hosts,
        fabrics=fabrics,
        assumptions=None if default is None else Assumptions(**default),
    )
