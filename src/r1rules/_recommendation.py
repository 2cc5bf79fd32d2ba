"""What evaluate() returns: the recommendation, its estimates, and the rules behind each field."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from ._ruleset import Alternative

__all__ = ["GpuChoice", "Justification", "Message", "Recommendation", "TraceStep"]

Pairs = tuple[tuple[str, object], ...]
TraceStep = tuple[str, Pairs, Pairs, bool]


@attrs.frozen
class GpuChoice:
    """The recommended GPU model and how many of it."""

    id: str
    name: str
    count: int
    per_node: int
    memory_gb: float


@attrs.frozen
class Message:
    """A note or warning, with the rule that raised it."""

    text: str
    rule_id: str


@attrs.frozen
class Justification:
    """A rule that fired: its provenance, the fact values its condition read, what it set.

    ``values`` are (fact, value) pairs as the rule saw them; ``sets`` the facts it set;
    ``suppressed`` is true for a match that a first-hit table overruled (kept in the trace
    so that nothing that matched is hidden, but it set nothing).
    """

    rule_id: str
    title: str
    source: str
    why: str
    table_id: str
    values: tuple[tuple[str, object], ...]
    sets: tuple[tuple[str, object], ...]
    suppressed: bool = False

    def __str__(self) -> str:
        read = ", ".join(f"{k}={_show(v)}" for k, v in self.values) or "always"
        done = ", ".join(f"{k}={_show(v)}" for k, v in self.sets)
        head = f"{self.rule_id} [{self.source}]"
        tail = " (suppressed by an earlier rule of a first-hit table)" if self.suppressed else ""
        return f"{head}: when {read}" + (f" -> {done}" if done else "") + tail


def _show(value: object) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)


@attrs.frozen(eq=False)
class Recommendation:
    """Hardware for one workload and why.

    Every field is justified by the fired rules in ``justifications`` (firing order, built
    from ``trace`` on first use); ``justification_for(field)`` returns those that set it. ``estimates`` are the physics
    figures for the recommended deployment. ``facts`` holds every fact of the evaluation
    (workload, decisions, sizing) as the last rule saw them.
    """

    edition: str
    gpu: GpuChoice
    nodes: int
    cpu: str
    memory_gb: float
    storage: str
    network: str
    alternatives: tuple[Alternative, ...]
    notes: tuple[Message, ...]
    warnings: tuple[Message, ...]
    # The fired rules as (rule id, values read, values set, suppressed), in firing order;
    # ``justifications`` turns them into Justification values on first use.
    trace: tuple[TraceStep, ...] = attrs.field(repr=False)
    estimates: Any  # r1rules.Estimates
    ruleset_version: str
    facts: Mapping[str, object] = attrs.field(repr=False)
    workload: Any = attrs.field(repr=False)  # r1rules.Workload
    rules: Any = attrs.field(repr=False)  # the RuleSet that decided
    _justifications: tuple[Justification, ...] | None = attrs.field(
        default=None, init=False, repr=False)

    @property
    def justifications(self) -> tuple[Justification, ...]:
        """Every rule that fired, with its provenance and the values it read and set."""
        built = self._justifications
        if built is None:
            by_id = self.rules._rules_by_id
            built = tuple(
                Justification(rule.id, rule.title, rule.source, rule.why, rule.table_id,
                              values, sets, suppressed)
                for rule, values, sets, suppressed in (
                    (by_id[rule_id], values, sets, suppressed)
                    for rule_id, values, sets, suppressed in self.trace))
            object.__setattr__(self, "_justifications", built)
        return built

    def justification_for(self, field: str) -> tuple[Justification, ...]:
        """The fired rules that set ``field`` (the last one decided its value)."""
        name = {"gpu.id": "gpu", "gpu.count": "gpu_count"}.get(field, field)
        return tuple(j for j in self.justifications
                     if not j.suppressed and any(k == name for k, _ in j.sets))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (plain str/int/float/bool/list/dict values only)."""
        from ._report import recommendation_dict

        return recommendation_dict(self)

    def why_not(self, rule_id: str) -> str:
        """Why a rule did not fire for this workload: the conditions that failed, by how much."""
        from ._explain import why_not

        return why_not(self, rule_id)

    def __str__(self) -> str:
        from ._report import render_text

        return render_text(self)
