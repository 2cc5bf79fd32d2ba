"""``r1rules check``: print the checker's findings, one line each, or as JSON."""

from __future__ import annotations

import json

from r1rules.check import ERROR, WARNING, Finding, check_paths

__all__ = ["run_check", "summary"]


def _count(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def summary(findings: tuple[Finding, ...]) -> str:
    """``N errors, M warnings``, or ``no findings``."""
    if not findings:
        return "no findings"
    errors = sum(f.severity == ERROR for f in findings)
    warnings = sum(f.severity == WARNING for f in findings)
    return f"{_count(errors, 'error')}, {_count(warnings, 'warning')}"


def run_check(paths: list[str], *, layered: bool, as_json: bool) -> int:
    """Check the rule files at ``paths`` (the shipped rules for none; on top of them when
    ``layered``), print the findings to stdout, and return the exit code: 0 no errors,
    1 errors, 2 unreadable input.

    Text: one line per finding, then the summary line. JSON: ``{"findings": [...],
    "errors": N, "warnings": M}``.
    """
    findings, code = check_paths(paths, layered)
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
    return code
