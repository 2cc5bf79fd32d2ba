"""The report of a Recommendation (``str``), its JSON-ready form and ``why_not``.

Functions of the Recommendation's public fields only, so that the value module stays small.
"""

from __future__ import annotations

import math
from typing import Any

import attrs

from r1rules.physics import Cost
from r1rules.recommend._options import Option
from r1rules.recommend._report_blocks import answer_lines, input_lines, split_messages, usd
from r1rules.ruleset import failed_tests, shortfall

__all__ = [
    "cost_lines",
    "finite",
    "options_lines",
    "recommendation_dict",
    "render_text",
    "usd",
    "why_not",
]


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


def finite(value: Any) -> Any:
    """``value`` with every non-finite float, however deeply nested, replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def recommendation_dict(rec: Any) -> dict[str, Any]:
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
        "cost": None if rec.cost is None else attrs.asdict(rec.cost),
        "objective": rec.objective,
        "chosen": _option_dict(rec.chosen),
        "article": _option_dict(rec.article),
        "options": [_option_dict(o) for o in rec.options],
        "ruleset_version": rec.ruleset_version,
        "workload": rec.workload.to_dict(),
        "facts": {k: _plain(v) for k, v in sorted(rec.facts.items())},
    }


def _option_dict(option: Option) -> dict[str, Any]:
    out: dict[str, Any] = attrs.asdict(option)
    out["capital_usd"] = option.capital_usd
    out["eligible"] = option.eligible
    out["layout"] = option.layout
    return out


def _value(rec: Any, field: str) -> str:
    if field == "gpu":
        return f"{rec.gpu.name} ({rec.gpu.id}, {rec.gpu.memory_gb:g} GB)"
    if field == "gpu_count":
        return f"{rec.gpu.count} ({rec.gpu.per_node} per node)"
    if field == "memory_gb":
        return f"{rec.memory_gb:g} GB per node"
    return str(getattr(rec, field))


def render_text(rec: Any, *, verbose: bool = False) -> str:
    """A readable report that leads with the answer: what to buy, what it costs, whether
    it meets the targets, the warnings about this workload; then the inputs (defaults
    marked); then the details (each field with the rules that set it, estimates, cost with
    dated prices, the article's configuration, the options, warnings, notes,
    alternatives); then, when this answer touches them, the corrections of the article;
    with ``verbose`` the full firing trace last."""
    warnings, warning_fixes = split_messages(rec, rec.warnings)
    notes, note_fixes = split_messages(rec, rec.notes)
    lines = answer_lines(rec, warnings)
    lines += input_lines(rec)
    lines += ["", "details", ""]
    lines += _field_lines(rec)
    lines += _estimate_lines(rec.estimates)
    lines += cost_lines(rec.cost)
    lines += _choice_lines(rec)
    lines += options_lines(rec.options, rec.objective)
    for title, messages in (("warnings", warnings), ("notes", notes)):
        if messages:
            lines += ["", f"{title}:"]
            lines += [f"  - {m.text} [{m.rule_id}]" for m in messages]
    if rec.alternatives:
        lines += ["", "alternatives:"]
        lines += [f"  - {a.part}: {a.text} [{a.rule_id}]" for a in rec.alternatives]
    corrections = warning_fixes + note_fixes
    if corrections:
        lines += ["", "where the article is wrong (corrections that concern this answer):"]
        lines += [f"  - {m.text} [{m.rule_id}]" for m in corrections]
    if verbose:
        lines += ["", "fired rules, in order:"]
        lines += [f"  {i}. {j}" for i, j in enumerate(rec.justifications, 1)]
    return "\n".join(lines)


def _field_lines(rec: Any) -> list[str]:
    width = max(len(label) for label, _ in _FIELDS)
    lines = []
    for label, field in _FIELDS:
        lines.append(f"{label:<{width}}  {_value(rec, field)}")
        for j in rec.justification_for(field):
            lines.append(f"{'':<{width}}    <- {j.rule_id} [{j.source}]")
    return lines


def _estimate_lines(e: Any) -> list[str]:
    return [
        "",
        "estimates (physics, at peak load):",
        f"  weights {e.weights_gb:,.1f} GB; KV cache {e.kv_cache_bytes_per_token:,} B/token, "
        f"{e.kv_cache_gb:,.1f} GB in use; {e.memory_per_gpu_gb:,.1f} GB per GPU",
        f"  TTFT {e.ttft_ms:,.0f} ms ({e.request_ms:,.0f} of it off the GPU); "
        f"TPOT {e.tpot_ms:,.1f} ms; "
        f"{e.throughput_tokens_per_s:,.0f} output tokens/s; "
        f"up to {e.max_concurrency:,} concurrent requests",
        f"  tensor parallel {e.tensor_parallel} x pipeline {e.pipeline_parallel}"
        + (
            f", expert parallel {e.expert_parallel}"
            + (" with data-parallel attention" if e.data_parallel_attention else "")
            if e.expert_parallel > 1
            else ""
        )
        + f", {e.replicas} replica(s)"
        + (f", {e.idle_gpus} GPU(s) idle" if e.idle_gpus else ""),
    ]


def cost_lines(cost: Cost | None) -> list[str]:
    """The cost block of the report: capital, per hour, per million tokens, dated prices."""
    if cost is None:
        return ["", "cost: no sourced price for this GPU (see rules/catalog/prices.toml)"]
    lines = [
        "",
        "cost (approximate; every price dated below):",
        f"  capital {usd(cost.capital_usd)}: GPUs {usd(cost.gpus_usd)} + hosts "
        f"{usd(cost.hosts_usd)} + network {usd(cost.fabric_usd)}",
        f"  per hour: {usd(cost.onprem_usd_per_hour)} on premises (amortized "
        f"{usd(cost.amortized_usd_per_hour)} + power {cost.power_kw:,.1f} kW "
        f"{usd(cost.power_usd_per_hour)}); cloud "
        + (usd(cost.cloud_usd_per_hour) if cost.cloud_usd_per_hour is not None else "no rate"),
        f"  per million output tokens: {usd(cost.onprem_usd_per_million_tokens)} on premises, "
        f"{usd(cost.cloud_usd_per_million_tokens)} cloud (at "
        f"{cost.output_tokens_per_s:,.0f} output tokens/s)",
    ]
    lines += [f"  - {line}" for line in cost.prices]
    lines += [f"  - not priced: {gap}" for gap in cost.gaps]
    return lines


def _choice_lines(rec: Any) -> list[str]:
    chosen, article = rec.chosen, rec.article
    lines = ["", f"objective: {rec.objective}"]
    if rec.workload.gpu is not None:
        lines.append(
            f"  the answer is the GPU the workload pins ({rec.gpu.id}); the options are still "
            f"ranked by {rec.objective}"
        )
    if chosen.key == article.key:
        lines.append("  the answer is the article's configuration")
        return lines
    lines.append(
        f"  the article's configuration: {article.gpu_count:,} x {article.gpu} "
        f"({article.precision}), {usd(article.capital_usd)}, TTFT {article.ttft_ms:,.0f} ms, "
        + ("meets the targets" if article.meets_targets else "misses the targets")
    )
    if chosen.capital_usd is not None and article.capital_usd is not None:
        saved = article.capital_usd - chosen.capital_usd
        word = "saves" if saved >= 0 else "costs"
        lines.append(f"  this answer {word} {usd(abs(saved))} against it")
    return lines


_COLUMNS = (
    "rank gpu              prec  GPUs nodes  layout       TTFT ms  TPOT ms    tok/s"
    "      capital  meets  note"
)


def options_lines(options: tuple[Option, ...], objective: str) -> list[str]:
    """The options table: every option in the workload's precision, and the quantized
    ones on the Pareto set. ``>`` marks the answer, ``*`` the Pareto set."""
    if not options:
        return []
    shown = [o for o in options if not o.quantized or o.pareto]
    lines = [
        "",
        f"options, ranked by {objective} (> the answer, * Pareto set of cost, TTFT, GPUs):",
    ]
    lines += _order_note(shown, objective)
    lines.append("     " + _COLUMNS)
    for o in shown:
        mark = (">" if o.chosen else " ") + ("*" if o.pareto else " ")
        note = ", ".join(
            [*(["quantized (see quantized-accuracy)"] if o.quantized else []), *o.excluded_by]
            + ([] if o.fits else ["does not fit the node span"])
        )
        lines.append(
            f"  {mark} {o.rank:>4} {o.gpu:<16} {o.precision:<5}{o.gpu_count:>5,} {o.nodes:>5,}"
            f"  {o.layout:<10} {_num(o.ttft_ms):>9} "
            f"{_num(o.tpot_ms, 1):>8} {_num(o.output_tokens_per_s):>8} "
            f"{usd(o.capital_usd):>12}  {'yes' if o.meets_targets else 'no':<5}  {note}"
        )
    hidden = len(options) - len(shown)
    if hidden:
        lines.append(f"  ({hidden} more quantized options in to_dict() / --json)")
    return lines


def _order_note(shown: list[Option], objective: str) -> list[str]:
    """How options the objective cannot compare follow the others (``_options._rank``)."""
    usable = [o for o in shown if o.eligible and o.fits]
    if objective == "latency" and any(o.within_budget is False for o in usable):
        return ["  (fastest first within the budget; those over it follow, cheapest first)"]
    if objective != "latency" and any(not o.meets_targets for o in usable):
        return [
            "  (cheapest first among those meeting the targets; the rest follow, fastest first)"
        ]
    return []


def _num(value: float, digits: int = 0) -> str:
    return f"{value:,.{digits}f}" if math.isfinite(value) else "-"


def why_not(rec: Any, rule_id: str) -> str:
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
