"""Catalog files -> validated field values, with every problem of a load reported at once.

The schema itself (keys, types, ranges, allowed values, cross-key rules) is ``_schema``'s;
``_catalog`` turns the validated fields into ``Model`` / ``Gpu`` records. Each problem is a
``Problem`` record (file, entry, key path, kind); ``CatalogError`` lists them one per line.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from r1rules._errors import CatalogError, Problem, ProblemKind, suggest
from r1rules._files import UnreadableFile, read_text, toml_of
from r1rules.catalog._engine_tables import engine_table_problems
from r1rules.catalog._engines import ENGINE_TABLES
from r1rules.catalog._prices import PRICE_TABLES, record_problems
from r1rules.catalog._schema import (
    GPU_SCHEMA,
    MODEL_SCHEMA,
    Spec,
    check_value,
    gpu_problems,
    model_problems,
    not_bool,
    show_value,
    text_problem,
)
from r1rules.catalog._schema import Problem as KeyProblem

__all__ = [
    "GPU_SCHEMA",
    "MODEL_SCHEMA",
    "TABLES",
    "Entry",
    "EntryKind",
    "lookup_key",
    "read_catalog",
    "summary",
]

_ID = re.compile(r"[a-z0-9]+([.-][a-z0-9]+)*")
_EXTRA_KEYS = ("*_note", "replace", "sources")
_INVALID, _UNKNOWN, _LOAD = ProblemKind.INVALID, ProblemKind.UNKNOWN_NAME, ProblemKind.LOAD
_UNREADABLE = ProblemKind.UNREADABLE
_SOURCES = Spec("sources")


@attrs.frozen
class EntryKind:
    """What one top-level table of a catalog file holds: entries of one kind, checked by one
    schema (each key on its own) and then by ``cross`` (the rules between keys)."""

    kind: str  # Entry.kind: "model" | "gpu"
    noun: str  # how messages name an entry: "model 'x'", "GPU 'x'"
    schema: Mapping[str, Spec]
    cross: Callable[[Mapping[str, Any]], list[KeyProblem]]


# Top-level table of a catalog file -> what its entries are; None: free-form, not read
# (``[meta]`` notes). A new kind of catalog entry is one more row.
TABLES: Mapping[str, EntryKind | None] = {
    "models": EntryKind("model", "model", MODEL_SCHEMA, model_problems),
    "gpus": EntryKind("gpu", "GPU", GPU_SCHEMA, gpu_problems),
    **{
        top: EntryKind(kind, noun, schema, record_problems(top))
        for top, (kind, noun, schema) in PRICE_TABLES.items()
    },
    **{
        top: EntryKind(kind, noun, schema, cross)
        for top, (kind, noun, schema, cross) in ENGINE_TABLES.items()
    },
    "meta": None,
}
_KINDS = {table.kind: table for table in TABLES.values() if table is not None}


@attrs.frozen
class Entry:
    """One validated catalog entry: ``fields`` are the record's keyword arguments except ``id``."""

    kind: str  # an EntryKind's kind: "model" | "gpu"
    id: str
    file: str
    fields: Mapping[str, Any]
    replace: bool


def lookup_key(name: str) -> str:
    """The form names are compared in: lower-case, runs of spaces and ``_`` become ``-``."""
    return "-".join(name.strip().lower().replace("_", " ").split())


def _kind_of(problem: str) -> str:
    """The kind of one of the schema's ``(key, text)`` problems: an unknown key, a missing
    one, or (every other text the schema writes) a value that is not allowed."""
    if problem.startswith("unknown key"):
        return _UNKNOWN
    return _LOAD if problem == "missing required key" else _INVALID


def _check_extra(key: str, value: object, allowed: Sequence[str]) -> list[KeyProblem]:
    """Keys outside the record: ``sources`` (table of strings), ``replace``, ``*_note``."""
    if key == "sources":
        return check_value(key, value, _SOURCES)[1]
    if key == "replace":
        return [] if isinstance(value, bool) else [(key, not_bool(value))]
    if key.endswith("_note"):
        return [(key, text_problem(value))] if text_problem(value) else []
    return [(key, f"unknown key{suggest(key, allowed)}; allowed: {', '.join(allowed)}")]


def _check_entry(
    kind: str, entry_id: str, table: object, file: str
) -> tuple[Entry | None, list[Problem]]:
    """Validate one ``[models.<id>]`` / ``[gpus.<id>]`` table; return the entry or problems."""
    entry_kind = _KINDS[kind]
    where = f"{entry_kind.noun} {entry_id!r}"
    if not isinstance(table, dict):
        message = f"expected a table, got {show_value(table)}"
        return None, [Problem(kind=_INVALID, file=file, entry=where, message=message)]
    schema = entry_kind.schema
    allowed = (*schema, *_EXTRA_KEYS)
    pairs: list[KeyProblem] = []
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
        pairs = entry_kind.cross(fields)
    if pairs:
        return None, [
            Problem(kind=_kind_of(text), file=file, entry=where, key_path=path, message=text)
            for path, text in pairs
        ]
    return Entry(kind, entry_id, file, fields, bool(table.get("replace"))), []


def _read_file(path: Path, problems: list[Problem]) -> list[Entry]:
    """Parse one TOML catalog file; append its problems and return its valid entries."""
    file = str(path)
    try:
        data = toml_of(read_text(path))
    except UnreadableFile as exc:
        problems.append(Problem(kind=_UNREADABLE, file=file, message=exc.message))
        return []
    entries: list[Entry] = []
    for top, value in data.items():
        if top not in TABLES:
            tops = sorted(TABLES)
            message = f"unknown table{suggest(top, tops)}; allowed: {', '.join(tops)}"
            problems.append(Problem(kind=_UNKNOWN, file=file, key_path=top, message=message))
            continue
        entry_kind = TABLES[top]
        if entry_kind is None:
            continue
        if not isinstance(value, dict):
            message = f"expected a table of entries, got {show_value(value)}"
            problems.append(Problem(kind=_INVALID, file=file, key_path=top, message=message))
            continue
        for entry_id, table in value.items():
            entry, found = _check_entry(entry_kind.kind, entry_id, table, file)
            problems.extend(found)
            entries.extend([entry] if entry is not None else [])
    return entries


def _expand(paths: Iterable[Path], problems: list[Problem]) -> list[Path]:
    """Files to read, in order: a folder stands for its ``*.toml`` files, sorted by name."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(path.glob("*.toml"))
            files.extend(found)
            if not found:
                message = "folder holds no *.toml catalog files"
                problems.append(Problem(kind=_UNREADABLE, file=str(path), message=message))
        elif path.exists():
            files.append(path)
        else:
            message = "no such file or folder"
            problems.append(Problem(kind=_UNREADABLE, file=str(path), message=message))
    return files


def _names(entry: Entry) -> list[tuple[str, object]]:
    """(key path, name) of every name an entry answers to: its id, HF repo id, aliases."""
    names: list[tuple[str, object]] = [("id", entry.id), ("hf_repo", entry.fields.get("hf_repo"))]
    return names + [(f"aliases[{i}]", a) for i, a in enumerate(entry.fields.get("aliases", ()))]


def _merge(
    entries: Iterable[Entry], entry_kind: EntryKind, problems: list[Problem]
) -> tuple[Entry, ...]:
    """Apply definitions in order (``replace = true`` to redefine) and check name clashes."""
    noun = entry_kind.noun
    merged: dict[str, Entry] = {}
    for entry in (e for e in entries if e.kind == entry_kind.kind):
        where = f"{noun} {entry.id!r}"
        earlier = merged.get(entry.id)
        if earlier is not None and not entry.replace:
            message = f"already defined in {earlier.file}; add replace = true to redefine it"
            problems.append(Problem(kind=_LOAD, file=entry.file, entry=where, message=message))
        elif earlier is None and entry.replace:
            message = f"replace = true but no earlier {where}{suggest(entry.id, merged)}"
            problems.append(Problem(kind=_UNKNOWN, file=entry.file, entry=where, message=message))
        else:
            merged[entry.id] = entry
    owners: dict[str, str] = {}
    for entry in merged.values():
        for path, name in _names(entry):
            if not isinstance(name, str) or not name:
                continue
            owner = owners.setdefault(lookup_key(name), entry.id)
            if owner != entry.id:
                problems.append(
                    Problem(
                        kind=_LOAD,
                        file=entry.file,
                        entry=f"{noun} {entry.id!r}",
                        key_path=path,
                        message=f"{name!r} already names {noun} {owner!r}",
                    )
                )
    return tuple(merged.values())


def summary(problems: Sequence[str], what: str) -> str:
    """The message of an error listing every problem, one per line."""
    head = f"1 problem in {what}" if len(problems) == 1 else f"{len(problems)} problems in {what}"
    return head + ":\n" + "\n".join(f"  {p}" for p in problems)


def read_catalog(paths: Sequence[Path]) -> Mapping[str, tuple[Entry, ...]]:
    """Read catalog files and folders in order; return the entries of each table of
    ``TABLES`` that holds entries (``"models"``, ``"gpus"``, ...), merged; the engine
    tables are then checked against one another and the GPUs.

    Raises ``CatalogError`` whose ``problems`` are every problem found in every file, as
    records (its message lists them one per line).
    """
    problems: list[Problem] = []
    entries = [e for path in _expand(paths, problems) for e in _read_file(path, problems)]
    merged = {
        top: _merge(entries, entry_kind, problems)
        for top, entry_kind in TABLES.items()
        if entry_kind is not None
    }
    problems += engine_table_problems(merged["engines"], merged["engine_profiles"], merged["gpus"])
    if problems:
        raise CatalogError(problems=problems)
    return merged
