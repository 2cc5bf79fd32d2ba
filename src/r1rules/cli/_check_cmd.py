"""``r1rules check``: print the checker's findings, one line each, or as JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence

from r1rules._errors import ERROR, WARNING, ProblemKind
from r1rules.check import Finding, check_paths
from r1rules.cli._exit import EXIT_BAD_INPUT, EXIT_ERRORS, EXIT_OK

__all__ = ["exit_code", "run_check", "summary"]


def _count(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def summary(findings: Sequence[Finding]) -> str:
    """``N errors, M warnings``, or ``no findings``."""
    if not findings:
        return "no findings"
    errors = sum(f.severity == ERROR for f in findings)
    warnings = sum(f.severity == WARNING for f in findings)
    return f"{_count(errors, 'error')}, {_count(warnings, 'warning')}"


def exit_code(findings: Sequence[Finding]) -> int:
    """Bad input (2) when some input could not be read at all (kind ``unreadable``), errors
    (1) when some finding is an error, else 0. Decided from ``kind`` and ``severity`` only:
    the wording of a message never changes it."""
    if any(f.kind == ProblemKind.UNREADABLE for f in findings):
        return EXIT_BAD_INPUT
    if any(f.severity == ERROR for f in findings):
        return EXIT_ERRORS
    return EXIT_OK


def run_check(paths: list[str], *, layered: bool, as_json: bool) -> int:
    """Check the rule files at ``paths`` (the shipped rules for none; on top of them when
    ``layered``), print the findings to stdout, and return the exit code (``exit_code``).

    Text: one line per finding, then the summary line. JSON: ``{"findings": [...],
    "errors": N, "warnings": M}``, each finding with every field of its record.
    """
    findings = check_paths(paths, layered)
    if as_json:
        document = {
            "findings": [f.to_dict() for f in findings],
            "errors": sum(f.severity == ERROR for f in findings),
            "warnings": sum(f.severity == WARNING for f in findings),
        }
        print(json.dumps(document, indent=2, ensure_ascii=False))
    else:
        for finding in findings:
            print(finding)
        print(summary(findings))
    return exit_code(findings)
