"""Load problems (``RuleError.problems`` lines) as checker findings, in the same listing."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from r1rules.check._finding import ERROR, Finding

__all__ = ["UNREADABLE", "load_findings", "shown_path"]

# A problem line containing one of these means the input could not be read at all.
UNREADABLE = (
    "no such rule file or folder",
    "no such file or folder",
    "invalid TOML",
    "cannot read",
    "no rule files",
)
_UNKNOWN = ("unknown ", "did you mean", " is not a ")

_RULE = re.compile(r"^(?P<file>.+?): rule '(?P<rule>[a-z0-9][a-z0-9._-]*)': (?P<rest>.+)$")
_TABLE = re.compile(r"^(?P<file>.+?): table '(?P<table>[a-z0-9][a-z0-9._-]*)': (?P<rest>.+)$")
_FILE = re.compile(r"^(?P<file>.+?): (?P<rest>.+)$")


def shown_path(file: str) -> str:
    """A path inside the current directory relative to it; any other text as it is."""
    path = Path(file)
    if not path.is_absolute():
        return file
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return file


def _lines(problems: Sequence[str]) -> list[str]:
    """One line per problem: a multi-line problem (a catalog error listing its own problems
    under a "N problems in ...:" head) is split into its items."""
    lines: list[str] = []
    for problem in problems:
        parts = problem.splitlines()
        if len(parts) > 1 and parts[0].endswith(":"):
            parts = parts[1:]
        lines += [part.strip() for part in parts if part.strip()]
    return lines


def _finding(line: str) -> Finding:
    """``<file>: rule '<id>': <key.path>: <message>`` (or a table's, or a file's) as a Finding."""
    rule_ids: tuple[str, ...] = ()
    table_id = ""
    match = _RULE.match(line)
    if match:
        rule_ids = (match["rule"],)
    else:
        match = _TABLE.match(line)
        if match:
            table_id = match["table"]
        else:
            match = _FILE.match(line)
    file, rest = (shown_path(match["file"]), match["rest"]) if match else ("", line)
    kind = "unknown-name" if any(marker in rest for marker in _UNKNOWN) else "load"
    return Finding(ERROR, kind, file, rule_ids, table_id, rest)


def load_findings(problems: Sequence[str]) -> tuple[tuple[Finding, ...], int]:
    """Findings for the problems of a RuleError, and the exit code: 2 when some input could
    not be read at all (missing, not TOML, unreadable), else 1."""
    lines = _lines(problems)
    unreadable = any(marker in line for line in lines for marker in UNREADABLE)
    return tuple(_finding(line) for line in lines), 2 if unreadable else 1
