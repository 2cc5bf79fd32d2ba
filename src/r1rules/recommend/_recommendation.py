"""What evaluate() returns: the recommendation, its estimates, the rules behind each field,
its report (``str``), its JSON-ready form (``to_dict``) and ``why_not`` explanations."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import attrs

from r1rules.catalog import FrozenMap
from r1rules.ruleset import Alternative, failed_tests, shortfall

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


def _read_only(facts: Mapping[str, object]) -> Mapping[str, object]:
    """A read-only copy: a caller cannot change the facts a Recommendation was built with."""
    return FrozenMap(facts)


@attrs.frozen(eq=False)
class Recommendation:
    """Hardware for one workload and why.

    Every field is justified by the fired rules in ``justifications`` (firing order, built
    from ``trace`` on first use); ``justification_for(field)`` returns those that set it.
    ``estimates`` are the physics figures for the recommended deployment. ``facts`` holds
    every fact of the evaluation (workload, decisions, sizing) as the last rule saw them.
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
    facts: Mapping[str, object] = attrs.field(repr=False, converter=_read_only)
    workload: Any = attrs.field(repr=False)  # r1rules.Workload
    rules: Any = attrs.field(repr=False)  # the RuleSet that decided
    _justifications: tuple[Justification, ...] | None = attrs.field(
        default=None, init=False, repr=False
    )

    @property
    def justifications(self) -> tuple[Justification, ...]:
        """Every rule that fired, with its provenance and the values it read and set."""
        built = self._justifications
        if built is None:
            by_id = self.rules.rules_by_id
            built = tuple(
                Justification(
                    rule.id,
                    rule.title,
                    rule.source,
                    rule.why,
                    rule.table_id,
                    values,
                    sets,
                    suppressed,
                )
                for rule, values, sets, suppressed in (
                    (by_id[rule_id], values, sets, suppressed)
                    for rule_id, values, sets, suppressed in self.trace
                )
            )
            object.__setattr__(self, "_justifications", built)
        return built

    def justification_for(self, field: str) -> tuple[Justification, ...]:
        """The fired rules that set ``field`` (the last one decided its value)."""
        name = {"gpu.id": "gpu", "gpu.count": "gpu_count"}.get(field, field)
        return tuple(
            j for j in self.justifications if not j.suppressed and any(k == name for k, _ in j.sets)
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (plain str/int/float/bool/None/list/dict values only).

        Strict JSON has no NaN or Infinity: a non-finite number (such as the inf TTFT and
        TPOT of a deployment that cannot hold the model, or an inf fact a rule set
        computes) becomes ``None`` (JSON ``null``), so that
        ``json.dumps(rec.to_dict(), allow_nan=False)`` always succeeds.
        """
        plain: dict[str, Any] = _finite(_recommendation_dict(self))
        return plain

    def why_not(self, rule_id: str) -> str:
        """Why a rule did not fire for this workload: the conditions that failed, by how much."""
        return _why_not(self, rule_id)

    def __str__(self) -> str:
        return _render_text(self)


# The report (str) and the JSON-ready dict (to_dict).

_FIELDS = (
    ("edition", "edition"),
    ("gpu", "gpu"),
    ("gpu count", "gpu_count"),
    ("nodes", "nodes"),
    ("cpu", "cpu"),
    ("host RAM", "memory_gb"),
    ("storage", "storage"),
    ("network", "network"),
)


def _plain(value: object) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return value
    return value


def _finite(value: Any) -> Any:
    """``value`` with every non-finite float, however deeply nested, replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _recommendation_dict(rec: Recommendation) -> dict[str, Any]:
    """Every field as str/int/float/bool/list/dict; facts and the workload included."""
    estimates = {k: _plain(v) for k, v in attrs.asdict(rec.estimates).items()}
    return {
        "edition": rec.edition,
        "gpu": attrs.asdict(rec.gpu),
        "nodes": rec.nodes,
        "cpu": rec.cpu,
        "memory_gb": rec.memory_gb,
        "storage": rec.storage,
        "network": rec.network,
        "alternatives": [attrs.asdict(a) for a in rec.alternatives],
        "notes": [attrs.asdict(m) for m in rec.notes],
        "warnings": [attrs.asdict(m) for m in rec.warnings],
        "estimates": estimates,
        "justifications": [
            {
                "rule_id": j.rule_id,
                "title": j.title,
                "source": j.source,
                "why": j.why,
                "table_id": j.table_id,
                "suppressed": j.suppressed,
                "values": {k: _plain(v) for k, v in j.values},
                "sets": {k: _plain(v) for k, v in j.sets},
            }
            for j in rec.justifications
        ],
        "ruleset_version": rec.ruleset_version,
        "workload": rec.workload.to_dict(),
        "facts": {k: _plain(v) for k, v in sorted(rec.facts.items())},
    }


def _value(rec: Recommendation, field: str) -> str:
    if field == "gpu":
        return f"{rec.gpu.name} ({rec.gpu.id}, {rec.gpu.memory_gb:g} GB)"
    if field == "gpu_count":
        return f"{rec.gpu.count} ({rec.gpu.per_node} per node)"
    if field == "memory_gb":
        return f"{rec.memory_gb:g} GB per node"
    return str(getattr(rec, field))


def _render_text(rec: Recommendation) -> str:
    """A readable report: each field with the rules that set it, then the estimates,
    warnings, notes, alternatives and the full firing trace."""
    width = max(len(label) for label, _ in _FIELDS)
    lines = [f"r1rules recommendation (rules {rec.ruleset_version[:12]})", ""]
    for label, field in _FIELDS:
        lines.append(f"{label:<{width}}  {_value(rec, field)}")
        for j in rec.justification_for(field):
            lines.append(f"{'':<{width}}    <- {j.rule_id} [{j.source}]")
    e = rec.estimates
    lines += [
        "",
        "estimates (physics, at peak load):",
        f"  weights {e.weights_gb:,.1f} GB; KV cache {e.kv_cache_bytes_per_token:,} B/token, "
        f"{e.kv_cache_gb:,.1f} GB in use; {e.memory_per_gpu_gb:,.1f} GB per GPU",
        f"  TTFT {e.ttft_ms:,.0f} ms; TPOT {e.tpot_ms:,.1f} ms; "
        f"{e.throughput_tokens_per_s:,.0f} output tokens/s; "
        f"up to {e.max_concurrency:,} concurrent requests",
        f"  tensor parallel {e.tensor_parallel} x pipeline {e.pipeline_parallel}, "
        f"{e.replicas} replica(s)",
    ]
    for title, messages in (("warnings", rec.warnings), ("notes", rec.notes)):
        if messages:
            lines += ["", f"{title}:"]
            lines += [f"  - {m.text} [{m.rule_id}]" for m in messages]
    if rec.alternatives:
        lines += ["", "alternatives:"]
        lines += [f"  - {a.part}: {a.text} [{a.rule_id}]" for a in rec.alternatives]
    lines += ["", "fired rules, in order:"]
    lines += [f"  {i}. {j}" for i, j in enumerate(rec.justifications, 1)]
    return "\n".join(lines)


# Why a rule did (not) fire, from the trace and the reference evaluator.


def _why_not(rec: Recommendation, rule_id: str) -> str:
    """A sentence per failed condition, or how the rule did take part."""
    rule = rec.rules.rule(rule_id)
    for step in rec.justifications:
        if step.rule_id == rule_id:
            if step.suppressed:
                winner = next(
                    j.rule_id
                    for j in rec.justifications
                    if j.table_id == rule.table_id and not j.suppressed
                )
                return (
                    f"{rule_id} matched, but table {rule.table_id!r} is first-hit and "
                    f"{winner!r} came first"
                )
            return f"{rule_id} fired: " + str(step)
    failed = failed_tests(rule, rec.facts)
    if not failed:
        return (
            f"{rule_id} did not fire, yet its condition holds on the final facts: a fact "
            "it reads changed after its table ran"
        )
    lines = [f"{rule_id} did not fire ({rule.source}):"]
    for test in failed:
        lines.append(f"  needs {test.describe()}, but {shortfall(test, rec.facts)}")
    return "\n".join(lines)
