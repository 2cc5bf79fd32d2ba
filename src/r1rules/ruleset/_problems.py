"""Where in the rule files a problem is, and the list of problems a load collects.

The parsers report each problem as it is found, with its place (``Where``: the file and
the rule, table or other entry), the key path inside it, its kind and its message; the
loader raises them all at once as one RuleError of ``Problem`` records.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from r1rules._errors import Problem, ProblemKind, suggest

__all__ = ["Problems", "Where", "check_keys", "text_field"]


@attrs.frozen
class Where:
    """A place in the rule files: a file, and in it a rule, a table or another entry
    (``facts[2]``, ``fact 'tier'``); no file and ``entry="rule set"`` for the whole set."""

    file: str = ""
    rule_id: str = ""
    table_id: str = ""
    entry: str = ""


class Problems:
    """Problems found so far, in the order found."""

    def __init__(self) -> None:
        self.found: list[Problem] = []

    def add(self, where: Where, key: str, message: str, kind: str = ProblemKind.LOAD) -> None:
        self.found.append(
            Problem(
                kind=kind,
                file=where.file,
                rule_ids=(where.rule_id,) if where.rule_id else (),
                table_id=where.table_id,
                entry=where.entry,
                key_path=key,
                message=message,
            )
        )

    def extend(self, problems: tuple[Problem, ...]) -> None:
        self.found.extend(problems)


def check_keys(
    entry: Mapping[str, Any],
    allowed: tuple[str, ...],
    where: Where,
    prefix: str,
    problems: Problems,
) -> None:
    """Report every key of ``entry`` not in ``allowed``, with a suggestion."""
    for key in entry:
        if key not in allowed:
            problems.add(
                where,
                prefix + key,
                f"unknown key{suggest(key, allowed)}; allowed: {', '.join(allowed)}",
                ProblemKind.UNKNOWN_NAME,
            )


def text_field(entry: Mapping[str, Any], key: str, where: Where, problems: Problems) -> str:
    """The non-empty string at ``entry[key]``; "" (and a problem) when it is not one."""
    value = entry.get(key)
    if not isinstance(value, str) or not value.strip():
        shown = "missing" if value is None else f"must be a non-empty string, not {value!r}"
        problems.add(where, key, shown)
        return ""
    return value
