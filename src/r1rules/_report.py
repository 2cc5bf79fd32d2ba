"""A Recommendation as text (str) and as a JSON-ready dict (to_dict)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from ._recommendation import Recommendation

__all__ = ["recommendation_dict", "render_text"]

_FIELDS = (("edition", "edition"), ("gpu", "gpu"), ("gpu count", "gpu_count"),
           ("nodes", "nodes"), ("cpu", "cpu"), ("host RAM", "memory_gb"),
           ("storage", "storage"), ("network", "network"))


def _plain(value: object) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return value
    return value


def recommendation_dict(rec: Recommendation) -> dict[str, Any]:
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
            {"rule_id": j.rule_id, "title": j.title, "source": j.source, "why": j.why,
             "table_id": j.table_id, "suppressed": j.suppressed,
             "values": {k: _plain(v) for k, v in j.values},
             "sets": {k: _plain(v) for k, v in j.sets}}
            for j in rec.justifications],
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


def render_text(rec: Recommendation) -> str:
    """A readable report: each field with the rules that set it, then the estimates,
    warnings, notes, alternatives and the full firing trace."""
    width = max(len(label) for label, _ in _FIELDS)
    lines = [f"r1rules recommendation (rules {rec.ruleset_version[:12]})", ""]
    for label, field in _FIELDS:
        lines.append(f"{label:<{width}}  {_value(rec, field)}")
        for j in rec.justification_for(field):
            lines.append(f"{'':<{width}}    <- {j.rule_id} [{j.source}]")
    e = rec.estimates
    lines += ["", "estimates (physics, at peak load):",
              f"  weights {e.weights_gb:,.1f} GB; KV cache {e.kv_cache_bytes_per_token:,} B/token, "
              f"{e.kv_cache_gb:,.1f} GB in use; {e.memory_per_gpu_gb:,.1f} GB per GPU",
              f"  TTFT {e.ttft_ms:,.0f} ms; TPOT {e.tpot_ms:,.1f} ms; "
              f"{e.throughput_tokens_per_s:,.0f} output tokens/s; "
              f"up to {e.max_concurrency:,} concurrent requests",
              f"  tensor parallel {e.tensor_parallel} x pipeline {e.pipeline_parallel}, "
              f"{e.replicas} replica(s)"]
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
