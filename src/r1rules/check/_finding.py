"""What the rule checker reports: one Finding per defect, each with a concrete example input."""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from types import MappingProxyType

import attrs

__all__ = ["ERROR", "KINDS", "SEVERITIES", "WARNING", "Example", "Finding", "show_value"]

ERROR, WARNING = "error", "warning"
SEVERITIES = (ERROR, WARNING)
KINDS = (
    "gap",
    "overlap",
    "dead",
    "shadowed",
    "conflict",
    "unread-fact",
    "unset-copy",
    "unknown-name",
    "load",
)

ExampleValue = int | float | str | bool | None  # None: the fact has no value (absent)
Example = Mapping[str, ExampleValue]


def _freeze_example(value: Mapping[str, ExampleValue] | None) -> Mapping[str, ExampleValue] | None:
    """A read-only copy, so that a Finding that exists never changes."""
    return None if value is None else MappingProxyType(dict(value))


def show_value(value: object) -> str:
    """A fact value as the rule files write it: ``true``, ``7``, ``0.2``, ``basic``, ``absent``."""
    if value is None:
        return "absent"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Fraction):
        return str(value.numerator) if value.denominator == 1 else repr(float(value))
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@attrs.frozen
class Finding:
    """One defect of a rule set, with the rules and table it concerns.

    ``file`` is the rule file it points at ("rule set" for a rule-set-wide load problem);
    ``rule_ids`` the rules involved (none for a table's gap or a file-level problem);
    ``example`` a concrete input (fact name -> value, None for "absent") that shows it, or
    None when no input can (a dead rule, a load problem). ``str()`` gives one line.
    """

    severity: str = attrs.field(validator=attrs.validators.in_(SEVERITIES))
    kind: str = attrs.field(validator=attrs.validators.in_(KINDS))
    file: str
    rule_ids: tuple[str, ...]
    table_id: str
    message: str
    example: Mapping[str, ExampleValue] | None = attrs.field(
        default=None, converter=_freeze_example, hash=False
    )

    @property
    def subject(self) -> str:
        """The rules it names, or the table when it names no rule."""
        if self.rule_ids:
            return ", ".join(self.rule_ids)
        return f"table {self.table_id!r}" if self.table_id else ""

    def __str__(self) -> str:
        head = [self.severity, self.file, self.subject, self.kind, self.message]
        line = ": ".join(part for part in head if part)
        if self.example is not None:
            line += "; example: " + ", ".join(
                f"{name}={show_value(value)}" for name, value in self.example.items()
            )
        return line

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict (example values: numbers, strings, booleans, null for absent)."""
        return {
            "severity": self.severity,
            "kind": self.kind,
            "file": self.file,
            "rule_ids": list(self.rule_ids),
            "table_id": self.table_id,
            "message": self.message,
            "example": None if self.example is None else dict(self.example),
        }
