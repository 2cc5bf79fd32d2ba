"""Note and warning texts: ``{fact}`` and ``{fact:.1f}`` placeholders, filled from facts.

Only plain fact names are allowed in a placeholder (no attribute or index access), so a
rule's text can never reach anything but the facts of the evaluation.
"""

from __future__ import annotations

import string
from collections.abc import Mapping

__all__ = ["fill", "placeholders"]

_FORMATTER = string.Formatter()


def placeholders(text: str) -> tuple[tuple[str, str], ...]:
    """(name, format_spec) for each placeholder; raises ValueError on a malformed template."""
    found = []
    for _literal, name, spec, conversion in _FORMATTER.parse(text):
        if name is None:
            continue
        if conversion:
            raise ValueError(f"placeholder {{{name}!{conversion}}}: conversions are not allowed")
        if not name.isidentifier():
            raise ValueError(f"placeholder {{{name}}}: only plain fact names are allowed")
        found.append((name, spec or ""))
    return tuple(found)


def fill(text: str, facts: Mapping[str, object]) -> str:
    """The text with each placeholder replaced by its fact's value ("n/a" when absent)."""
    if "{" not in text:
        return text
    parts = []
    for literal, name, spec, _conversion in _FORMATTER.parse(text):
        parts.append(literal)
        if name is None:
            continue
        value = facts.get(name)
        if value is None:
            parts.append("n/a")
        elif isinstance(value, tuple):
            parts.append(", ".join(str(v) for v in value))
        else:
            parts.append(format(value, spec or ""))
    return "".join(parts)
