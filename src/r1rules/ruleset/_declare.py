"""``[[facts]]`` entries: the facts a rule file declares for its own tables to set and read."""

from __future__ import annotations

import re
from collections.abc import Mapping

from r1rules._errors import ProblemKind, suggest
from r1rules._vocabulary import FactSpec, Kind, Producer
from r1rules.ruleset._placeholders import control_problem
from r1rules.ruleset._problems import Problems, Where, check_keys, text_field

__all__ = ["parse_fact_declaration"]

ENUM_VALUE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._+/-]{0,63}\Z")  # \Z: no trailing "\n"
FACT_TYPES = (Kind.NUMBER, Kind.ENUM, Kind.BOOL)


def parse_fact_declaration(
    entry: object,
    file: str,
    position: int,
    known: Mapping[str, FactSpec],
    problems: Problems,
) -> FactSpec | None:
    """One ``[[facts]]`` entry: a fact a rule file adds for its own tables to set and read."""
    where = Where(file, entry=f"facts[{position}]")
    if not isinstance(entry, dict):
        problems.add(where, "", "must be a table ([[facts]])")
        return None
    check_keys(entry, ("name", "type", "values", "description", "unit"), where, "", problems)
    name = entry.get("name")
    if not isinstance(name, str) or not name.isidentifier() or not name.islower():
        problems.add(where, "name", f"must be a lower-case identifier, not {name!r}")
        return None
    where = Where(file, entry=f"fact {name!r}")
    if name in known:
        origin = known[name].declared_in or "built in"
        problems.add(where, "name", f"already declared ({origin})")
        return None
    kind = entry.get("type")
    if kind not in FACT_TYPES:
        problems.add(
            where,
            "type",
            f"{kind!r} is not a fact type"
            f"{suggest(str(kind), FACT_TYPES)}; allowed: {', '.join(FACT_TYPES)}",
            ProblemKind.UNKNOWN_NAME,
        )
        return None
    description = text_field(entry, "description", where, problems)
    if control_problem(description):
        problems.add(where, "description", control_problem(description))
    values: tuple[str, ...] = ()
    if kind == Kind.ENUM:
        raw = entry.get("values")
        if not isinstance(raw, list) or not raw or not all(isinstance(v, str) for v in raw):
            problems.add(where, "values", "an enum fact needs a non-empty list of strings")
            return None
        odd = [v for v in raw if not ENUM_VALUE.match(v)]
        if odd:
            problems.add(
                where,
                "values",
                control_problem(odd[0])
                or f"{odd[0]!r}: enum values are 1-64 letters, digits, "
                "spaces or . _ + / - (starting with a letter or digit)",
            )
            return None
        values = tuple(raw)
    elif "values" in entry:
        problems.add(where, "values", f"only enum facts take values, {name!r} is {kind}")
    unit = entry.get("unit", "")
    return FactSpec(
        name,
        kind,
        Producer.RULES,
        description,
        unit if isinstance(unit, str) else "",
        values=values,
        declared_in=file,
    )
