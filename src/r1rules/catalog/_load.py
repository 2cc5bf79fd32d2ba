"""Catalog files -> validated field values, with every problem of a load reported at once.

This module knows the catalog schema (keys, types, ranges, allowed values) but not the record
classes: ``_catalog`` turns the validated fields into ``Model`` / ``Gpu`` records. It also
reads the architecture fields of a Hugging Face ``config.json``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import tomli

from r1rules._errors import CatalogError, suggest

__all__ = ["ATTENTIONS", "KINDS", "PRECISIONS", "SEGMENTS", "Entry", "lookup_key", "read_catalog"]

PRECISIONS = ("fp32", "bf16", "fp16", "fp8", "int8", "int4")
KINDS = ("dense", "moe")
ATTENTIONS = ("gqa", "mla")
SEGMENTS = ("consumer", "datacenter")
_ID = re.compile(r"[a-z0-9]+([.-][a-z0-9]+)*")
_EXTRA_KEYS = ("*_note", "replace", "sources")
_NOUNS = {"model": "model", "gpu": "GPU"}
_ALLOWED_RATES = ", ".join(PRECISIONS)


@attrs.frozen
class Spec:
    """How one catalog key is checked: its type, whether required, its range or choices."""

    type: str  # "str" | "int" | "number" | "bool" | "strings" | "tflops"
    required: bool = True
    minimum: str = "positive"  # "positive" | "non_negative"
    choices: tuple[str, ...] = ()
    default: Any = None


_STR, _INT, _NUM, _BOOL = Spec("str"), Spec("int"), Spec("number"), Spec("bool")
_OPTIONAL_STR, _OPTIONAL_NUM = Spec("str", required=False), Spec("number", required=False)
_ALIASES = Spec("strings", required=False, default=())
_OPTIONAL_COUNT = Spec("int", required=False, minimum="non_negative", default=0)
MODEL_SCHEMA: Mapping[str, Spec] = {
    "name": _STR,
    "hf_repo": _OPTIONAL_STR,
    "aliases": _ALIASES,
    "kind": Spec("str", choices=KINDS),
    "attention": Spec("str", choices=ATTENTIONS),
    **dict.fromkeys(("nominal_params_b", "total_params_b", "active_params_b"), _NUM),
    **dict.fromkeys(
        (
            "num_layers",
            "hidden_size",
            "intermediate_size",
            "num_attention_heads",
            "num_kv_heads",
            "head_dim",
            "vocab_size",
        ),
        _INT,
    ),
    "tie_word_embeddings": _BOOL,
    "max_context_tokens": _INT,
    "native_precision": Spec("str", choices=PRECISIONS),
    "source": _STR,
    **dict.fromkeys(
        (
            "kv_lora_rank",
            "qk_rope_head_dim",
            "n_routed_experts",
            "n_shared_experts",
            "experts_per_token",
            "moe_intermediate_size",
            "first_dense_layers",
        ),
        _OPTIONAL_COUNT,
    ),
    "checkpoint_size_gb": _OPTIONAL_NUM,
    "assumption": _OPTIONAL_STR,
}
GPU_SCHEMA: Mapping[str, Spec] = {
    "name": _STR,
    "vendor": _STR,
    "aliases": _ALIASES,
    "segment": Spec("str", choices=SEGMENTS),
    "memory_gb": _NUM,
    "memory_type": _STR,
    "hbm": _BOOL,
    "memory_bandwidth_gbps": _NUM,
    "tflops": Spec("tflops"),
    "fp8_native": _BOOL,
    "int4_native": _BOOL,
    "interconnect": _STR,
    "interconnect_bw_gbps": Spec("number", minimum="non_negative"),
    "nvlink_domain": _INT,
    "max_per_node": _INT,
    "tdp_w": _NUM,
    "price_usd": _OPTIONAL_NUM,
    "cloud_usd_per_hour": _OPTIONAL_NUM,
    "source": _STR,
}


@attrs.frozen
class Entry:
    """One validated catalog entry: ``fields`` are the record's keyword arguments except ``id``."""

    kind: str  # "model" | "gpu"
    id: str
    file: str
    fields: Mapping[str, Any]
    replace: bool


def lookup_key(name: str) -> str:
    """The form names are compared in: lower-case, runs of spaces and ``_`` become ``-``."""
    return "-".join(name.strip().lower().replace("_", " ").split())


def show_value(value: object) -> str:
    if isinstance(value, bool):
        return "true (a boolean)" if value else "false (a boolean)"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, (str, int, float)):
        return repr(value)
    return f"a {type(value).__name__}"


def _not_bool(value: object) -> str:
    return f"expected true or false, got {show_value(value)}"


def one_of(value: str, choices: Sequence[str]) -> str:
    return f"unknown value {value!r}{suggest(value, choices)}; allowed: {', '.join(choices)}"


def check_number(value: object, spec: Spec) -> str | None:
    """Return the problem with a number (``None`` if fine); bool and NaN are not numbers."""
    noun = "an integer" if spec.type == "int" else "a number"
    wanted = {"int": (int,), "number": (int, float)}[spec.type]
    if isinstance(value, bool) or not isinstance(value, wanted):
        return f"expected {noun}, got {show_value(value)}"
    if not math.isfinite(value):
        return f"expected a finite number, got {show_value(value)}"
    if spec.minimum == "positive" and value <= 0:
        return f"expected a positive {noun.split()[-1]}, got {show_value(value)}"
    if value < 0:
        return f"expected a non-negative {noun.split()[-1]}, got {show_value(value)}"
    return None


def _check_value(key: str, value: object, spec: Spec) -> tuple[Any, list[tuple[str, str]]]:
    """Check one value; return it converted (tuples, floats) and (key path, problem) pairs."""
    if spec.type in ("int", "number"):
        problem = check_number(value, spec)
        if problem is not None:
            return None, [(key, problem)]
        assert isinstance(value, (int, float))  # narrowed by check_number
        return (float(value) if spec.type == "number" else value), []
    if spec.type == "bool":
        return value, ([] if isinstance(value, bool) else [(key, _not_bool(value))])
    if spec.type == "str":
        if not isinstance(value, str) or not value.strip():
            return None, [(key, f"expected a non-empty string, got {show_value(value)}")]
        if spec.choices and value not in spec.choices:
            return None, [(key, one_of(value, spec.choices))]
        return value, []
    if spec.type == "strings":
        if not isinstance(value, list):
            return None, [(key, f"expected an array of strings, got {show_value(value)}")]
        bad = [
            (f"{key}[{i}]", f"expected a non-empty string, got {show_value(v)}")
            for i, v in enumerate(value)
            if not isinstance(v, str) or not v.strip()
        ]
        return tuple(value), bad
    return _check_tflops(key, value)


def _check_tflops(key: str, value: object) -> tuple[Any, list[tuple[str, str]]]:
    if not isinstance(value, dict):
        return None, [
            (key, f"expected a table with keys {_ALLOWED_RATES}, got {show_value(value)}")
        ]
    problems = [
        (f"{key}.{k}", f"unknown key{suggest(k, PRECISIONS)}; allowed: {_ALLOWED_RATES}")
        for k in value
        if k not in PRECISIONS
    ]
    rate = Spec("number", minimum="non_negative")
    for precision in PRECISIONS:
        if precision not in value:
            problems.append((f"{key}.{precision}", "missing required key"))
        elif (problem := check_number(value[precision], rate)) is not None:
            problems.append((f"{key}.{precision}", problem))
    return {p: float(value[p]) for p in PRECISIONS if p in value}, problems


def _check_extra(key: str, value: object, allowed: Sequence[str]) -> list[tuple[str, str]]:
    """Keys outside the record: ``sources`` (table of strings), ``replace``, ``*_note``."""
    if key == "sources":
        if not isinstance(value, dict):
            return [(key, f"expected a table of strings, got {show_value(value)}")]
        return [
            (f"{key}.{k}", f"expected a non-empty string, got {show_value(v)}")
            for k, v in value.items()
            if not isinstance(v, str) or not v.strip()
        ]
    if key == "replace":
        return [] if isinstance(value, bool) else [(key, _not_bool(value))]
    if key.endswith("_note"):
        ok = isinstance(value, str) and value.strip()
        return [] if ok else [(key, f"expected a non-empty string, got {show_value(value)}")]
    return [(key, f"unknown key{suggest(key, allowed)}; allowed: {', '.join(allowed)}")]


def _model_consistency(f: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Cross-key rules of a model whose keys are each valid."""
    out: list[tuple[str, str]] = []
    if f["active_params_b"] > f["total_params_b"]:
        out.append(("active_params_b", f"must not exceed total_params_b ({f['total_params_b']:g})"))
    if f["kind"] == "dense" and f["active_params_b"] != f["total_params_b"]:
        out.append(("active_params_b", "must equal total_params_b when kind = 'dense'"))
    if f["num_attention_heads"] % f["num_kv_heads"]:
        heads = f["num_attention_heads"]
        out.append(("num_kv_heads", f"must divide num_attention_heads ({heads})"))
    moe = ("n_routed_experts", "experts_per_token", "moe_intermediate_size")
    for key in moe if f["kind"] == "moe" else (*moe, "n_shared_experts", "first_dense_layers"):
        if (f[key] > 0) != (f["kind"] == "moe"):
            need = "must be positive" if f["kind"] == "moe" else "must be 0 (or absent)"
            out.append((key, f"{need} when kind = {f['kind']!r}"))
    if f["experts_per_token"] > f["n_routed_experts"]:
        routed = f["n_routed_experts"]
        out.append(("experts_per_token", f"must not exceed n_routed_experts ({routed})"))
    if f["first_dense_layers"] >= f["num_layers"] and f["kind"] == "moe":
        out.append(("first_dense_layers", f"must be below num_layers ({f['num_layers']})"))
    for key in ("kv_lora_rank", "qk_rope_head_dim"):
        if (f[key] > 0) != (f["attention"] == "mla"):
            need = "must be positive" if f["attention"] == "mla" else "must be 0 (or absent)"
            out.append((key, f"{need} when attention = {f['attention']!r}"))
    if f["hf_repo"] is not None and not re.fullmatch(r"[^/\s]+/[^/\s]+", f["hf_repo"]):
        out.append(("hf_repo", f"expected 'owner/name', got {f['hf_repo']!r}"))
    return out


def _gpu_consistency(f: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Cross-key rules of a GPU whose keys are each valid."""
    out: list[tuple[str, str]] = []
    for flag, precision in (("fp8_native", "fp8"), ("int4_native", "int4")):
        rate = f["tflops"][precision]
        if f[flag] != (rate > 0):
            out.append((flag, f"is {str(f[flag]).lower()} but tflops.{precision} is {rate:g}"))
    if f["hbm"] != ("hbm" in f["memory_type"].lower()):
        out.append(("hbm", f"is {str(f['hbm']).lower()} but memory_type is {f['memory_type']!r}"))
    if (f["nvlink_domain"] > 1) != (f["interconnect_bw_gbps"] > 0):
        out.append(
            (
                "nvlink_domain",
                f"is {f['nvlink_domain']} but interconnect_bw_gbps is "
                f"{f['interconnect_bw_gbps']:g} (1 goes with 0: PCIe only)",
            )
        )
    return out


def _check_entry(
    kind: str, entry_id: str, table: object, file: str
) -> tuple[Entry | None, list[str]]:
    """Validate one ``[models.<id>]`` / ``[gpus.<id>]`` table; return the entry or problems."""
    where = f"{file}: {_NOUNS[kind]} {entry_id!r}"
    if not isinstance(table, dict):
        return None, [f"{where}: expected a table, got {show_value(table)}"]
    schema = MODEL_SCHEMA if kind == "model" else GPU_SCHEMA
    allowed = (*schema, *_EXTRA_KEYS)
    pairs: list[tuple[str, str]] = []
    if not _ID.fullmatch(entry_id):
        pairs.append(("id", "expected lower-case letters and digits joined by '.' or '-'"))
    fields: dict[str, Any] = {}
    for key, value in table.items():
        if key in schema:
            fields[key], found = _check_value(key, value, schema[key])
            pairs.extend(found)
        else:
            pairs.extend(_check_extra(key, value, allowed))
    pairs.extend(
        (key, "missing required key")
        for key, spec in schema.items()
        if spec.required and key not in table
    )
    for key, spec in schema.items():
        fields.setdefault(key, spec.default)
    if not pairs:
        pairs = _model_consistency(fields) if kind == "model" else _gpu_consistency(fields)
    if pairs:
        return None, [f"{where}: {path}: {problem}" for path, problem in pairs]
    return Entry(kind, entry_id, file, fields, bool(table.get("replace"))), []


def _read_file(path: Path, problems: list[str]) -> list[Entry]:
    """Parse one TOML catalog file; append its problems and return its valid entries."""
    try:
        with path.open("rb") as handle:
            data = tomli.load(handle)
    except OSError as exc:
        problems.append(f"{path}: cannot read: {exc.strerror or exc}")
        return []
    except tomli.TOMLDecodeError as exc:
        problems.append(f"{path}: invalid TOML: {exc}")
        return []
    entries: list[Entry] = []
    for top, value in data.items():
        if top == "meta":
            continue
        if top not in ("models", "gpus"):
            tops = ("gpus", "meta", "models")
            problems.append(
                f"{path}: {top}: unknown table{suggest(top, tops)}; allowed: {', '.join(tops)}"
            )
        elif not isinstance(value, dict):
            problems.append(f"{path}: {top}: expected a table of entries, got {show_value(value)}")
        else:
            kind = top[:-1]
            for entry_id, table in value.items():
                entry, found = _check_entry(kind, entry_id, table, str(path))
                problems.extend(found)
                entries.extend([entry] if entry is not None else [])
    return entries


def _expand(paths: Iterable[Path], problems: list[str]) -> list[Path]:
    """Files to read, in order: a folder stands for its ``*.toml`` files, sorted by name."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(path.glob("*.toml"))
            files.extend(found)
            if not found:
                problems.append(f"{path}: folder holds no *.toml catalog files")
        elif path.exists():
            files.append(path)
        else:
            problems.append(f"{path}: no such file or folder")
    return files


def _merge(entries: Iterable[Entry], kind: str, problems: list[str]) -> tuple[Entry, ...]:
    """Apply definitions in order (``replace = true`` to redefine) and check name clashes."""
    merged: dict[str, Entry] = {}
    for entry in (e for e in entries if e.kind == kind):
        where = f"{entry.file}: {_NOUNS[kind]} {entry.id!r}"
        earlier = merged.get(entry.id)
        if earlier is not None and not entry.replace:
            problems.append(
                f"{where}: already defined in {earlier.file}; add replace = true to redefine it"
            )
        elif earlier is None and entry.replace:
            problems.append(
                f"{where}: replace = true but no earlier {_NOUNS[kind]} {entry.id!r}"
                f"{suggest(entry.id, merged)}"
            )
        else:
            merged[entry.id] = entry
    owners: dict[str, str] = {}
    for entry in merged.values():
        names = [("id", entry.id), ("hf_repo", entry.fields.get("hf_repo"))]
        names += [(f"aliases[{i}]", a) for i, a in enumerate(entry.fields["aliases"])]
        for path, name in names:
            owner = owners.setdefault(lookup_key(name), entry.id) if name else entry.id
            if owner != entry.id:
                problems.append(
                    f"{entry.file}: {_NOUNS[kind]} {entry.id!r}: {path}: {name!r} "
                    f"already names {_NOUNS[kind]} {owner!r}"
                )
    return tuple(merged.values())


def summary(problems: Sequence[str], what: str) -> str:
    """The message of an error listing every problem, one per line."""
    head = f"1 problem in {what}" if len(problems) == 1 else f"{len(problems)} problems in {what}"
    return head + ":\n" + "\n".join(f"  {p}" for p in problems)


def read_catalog(paths: Sequence[Path]) -> tuple[tuple[Entry, ...], tuple[Entry, ...]]:
    """Read catalog files and folders in order; return (model entries, GPU entries).

    Raises ``CatalogError`` listing every problem found in every file (one per line).
    """
    problems: list[str] = []
    entries = [e for path in _expand(paths, problems) for e in _read_file(path, problems)]
    models, gpus = _merge(entries, "model", problems), _merge(entries, "gpu", problems)
    if problems:
        raise CatalogError(summary(problems, "the catalog"))
    return models, gpus
