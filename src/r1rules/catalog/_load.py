"""Catalog files -> validated field values, with every problem of a load reported at once.

The schema itself (keys, types, ranges, allowed values, cross-key rules) is ``_schema``'s;
``_catalog`` turns the validated fields into ``Model`` / ``Gpu`` records.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from r1rules._errors import CatalogError, suggest
from r1rules._files import UnreadableFile, read_text, toml_of
from r1rules.catalog._schema import (
    GPU_SCHEMA,
    MODEL_SCHEMA,
    Problem,
    check_value,
    gpu_problems,
    model_problems,
    not_bool,
    show_value,
)

__all__ = ["GPU_SCHEMA", "MODEL_SCHEMA", "Entry", "lookup_key", "read_catalog", "summary"]

_ID = re.compile(r"[a-z0-9]+([.-][a-z0-9]+)*")
_EXTRA_KEYS = ("*_note", "replace", "sources")
_NOUNS = {"model": "model", "gpu": "GPU"}


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


def _check_extra(key: str, value: object, allowed: Sequence[str]) -> list[Problem]:
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
        return [] if isinstance(value, bool) else [(key, not_bool(value))]
    if key.endswith("_note"):
        ok = isinstance(value, str) and value.strip()
        return [] if ok else [(key, f"expected a non-empty string, got {show_value(value)}")]
    return [(key, f"unknown key{suggest(key, allowed)}; allowed: {', '.join(allowed)}")]


def _check_entry(
    kind: str, entry_id: str, table: object, file: str
) -> tuple[Entry | None, list[str]]:
    """Validate one ``[models.<id>]`` / ``[gpus.<id>]`` table; return the entry or problems."""
    where = f"{file}: {_NOUNS[kind]} {entry_id!r}"
    if not isinstance(table, dict):
        return None, [f"{where}: expected a table, got {show_value(table)}"]
    schema = MODEL_SCHEMA if kind == "model" else GPU_SCHEMA
    allowed = (*schema, *_EXTRA_KEYS)
    pairs: list[Problem] = []
    if not _ID.fullmatch(entry_id):
        pairs.append(("id", "expected lower-case letters and digits joined by '.' or '-'"))
    fields: dict[str, Any] = {}
    for key, value in table.items():
        if key in schema:
            fields[key], found = check_value(key, value, schema[key])
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
        pairs = model_problems(fields) if kind == "model" else gpu_problems(fields)
    if pairs:
        return None, [f"{where}: {path}: {problem}" for path, problem in pairs]
    return Entry(kind, entry_id, file, fields, bool(table.get("replace"))), []


def _read_file(path: Path, problems: list[str]) -> list[Entry]:
    """Parse one TOML catalog file; append its problems and return its valid entries."""
    try:
        data = toml_of(read_text(path))
    except UnreadableFile as exc:
        problems.append(f"{path}: {exc.message}")
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
