"""The small values a run records: a note or warning with its rule, and a trace step."""

from __future__ import annotations

import attrs

__all__ = ["Message", "Pairs", "TraceStep"]

Pairs = tuple[tuple[str, object], ...]
TraceStep = tuple[str, Pairs, Pairs, bool]


@attrs.frozen
class Message:
    """A note or warning, with the rule that raised it."""

    text: str
    rule_id: str
