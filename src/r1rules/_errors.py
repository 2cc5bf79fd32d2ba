"""The error types of r1rules: one root, one subclass per kind of bad input, and ``Problem``,
the record each reported problem is.

Every message points at the input that is wrong: the workload field, or the rule file,
rule id and key path, with the allowed values and a "did you mean" where one exists.
A ``Problem`` carries that location as data (file, rule, table, key path), with a ``kind``
and a ``severity`` that tools and exit codes read; the message is for people only.
"""

from __future__ import annotations

import difflib
import math
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from fractions import Fraction
from types import MappingProxyType
from typing import Any

import attrs

__all__ = [
    "CHECK_KINDS",
    "ERROR",
    "KINDS",
    "LOAD_KINDS",
    "SEVERITIES",
    "WARNING",
    "CatalogError",
    "EvaluationError",
    "ExampleValue",
    "Problem",
    "ProblemKind",
    "R1RulesError",
    "RuleError",
    "WorkloadError",
    "control_problem",
    "safe_repr",
    "show_value",
    "suggest",
]

ERROR, WARNING = "error", "warning"
SEVERITIES = (ERROR, WARNING)


class ProblemKind:
    """What a problem is. Tools and exit codes decide on these, never on a message's words."""

    # Problems of the input itself (the loader's and the validators' own):
    UNREADABLE = "unreadable"  # a file or folder missing, unreadable or not TOML
    UNKNOWN_NAME = "unknown-name"  # a fact, operator, key, value or catalog id not known
    LOAD = "load"  # any other rule-file problem (a wrong type, a missing key, a cycle)
    TOO_LARGE = "too-large"  # a rule set beyond the engine's limits
    INVALID = "invalid"  # a value that is not allowed (a workload field, a catalog entry)
    # What the static checker finds in a rule set that loaded:
    GAP = "gap"
    OVERLAP = "overlap"
    DEAD = "dead"
    SHADOWED = "shadowed"
    CONFLICT = "conflict"
    UNREAD_FACT = "unread-fact"
    UNSET_COPY = "unset-copy"


LOAD_KINDS = (
    ProblemKind.UNREADABLE,
    ProblemKind.UNKNOWN_NAME,
    ProblemKind.LOAD,
    ProblemKind.TOO_LARGE,
    ProblemKind.INVALID,
)
CHECK_KINDS = (
    ProblemKind.GAP,
    ProblemKind.OVERLAP,
    ProblemKind.DEAD,
    ProblemKind.SHADOWED,
    ProblemKind.CONFLICT,
    ProblemKind.UNREAD_FACT,
    ProblemKind.UNSET_COPY,
)
KINDS = LOAD_KINDS + CHECK_KINDS

ExampleValue = int | float | str | bool | None  # None: the fact has no value (absent)


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


# Unicode characters that move or hide text on a terminal beside the C0/C1 controls.
_INVISIBLE = frozenset("\u061c\u200e\u200f\u2028\u2029") | frozenset(
    chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))
)
_LONGEST = 60  # characters of a text a message quotes


def safe_repr(value: object) -> str:
    """``repr(value)`` as a message may quote it: a text of at most 60 characters (longer
    ones cut with "..."), an integer too long to print as "an integer of N digits"."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**_LONGEST:
        digits = int((abs(value).bit_length() - 1) * math.log10(2)) + 1  # at most the count
        while abs(value) >= 10**digits:
            digits += 1
        return f"an integer of {digits} digits"
    if isinstance(value, str):
        return repr(value if len(value) <= _LONGEST else value[: _LONGEST - 3] + "...")
    try:
        shown = repr(value)
    except ValueError:  # a container of an integer too long to print
        return f"a {type(value).__name__}"
    return shown if len(shown) <= _LONGEST else shown[: _LONGEST - 3] + "..."


def control_problem(text: str, *, multiline: bool = False) -> str:
    """Why a text cannot be shown as written (a control or invisible character), or "".
    ``multiline`` texts may hold newlines and tabs; names and titles may not."""
    for char in text:
        if multiline and char in "\n\t":
            continue
        if unicodedata.category(char) == "Cc" or char in _INVISIBLE:
            return (
                f"{safe_repr(text)}: contains the control character U+{ord(char):04X}; "
                "write plain text"
            )
    return ""


def _freeze_example(value: Mapping[str, ExampleValue] | None) -> Mapping[str, ExampleValue] | None:
    """A read-only copy, so that a Problem that exists never changes."""
    return None if value is None else MappingProxyType(dict(value))


def _strings(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


def _not_empty(_: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not value:
        raise ValueError(f"Problem.{attribute.name} must not be empty")


@attrs.frozen
class Problem:
    """One problem: where it is, what kind it is, how bad, and in words.

    ``file`` is the file it is in ("" for the rule set as a whole or no file);
    ``rule_ids`` the rules involved (two for an overlap; none for a table's gap or a
    file-level problem); ``table_id`` the table; ``entry`` any other named place (``fact
    'tier'``, ``facts[2]``, ``gpu 'h100'``, ``rule set``); ``key_path`` the key inside
    it (``when.peak_qps.lt``); ``kind`` one of ``KINDS``; ``severity`` ``"error"`` or
    ``"warning"``; ``example`` a concrete input (fact name -> value, None for "absent")
    that shows it, or None. ``str()`` is one line of ``r1rules check``; ``line`` the line
    a RuleError lists.
    """

    severity: str = attrs.field(default=ERROR, validator=attrs.validators.in_(SEVERITIES))
    kind: str = attrs.field(default=ProblemKind.LOAD, validator=attrs.validators.in_(KINDS))
    file: str = ""
    rule_ids: tuple[str, ...] = attrs.field(default=(), converter=_strings)
    table_id: str = ""
    message: str = attrs.field(default="", validator=_not_empty)
    example: Mapping[str, ExampleValue] | None = attrs.field(
        default=None, converter=_freeze_example, hash=False
    )
    key_path: str = ""
    entry: str = ""

    @property
    def rule_id(self) -> str:
        """The (first) rule it concerns, or ""."""
        return self.rule_ids[0] if self.rule_ids else ""

    @property
    def subject(self) -> str:
        """The rules it names, else the table, else the entry."""
        if self.rule_ids:
            return ", ".join(self.rule_ids)
        return f"table {self.table_id!r}" if self.table_id else self.entry

    @property
    def line(self) -> str:
        """The problem as a RuleError lists it: ``<file>: rule '<id>': <key.path>: <what>``
        for the loader's kinds, the checker's line (without the severity) for the others."""
        if self.kind in CHECK_KINDS:
            return _join(self.file, self.subject, self.kind, self.key_path, self._said())
        place = f"rule {self.rule_id!r}" if self.rule_ids else self.subject
        return _join(self.file, place, self.key_path, self._said())

    def __str__(self) -> str:
        return _join(self.severity, self.file, self.subject, self.kind, self.key_path, self._said())

    def _said(self) -> str:
        if self.example is None:
            return self.message
        shown = ", ".join(f"{name}={show_value(v)}" for name, v in self.example.items())
        return f"{self.message}; example: {shown}"

    def to_dict(self) -> dict[str, object]:
        """Every field, JSON-ready (example values: numbers, strings, booleans, null)."""
        out: dict[str, object] = {}
        for field in attrs.fields(Problem):
            value = getattr(self, field.name)
            if isinstance(value, tuple):
                value = list(value)
            elif isinstance(value, Mapping):
                value = dict(value)
            out[field.name] = value
        return out

    def __reduce__(self) -> tuple[Callable[..., Problem], tuple[dict[str, Any]]]:
        # The example's read-only view does not pickle; the record is rebuilt from its fields.
        return (_rebuild, (self.to_dict(),))


def _rebuild(fields: dict[str, Any]) -> Problem:
    return Problem(**fields)


def _join(*parts: str) -> str:
    return ": ".join(part for part in parts if part)


def _problems(items: Iterable[Problem | str]) -> tuple[Problem, ...]:
    if isinstance(items, str):  # one message, not its characters
        items = (items,)
    return tuple(p if isinstance(p, Problem) else Problem(message=p) for p in items)


class R1RulesError(Exception):
    """Root of every error r1rules raises on purpose.

    ``problems`` lists the problems as records when the raiser gave them (always for a
    RuleError); it is empty otherwise.
    """

    problems: tuple[Problem, ...] = ()


class _Listing(R1RulesError):
    """An error whose message may be built from its problems: ``Error(message)`` or
    ``Error(problems=[...])`` (the message then lists them, one per line)."""

    what = "the input"

    def __init__(self, message: str = "", *, problems: Iterable[Problem] = ()) -> None:
        self.problems = _problems(problems)
        super().__init__(message or _listing(self.problems, self.what))


def _listing(problems: Sequence[Problem], what: str) -> str:
    count = len(problems)
    head = f"1 problem in {what}" if count == 1 else f"{count} problems in {what}"
    return head + ":\n" + "\n".join(f"  {p.line}" for p in problems)


class WorkloadError(_Listing, ValueError):
    """A workload field has a value that is not allowed; the message names the field."""

    what = "the workload"


class CatalogError(_Listing, ValueError):
    """A model or GPU catalog file, or an id looked up in it, is not valid."""

    what = "the catalog"


class RuleError(R1RulesError, ValueError):
    """One or more rule-file problems, all reported together.

    ``problems`` holds one Problem per problem (a string given is taken as a problem's
    message); ``str()`` lists their ``line``, one per line.
    """

    def __init__(self, problems: Iterable[Problem | str]) -> None:
        self.problems = _problems(problems)
        super().__init__(_listing(self.problems, "the rule set"))

    def __reduce__(self) -> tuple[type[RuleError], tuple[tuple[Problem, ...]]]:
        return (RuleError, (self.problems,))


class EvaluationError(R1RulesError, RuntimeError):
    """The rules could not decide a workload (for example an exclusive table matched twice)."""


def suggest(word: str, choices: Iterable[str]) -> str:
    """Return ``" (did you mean 'x'?)"`` for the closest choice, or ``""`` when none is close."""
    pool = sorted(set(choices))
    lowered = {c.lower(): c for c in pool}
    close = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
    if not close:  # an abbreviation: the one choice it begins ('prod' -> 'production')
        starting = [c for c in lowered if word and c.startswith(word.lower())]
        close = starting if len(starting) == 1 else []
    if not close:
        return ""
    return f" (did you mean {lowered[close[0]]!r}?)"
