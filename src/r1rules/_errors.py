"""The error types of r1rules: one root, one subclass per kind of bad input.

Every message points at the input that is wrong: the workload field, or the rule file,
rule id and key path, with the allowed values and a "did you mean" where one exists.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence

__all__ = [
    "CatalogError",
    "EvaluationError",
    "R1RulesError",
    "RuleError",
    "WorkloadError",
    "suggest",
]


class R1RulesError(Exception):
    """Root of every error r1rules raises on purpose."""


class WorkloadError(R1RulesError, ValueError):
    """A workload field has a value that is not allowed; the message names the field."""


class CatalogError(R1RulesError, ValueError):
    """A model or GPU catalog file, or an id looked up in it, is not valid."""


class RuleError(R1RulesError, ValueError):
    """One or more rule-file problems, all reported together.

    ``problems`` holds one line per problem, each starting with the file and rule id.
    """

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems: tuple[str, ...] = tuple(problems)
        count = len(self.problems)
        head = "1 problem in the rule set" if count == 1 else f"{count} problems in the rule set"
        super().__init__(head + ":\n" + "\n".join(f"  {p}" for p in self.problems))


class EvaluationError(R1RulesError, RuntimeError):
    """The rules could not decide a workload (for example an exclusive table matched twice)."""


def suggest(word: str, choices: Iterable[str]) -> str:
    """Return ``" (did you mean 'x'?)"`` for the closest choice, or ``""`` when none is close."""
    pool = sorted(set(choices))
    lowered = {c.lower(): c for c in pool}
    close = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
    if not close:
        return ""
    return f" (did you mean {lowered[close[0]]!r}?)"
