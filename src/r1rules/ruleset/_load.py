"""Rule files (TOML) -> a validated, stratified RuleSet; every problem reported at once."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import attrs

from r1rules._errors import CatalogError, Problem, ProblemKind, RuleError, suggest
from r1rules._files import UnreadableFile, read_text, toml_of
from r1rules._vocabulary import (
    BUILTIN_FACTS,
    DECISION_INPUTS,
    RECOMMENDATION_FIELDS,
    SIZING_INPUTS,
    FactSpec,
    Producer,
)
from r1rules.catalog import Catalog, load_catalog, shipped_rules_dir
from r1rules.ruleset._declare import parse_fact_declaration
from r1rules.ruleset._model import HitPolicy, Rule, RuleSet, Table
from r1rules.ruleset._parse import ID_PATTERN, parse_rule
from r1rules.ruleset._placeholders import control_problem
from r1rules.ruleset._problems import Problems, Where, check_keys

__all__ = ["PathLike", "read_rules"]

TOP_KEYS = ("ruleset", "facts", "tables")
TABLE_KEYS = ("id", "title", "hit_policy", "complete", "rules", "extends", "replace", "description")
HIT_POLICIES = tuple(policy.value for policy in HitPolicy)
RULE_SET = Where(entry="rule set")  # a problem of the rule set as a whole
_UNREADABLE = ProblemKind.UNREADABLE

PathLike = str | os.PathLike[str]


def read_rules(
    *paths: PathLike, include_shipped: bool = False, catalog: Catalog | None = None
) -> RuleSet:
    """Read and validate rule files into a RuleSet, without the static checker or the
    engine's capacity limits (``r1rules.load_rules`` adds both).

    Each path is a ``.toml`` file or a folder whose top-level ``*.toml`` files are rule
    files and whose ``catalog/`` sub-folder (if any) holds catalog files: a full catalog
    (``models.toml`` and ``gpus.toml``, as in a copy of the shipped ``rules/``) replaces the
    shipped one; other files extend it. With no paths, or with ``include_shipped=True``,
    the shipped rules come first and the given files are layered on top of them. Every
    problem in every file is reported in one :class:`RuleError`.
    """
    shipped = shipped_rules_dir()
    roots: list[Path] = [shipped] if include_shipped or not paths else []
    roots += [Path(p) for p in paths]
    rule_files, catalog_files, full_catalog, problems = _collect(roots)
    if catalog is None:
        try:
            catalog = load_catalog(*catalog_files, include_default=not full_catalog)
        except CatalogError as exc:
            raise RuleError(catalog_problems(exc)) from None
    return _build(rule_files, catalog, problems)


def catalog_problems(error: CatalogError) -> tuple[Problem, ...]:
    """A catalog error's problems, as records: its own when it lists them, else one record
    per line of its message (without the message's "N problems in ..." head)."""
    if error.problems:
        return error.problems
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    if len(lines) > 1 and lines[0].endswith(":"):
        lines = lines[1:]
    return tuple(Problem(message=line) for line in lines)


def _rule_files_in(folder: Path) -> list[Path]:
    return sorted(p.resolve() for p in folder.glob("*.toml") if p.is_file())


def _collect(roots: Iterable[Path]) -> tuple[list[Path], list[Path], bool, Problems]:
    """Rule files, catalog files, whether those form a full catalog, and problems."""
    problems = Problems()
    rule_files: list[Path] = []
    catalog_files: list[Path] = []
    full_catalog = False
    shipped = shipped_rules_dir().resolve()
    for root in roots:
        try:
            # a device or a pipe is read as a file too (bounded, like every input)
            kind = "dir" if root.is_dir() else "file" if root.exists() else "none"
        except (OSError, ValueError) as exc:  # a name too long, a NUL byte in it
            reason = exc.strerror if isinstance(exc, OSError) else str(exc)
            problems.add(Where(repr(str(root)[:200])), "", f"cannot read: {reason}", _UNREADABLE)
            continue
        if kind == "dir":
            rule_files += _rule_files_in(root)
            catalog_dir = root / "catalog"
            if catalog_dir.is_dir() and root.resolve() != shipped:
                found = sorted(catalog_dir.glob("*.toml"))
                if {"models.toml", "gpus.toml"} <= {f.name for f in found}:
                    catalog_files, full_catalog = found, True
                else:
                    catalog_files += found
        elif kind == "file":
            rule_files.append(root.resolve())
        else:
            problems.add(Where(str(root)), "", "no such rule file or folder", _UNREADABLE)
    if not rule_files and not problems.found:
        where = Where(", ".join(str(r) for r in roots))
        problems.add(where, "", "no rule files (*.toml) found", _UNREADABLE)
    return list(dict.fromkeys(rule_files)), catalog_files, full_catalog, problems


def _read(file: Path, problems: Problems) -> dict[str, Any] | None:
    try:
        return toml_of(read_text(file))
    except UnreadableFile as exc:
        problems.add(Where(str(file)), "", exc.message, _UNREADABLE)
    return None


def _build(files: Sequence[Path], catalog: Catalog, problems: Problems) -> RuleSet:
    documents = [(str(f), _read(f, problems)) for f in files]
    facts: dict[str, FactSpec] = dict(BUILTIN_FACTS)
    for file, doc in documents:
        if doc is None:
            continue
        check_keys(doc, TOP_KEYS, Where(file), "", problems)
        declared = doc.get("facts", [])
        if not isinstance(declared, list):
            problems.add(Where(file), "facts", "must be an array of tables ([[facts]])")
            continue
        for i, entry in enumerate(declared):
            spec = parse_fact_declaration(entry, file, i, facts, problems)
            if spec is not None:
                facts[spec.name] = spec
    drafts = _parse_tables(documents, facts, catalog, problems)
    tables, sizing_stratum = _stratify(drafts, facts, problems)
    if problems.found:
        raise RuleError(problems.found)
    rules = RuleSet(
        tables,
        facts,
        catalog,
        _version(tables, facts, catalog),
        tuple(str(f) for f in files),
        sizing_stratum,
    )
    return rules


@attrs.define
class _Draft:
    id: str
    title: str
    hit_policy: str
    complete: bool
    file: str
    rules: list[Rule]


def _parse_tables(
    documents: Sequence[tuple[str, dict[str, Any] | None]],
    facts: Mapping[str, FactSpec],
    catalog: Catalog,
    problems: Problems,
) -> list[_Draft]:
    drafts: dict[str, _Draft] = {}
    rule_files: dict[str, str] = {}
    for file, doc in documents:
        raw_tables = [] if doc is None else doc.get("tables", [])
        if not isinstance(raw_tables, list):
            problems.add(Where(file), "tables", "must be an array of tables ([[tables]])")
            continue
        for position, raw in enumerate(raw_tables):
            draft = _parse_table(raw, file, position, problems)
            if draft is None:
                continue
            _merge(drafts, draft, raw, file, problems)
            for i, entry in enumerate(raw.get("rules", [])):
                rule = parse_rule(entry, draft.id, file, i, facts, catalog, problems)
                if rule is None:
                    continue
                if rule.id in rule_files:
                    problems.add(
                        Where(file, rule_id=rule.id, table_id=draft.id),
                        "id",
                        f"duplicate rule id (first defined in {rule_files[rule.id]})",
                    )
                    continue
                rule_files[rule.id] = file
                drafts[draft.id].rules.append(rule)
    return list(drafts.values())


def _parse_table(raw: object, file: str, position: int, problems: Problems) -> _Draft | None:
    if not isinstance(raw, dict):
        problems.add(Where(file), f"tables[{position}]", "must be a table ([[tables]])")
        return None
    table_id = raw.get("id")
    if not isinstance(table_id, str) or not ID_PATTERN.match(table_id):
        problems.add(
            Where(file),
            f"tables[{position}].id",
            f"must be lower-case letters, digits, '.', '_' or '-', not {table_id!r}",
        )
        return None
    where = Where(file, table_id=table_id)
    check_keys(raw, TABLE_KEYS, where, "", problems)
    policy = raw.get("hit_policy")
    if policy not in HIT_POLICIES:
        problems.add(
            where,
            "hit_policy",
            f"{policy!r} is not a hit policy"
            f"{suggest(str(policy), HIT_POLICIES)}; allowed: {', '.join(HIT_POLICIES)}",
            ProblemKind.UNKNOWN_NAME,
        )
    for flag in ("complete", "extends", "replace"):
        if flag in raw and not isinstance(raw[flag], bool):
            problems.add(where, flag, f"must be true or false, not {raw[flag]!r}")
    title = raw.get("title")
    if not isinstance(title, str) or not title.strip():
        problems.add(where, "title", "missing" if title is None else "must be a non-empty string")
    elif control_problem(title):
        problems.add(where, "title", control_problem(title))
    rules = raw.get("rules")
    if not isinstance(rules, list) or not rules:
        problems.add(where, "rules", "a table needs at least one rule ([[tables.rules]])")
        raw["rules"] = []
    return _Draft(table_id, str(title), str(policy), raw.get("complete") is True, file, [])


def _merge(
    drafts: dict[str, _Draft], draft: _Draft, raw: Mapping[str, Any], file: str, problems: Problems
) -> None:
    existing = drafts.get(draft.id)
    if existing is None:
        if raw.get("extends") is True:
            problems.add(
                Where(file, table_id=draft.id),
                "extends",
                f"no earlier table {draft.id!r} to extend{suggest(draft.id, drafts)}",
                ProblemKind.UNKNOWN_NAME,
            )
        drafts[draft.id] = draft
    elif raw.get("replace") is True:
        drafts[draft.id] = draft
    elif raw.get("extends") is True:
        if draft.hit_policy != existing.hit_policy:
            problems.add(
                Where(file, table_id=draft.id),
                "hit_policy",
                f"extends a {existing.hit_policy!r} table with {draft.hit_policy!r}",
            )
    else:
        problems.add(
            Where(file, table_id=draft.id),
            "id",
            f"duplicate table id (first defined "
            f"in {existing.file}); set extends = true or replace = true to layer it",
        )


def _stratify(
    drafts: Sequence[_Draft], facts: Mapping[str, FactSpec], problems: Problems
) -> tuple[tuple[Table, ...], int]:
    """Order tables so that every fact a table reads is set before it runs."""
    setters: dict[str, list[_Draft]] = {}
    for draft in drafts:
        for rule in draft.rules:
            for name in rule.set_facts:
                setters.setdefault(name, [])
                if draft not in setters[name]:
                    setters[name].append(draft)
    for name in (*RECOMMENDATION_FIELDS, *SIZING_INPUTS):
        if name not in setters and drafts:
            problems.add(
                RULE_SET,
                "",
                f"no rule sets {name!r}, which "
                + (
                    "every recommendation needs"
                    if name in RECOMMENDATION_FIELDS
                    else "the sizing physics needs"
                ),
            )
    stratum: dict[str, int] = {}
    visiting: set[str] = set()

    def depth(draft: _Draft) -> int:
        if draft.id in stratum:
            return stratum[draft.id]
        if draft.id in visiting:
            problems.add(
                Where(draft.file, table_id=draft.id),
                "",
                "circular: it depends on a fact that it (through other tables) sets itself",
            )
            return 1
        visiting.add(draft.id)
        level = 1
        for rule in draft.rules:
            for name in rule.reads:
                level = max(level, 1 + source_depth(name, draft, rule))
        visiting.discard(draft.id)
        stratum[draft.id] = level
        return level

    def source_depth(name: str, reader: _Draft, rule: Rule) -> int:
        spec = facts.get(name)
        if spec is None or spec.producer == Producer.WORKLOAD:
            return 0
        if spec.producer == Producer.SIZING:
            return sizing_depth()
        producers = [d for d in setters.get(name, []) if d is not reader]
        if not producers:
            if reader not in setters.get(name, []):
                problems.add(
                    Where(rule.file, rule_id=rule.id, table_id=rule.table_id),
                    "",
                    f"reads {name!r}, which no rule sets",
                )
            return 0
        return max(depth(d) for d in producers)

    sizing: list[int] = []

    def sizing_depth() -> int:
        if not sizing:
            sizing.append(
                max(
                    (
                        depth(d)
                        for n in (*SIZING_INPUTS, *DECISION_INPUTS)
                        for d in setters.get(n, [])
                    ),
                    default=0,
                )
            )
        return sizing[0]

    order = sorted(drafts, key=lambda d: (depth(d), drafts.index(d)))
    sizing_stratum = sizing_depth()
    if problems.found:  # the rule set is refused: build no tables (a hit policy may be bad)
        return (), sizing_stratum
    tables: list[Table] = []
    index = 0
    for draft in order:
        rules = []
        for rule in draft.rules:
            rules.append(attrs.evolve(rule, index=index))
            index += 1
        tables.append(
            Table(
                draft.id,
                draft.title,
                draft.hit_policy,
                draft.complete,
                draft.file,
                tuple(rules),
                depth(draft),
            )
        )
    return tuple(tables), sizing_stratum


def _version(tables: Sequence[Table], facts: Mapping[str, FactSpec], catalog: Catalog) -> str:
    def plain(value: object) -> object:
        if attrs.has(type(value)):
            fields = attrs.fields(cast(Any, type(value)))
            return {
                f.name: plain(getattr(value, f.name)) for f in fields if f.name != "file" and f.init
            }
        if isinstance(value, Mapping):
            return {str(k): plain(v) for k, v in sorted(value.items())}
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        return value

    payload = {
        "tables": plain(tables),
        "facts": plain(facts),
        "models": plain(catalog.models),
        "gpus": plain(catalog.gpus),
    }
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()
