"""``r1rules models`` and ``r1rules gpus``: the catalogs as a table, or as JSON.

Each row names its sources. A GPU's price is the catalog's price list entry (purchase
price, its date and status) when the catalog has a price list, else the record's own
approximate ``price_usd`` (undated).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from typing import Any

from r1rules.catalog import Catalog, Gpu, Model
from r1rules.cli._exit import EXIT_OK
from r1rules.cli._limits import rules_option

__all__ = ["add_catalog_parsers", "gpu_rows", "model_rows", "run_catalog"]


def add_catalog_parsers(subparsers: Any) -> None:
    """Add the ``models`` and ``gpus`` commands to the r1rules command's sub-parsers."""
    for name, what in (("models", "models"), ("gpus", "GPUs")):
        command = subparsers.add_parser(name, help=f"list the catalog's {what} and their sources")
        command.add_argument("--json", action="store_true", help=f"print the {what} as JSON")
        command.add_argument(
            "--rules", help="rule folder whose catalog to list, layered on the shipped one"
        )
        command.add_argument("--no-shipped", action="store_true", help="the --rules catalog alone")


def run_catalog(args: argparse.Namespace) -> int:
    """Print the models or GPUs (``args.command``) of the catalog the options name."""
    catalog = rules_option(args.rules, no_shipped=args.no_shipped).catalog
    rows = model_rows(catalog) if args.command == "models" else gpu_rows(catalog)
    if args.json:
        print(json.dumps({args.command: rows}, indent=2, ensure_ascii=False))
    else:
        columns = _MODEL_COLUMNS if args.command == "models" else _GPU_COLUMNS
        print(_table(rows, columns))
    return EXIT_OK


def model_rows(catalog: Catalog) -> list[dict[str, Any]]:
    """One JSON-ready dict per model, sorted by id."""
    return [_model(catalog.models[i]) for i in catalog.model_ids()]


def gpu_rows(catalog: Catalog) -> list[dict[str, Any]]:
    """One JSON-ready dict per GPU, sorted by id, with its price (or None) and sources."""
    prices = getattr(catalog, "prices", None)
    listed = getattr(prices, "gpus", None) or {}
    return [_gpu(catalog.gpus[i], listed.get(i)) for i in catalog.gpu_ids()]


def _model(model: Model) -> dict[str, Any]:
    return {
        "id": model.id,
        "name": model.name,
        "aliases": list(model.aliases),
        "hf_repo": model.hf_repo,
        "kind": model.kind,
        "total_params_b": model.total_params_b,
        "active_params_b": model.active_params_b,
        "native_precision": model.native_precision,
        "max_context_tokens": model.max_context_tokens,
        "source": model.source,
    }


def _gpu(gpu: Gpu, listed: Any) -> dict[str, Any]:
    price: dict[str, Any] | None = None
    if listed is not None:
        price = {
            "purchase_usd": listed.purchase_usd,
            "purchase_date": getattr(listed, "purchase_date", None),
            "purchase_status": getattr(listed, "purchase_status", None),
            "source": getattr(listed, "purchase_source", None),
        }
    elif getattr(gpu, "price_usd", None) is not None:
        price = {
            "purchase_usd": getattr(gpu, "price_usd", None),
            "purchase_date": None,
            "purchase_status": None,
            "source": gpu.source,
        }
    return {
        "id": gpu.id,
        "name": gpu.name,
        "vendor": gpu.vendor,
        "aliases": list(gpu.aliases),
        "memory_gb": gpu.memory_gb,
        "memory_type": gpu.memory_type,
        "memory_bandwidth_gbps": gpu.memory_bandwidth_gbps,
        "price": price,
        "source": gpu.source,
    }


def _params(row: dict[str, Any]) -> str:
    total, active = row["total_params_b"], row["active_params_b"]
    return f"{total:g}B" if total == active else f"{total:g}B ({active:g}B active)"


def _price(row: dict[str, Any]) -> str:
    price = row["price"]
    if price is None:
        return "-"
    parts = [f"${price['purchase_usd']:,.0f}"]
    parts += [str(price[k]) for k in ("purchase_date", "purchase_status") if price.get(k)]
    return " ".join(parts)


def _sources(row: dict[str, Any]) -> str:
    price = row.get("price")
    extra = price["source"] if price and price["source"] not in (None, row["source"]) else None
    return row["source"] if extra is None else f"{row['source']}; price: {extra}"


_Column = tuple[str, Any]
_MODEL_COLUMNS: tuple[_Column, ...] = (
    ("id", lambda r: r["id"]),
    ("aliases", lambda r: ", ".join(r["aliases"]) or "-"),
    ("params", _params),
    ("precision", lambda r: r["native_precision"]),
    ("context", lambda r: f"{r['max_context_tokens']:,}"),
    ("source", _sources),
)
_GPU_COLUMNS: tuple[_Column, ...] = (
    ("id", lambda r: r["id"]),
    ("aliases", lambda r: ", ".join(r["aliases"]) or "-"),
    ("memory", lambda r: f"{r['memory_gb']:g} GB {r['memory_type']}"),
    ("bandwidth", lambda r: f"{r['memory_bandwidth_gbps']:,.0f} GB/s"),
    ("price", _price),
    ("source", _sources),
)


def _table(rows: Sequence[dict[str, Any]], columns: Sequence[_Column]) -> str:
    """Left-aligned columns under a header; the last column is not padded."""
    cells = [[title for title, _ in columns]]
    cells += [[str(cell(row)) for _, cell in columns] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns) - 1)]
    return "\n".join(
        "  ".join([*(c.ljust(w) for c, w in zip(line, widths, strict=False)), line[-1]]).rstrip()
        for line in cells
    )
