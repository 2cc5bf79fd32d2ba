"""Rule-file entries -> validated rule objects, collecting every problem instead of stopping.

Each ``parse_*`` function appends problems (records: place, key path, kind, message) to a
shared list and returns what could be built.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any

from r1rules._errors import ProblemKind, suggest
from r1rules._vocabulary import FactSpec, Kind, Producer
from r1rules.catalog import Catalog
from r1rules.ruleset._model import (
    OPERATORS,
    RANGE_OPERATORS,
    Alternative,
    Assignment,
    Rule,
    Test,
    Value,
)
from r1rules.ruleset._placeholders import control_problem, format_problem, placeholders
from r1rules.ruleset._problems import Problems, Where, check_keys, text_field

__all__ = ["ID_PATTERN", "MAX_ID_LENGTH", "parse_rule"]

MAX_ID_LENGTH = 80  # table and rule ids: they name rules in messages and in the engine
ID_PATTERN = re.compile(rf"^[a-z0-9][a-z0-9._-]{{0,{MAX_ID_LENGTH - 1}}}\Z")  # \Z: no "\n"
RULE_KEYS = ("id", "title", "source", "why", "when", "set", "note", "warn", "alternatives")
PARTS = ("gpu", "cpu", "memory", "storage", "network")


def is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def enum_values(spec: FactSpec, catalog: Catalog) -> tuple[str, ...]:
    """The allowed values of an enum fact (catalog ids where the spec says so)."""
    if spec.values_from == "gpus":
        return tuple(catalog.gpus)
    if spec.values_from == "gpus+none":
        return (*catalog.gpus, "none")
    if spec.values_from == "models":
        return tuple(catalog.models)
    return spec.values


def _check_value(spec: FactSpec, value: object, catalog: Catalog) -> str:
    """Why ``value`` cannot be a value of the fact, or "" when it can."""
    if spec.kind == Kind.NUMBER:
        if not is_number(value):
            return f"expected a number for {spec.kind} fact {spec.name!r}, got {value!r}"
        assert isinstance(value, (int, float))
        if isinstance(value, float) and not math.isfinite(value):  # ints: range-checked
            return f"expected a finite number, got {value!r}"  # by engine.capacity_problems
        return ""
    if spec.kind == Kind.BOOL:
        return "" if isinstance(value, bool) else f"expected true or false, got {value!r}"
    if spec.kind == Kind.ENUM:
        allowed = enum_values(spec, catalog)
        if not isinstance(value, str) or value not in allowed:
            hint = suggest(value, allowed) if isinstance(value, str) else ""
            return f"{value!r} is not a value of {spec.name!r}{hint}; allowed: {', '.join(allowed)}"
        return ""
    if spec.kind == Kind.TEXT:
        return "" if isinstance(value, str) and value.strip() else f"expected text, got {value!r}"
    # GPU_LIST
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return f"expected a list of GPU ids, got {value!r}"
    unknown = [v for v in value if v not in catalog.gpus]
    if unknown:
        return (
            f"unknown GPU id {unknown[0]!r}{suggest(unknown[0], catalog.gpus)}; "
            f"allowed: {', '.join(catalog.gpus)}"
        )
    return ""


def _value_kind(spec: FactSpec, value: object) -> str:
    """A name outside a fact's named values (an enum's, a catalog's ids) is an unknown name;
    any other bad value is a plain load problem."""
    named = (spec.kind == Kind.ENUM and isinstance(value, str)) or (
        spec.kind == Kind.GPU_LIST and isinstance(value, list)
    )
    return ProblemKind.UNKNOWN_NAME if named else ProblemKind.LOAD


def _fact(
    name: str, facts: Mapping[str, FactSpec], where: Where, key: str, problems: Problems
) -> FactSpec | None:
    spec = facts.get(name)
    if spec is None:
        problems.add(
            where, key, f"unknown fact {name!r}{suggest(name, facts)}", ProblemKind.UNKNOWN_NAME
        )
    return spec


def _parse_tests(
    when: object, facts: Mapping[str, FactSpec], catalog: Catalog, where: Where, problems: Problems
) -> tuple[Test, ...]:
    if not isinstance(when, dict):
        problems.add(where, "when", f"must be a table of fact = test, not {when!r}")
        return ()
    tests: list[Test] = []
    for name, raw in when.items():
        key = f"when.{name}"
        spec = _fact(name, facts, where, key, problems)
        if spec is None:
            continue
        if spec.kind not in Kind.MATCHABLE:
            problems.add(
                where,
                key,
                f"fact {name!r} is {spec.kind} and cannot be matched; "
                "conditions can test number, enum and bool facts",
            )
            continue
        if isinstance(raw, dict):
            if not raw:
                problems.add(where, key, f"empty test; use operators: {', '.join(OPERATORS)}")
            pairs = list(raw.items())
        else:
            pairs = [("in" if isinstance(raw, list) else "eq", raw)]
        for op, value in pairs:
            test = _parse_test(
                spec,
                op,
                value,
                catalog,
                where,
                f"{key}.{op}" if isinstance(raw, dict) else key,
                problems,
            )
            if test is not None:
                tests.append(test)
    return tuple(tests)


def _parse_test(
    spec: FactSpec,
    op: str,
    value: object,
    catalog: Catalog,
    where: Where,
    key: str,
    problems: Problems,
) -> Test | None:
    if op not in OPERATORS:
        problems.add(
            where,
            key,
            f"unknown operator {op!r}{suggest(op, OPERATORS)}; allowed: {', '.join(OPERATORS)}",
            ProblemKind.UNKNOWN_NAME,
        )
        return None
    if op in RANGE_OPERATORS and spec.kind != Kind.NUMBER:
        problems.add(
            where, key, f"operator {op!r} needs a number fact; {spec.name!r} is {spec.kind}"
        )
        return None
    if op in ("in", "not_in"):
        if not isinstance(value, list) or not value:
            problems.add(where, key, f"operator {op!r} takes a non-empty list, not {value!r}")
            return None
        bad = [(e, v) for e, v in ((_check_value(spec, v, catalog), v) for v in value) if e]
        if bad:
            problems.add(where, key, bad[0][0], _value_kind(spec, bad[0][1]))
            return None
        return Test(spec.name, op, tuple(value))
    error = _check_value(spec, value, catalog)
    if error:
        problems.add(where, key, error, _value_kind(spec, value))
        return None
    assert isinstance(value, (int, float, str, bool))
    return Test(spec.name, op, value)


def _parse_sets(
    raw: object, facts: Mapping[str, FactSpec], catalog: Catalog, where: Where, problems: Problems
) -> tuple[Assignment, ...]:
    if not isinstance(raw, dict):
        problems.add(where, "set", f"must be a table of fact = value, not {raw!r}")
        return ()
    sets: list[Assignment] = []
    for name, value in raw.items():
        key = f"set.{name}"
        spec = _fact(name, facts, where, key, problems)
        if spec is None:
            continue
        if spec.producer != Producer.RULES:
            problems.add(
                where,
                key,
                f"fact {name!r} comes from the {spec.producer} and cannot be set by a rule",
            )
            continue
        if isinstance(value, dict):
            sets.extend(_parse_copy(spec, value, facts, where, key, problems))
            continue
        error = _check_value(spec, value, catalog)
        kind = _value_kind(spec, value) if error else ProblemKind.LOAD
        error = error or _check_domain(spec, value)
        if error:
            problems.add(where, key, error, kind)
            continue
        stored: Value = tuple(value) if isinstance(value, list) else value
        sets.append(Assignment(name, stored))
    return tuple(sets)


def _check_domain(spec: FactSpec, value: object) -> str:
    if spec.kind != Kind.NUMBER or not is_number(value):
        return ""
    assert isinstance(value, (int, float))
    if not spec.low <= value <= spec.high:
        return f"{value!r} is outside the range of {spec.name!r}: [{spec.low:g}, {spec.high:g}]"
    if spec.integer and value != int(value):
        return f"{spec.name!r} takes whole numbers, not {value!r}"
    return ""


def _parse_copy(
    spec: FactSpec,
    value: dict[str, Any],
    facts: Mapping[str, FactSpec],
    where: Where,
    key: str,
    problems: Problems,
) -> list[Assignment]:
    if set(value) != {"fact"} or not isinstance(value["fact"], str):
        problems.add(where, key, 'a computed value is written { fact = "<name>" }')
        return []
    source = _fact(value["fact"], facts, where, f"{key}.fact", problems)
    if source is None:
        return []
    if source.optional:
        problems.add(
            where,
            f"{key}.fact",
            f"fact {source.name!r} may have no value (it is "
            "optional), so it cannot be copied; test it in `when` and set a literal",
        )
        return []
    same_kind = source.kind == spec.kind
    gpu_like = {source.values_from, spec.values_from} <= {"gpus"}
    if not same_kind or (spec.kind == Kind.ENUM and source.values != spec.values and not gpu_like):
        problems.add(
            where,
            f"{key}.fact",
            f"cannot copy {source.kind} fact {source.name!r} into {spec.kind} fact {spec.name!r}",
        )
        return []
    return [Assignment(spec.name, None, from_fact=source.name)]


def _parse_texts(
    entry: Mapping[str, Any],
    key: str,
    facts: Mapping[str, FactSpec],
    where: Where,
    problems: Problems,
) -> tuple[str, ...]:
    raw = entry.get(key, [])
    items = [raw] if isinstance(raw, str) else raw
    if not isinstance(items, list) or not all(isinstance(t, str) and t.strip() for t in items):
        problems.add(where, key, f"must be a string or a list of strings, not {raw!r}")
        return ()
    for text in items:
        if control_problem(text, multiline=True):
            problems.add(where, key, control_problem(text, multiline=True))
            return ()
        try:
            found = placeholders(text)
        except ValueError as exc:
            problems.add(where, key, str(exc))
            return ()  # a malformed text must not reach Rule.reads (stratifying)
        for name, spec in found:
            fact = _fact(name, facts, where, f"{key}.{{{name}}}", problems)
            if fact is not None and spec:
                _check_format(fact, spec, where, f"{key}.{{{name}}}", problems)
    return tuple(items)


def _check_format(fact: FactSpec, spec: str, where: Where, key: str, problems: Problems) -> None:
    problem = format_problem(fact.kind, spec)
    if problem:
        problems.add(where, key, problem)


def _parse_alternatives(
    raw: object, rule_id: str, where: Where, problems: Problems
) -> tuple[Alternative, ...]:
    if not isinstance(raw, list):
        problems.add(where, "alternatives", f"must be a list of {{ part, text }}, not {raw!r}")
        return ()
    found: list[Alternative] = []
    for i, item in enumerate(raw):
        key = f"alternatives[{i}]"
        if not isinstance(item, dict) or set(item) != {"part", "text"}:
            problems.add(where, key, 'must be { part = "...", text = "..." }')
            continue
        part, text = item["part"], item["text"]
        if part not in PARTS:
            problems.add(
                where,
                f"{key}.part",
                f"unknown part {part!r}{suggest(str(part), PARTS)}; allowed: {', '.join(PARTS)}",
                ProblemKind.UNKNOWN_NAME,
            )
        elif not isinstance(text, str) or not text.strip():
            problems.add(where, f"{key}.text", "must be a non-empty string")
        elif control_problem(text, multiline=True):
            problems.add(where, f"{key}.text", control_problem(text, multiline=True))
        else:
            found.append(Alternative(part, text, rule_id))
    return tuple(found)


def parse_rule(
    entry: object,
    table_id: str,
    file: str,
    position: int,
    facts: Mapping[str, FactSpec],
    catalog: Catalog,
    problems: Problems,
) -> Rule | None:
    """One ``[[tables.rules]]`` entry -> Rule (``index`` is filled in later)."""
    if not isinstance(entry, dict):
        problems.add(
            Where(file, table_id=table_id),
            f"rules[{position}]",
            "must be a table ([[tables.rules]])",
        )
        return None
    rule_id = entry.get("id")
    if not isinstance(rule_id, str) or not ID_PATTERN.match(rule_id):
        problems.add(
            Where(file, table_id=table_id),
            f"rules[{position}].id",
            f"must be lower-case letters, digits, '.', '_' or '-' (1-{MAX_ID_LENGTH}), "
            f"not {rule_id!r}",
        )
        return None
    where = Where(file, rule_id=rule_id, table_id=table_id)
    check_keys(entry, RULE_KEYS, where, "", problems)
    title, source, why = (text_field(entry, k, where, problems) for k in ("title", "source", "why"))
    for key, text in (("title", title), ("source", source), ("why", why)):
        if control_problem(text, multiline=key == "why"):
            problems.add(where, key, control_problem(text, multiline=key == "why"))
    tests = _parse_tests(entry.get("when", {}), facts, catalog, where, problems)
    sets = _parse_sets(entry.get("set", {}), facts, catalog, where, problems)
    notes = _parse_texts(entry, "note", facts, where, problems)
    warnings = _parse_texts(entry, "warn", facts, where, problems)
    alternatives = _parse_alternatives(entry.get("alternatives", []), rule_id, where, problems)
    if not (sets or notes or warnings or alternatives) and not any(
        k in entry for k in ("set", "note", "warn", "alternatives")
    ):
        problems.add(where, "", "has no consequence; give set, note, warn or alternatives")
    return Rule(
        rule_id, title, source, why, table_id, file, 0, tests, sets, notes, warnings, alternatives
    )


ParseRule = Callable[..., Rule | None]
