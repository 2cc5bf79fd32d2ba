"""What the rule checker reports: one Finding per defect, each with a concrete example input.

A Finding is a ``Problem`` (``r1rules._errors``), the same record as a load problem: the
checker's findings and the loader's problems are listed, counted and turned into exit
codes alike, from their ``severity`` and ``kind``.
"""

from __future__ import annotations

from collections.abc import Mapping

from r1rules._errors import (
    CHECK_KINDS,
    ERROR,
    KINDS,
    SEVERITIES,
    WARNING,
    ExampleValue,
    Problem,
    show_value,
)

__all__ = [
    "CHECK_KINDS",
    "ERROR",
    "KINDS",
    "SEVERITIES",
    "WARNING",
    "Example",
    "ExampleValue",
    "Finding",
    "show_value",
]

Finding = Problem
Example = Mapping[str, ExampleValue]
