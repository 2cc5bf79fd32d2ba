"""The blocks that open the report: the answer, the inputs (defaults marked), and the split
of warnings and notes into those about this workload and the corrections of the article.

Functions of a Recommendation's public fields only (see ``_report``).
"""

from __future__ import annotations

import math
from typing import Any

import attrs

from r1rules._workload import DEFAULT_TPOT_MS_FOR_CONCURRENCY, request_seconds
from r1rules.catalog import EngineProfile
from r1rules.physics import Estimates
from r1rules.recommend._message import Message

__all__ = [
    "ANSWER_LINES",
    "answer_lines",
    "input_lines",
    "is_correction",
    "layout_text",
    "split_messages",
    "usd",
]

ANSWER_LINES = 9  # the answer block's most lines, headline included

# What each default stands for; a field the user set to its default is shown as the default
# (a Workload keeps values, not whether they were given).
_DEFAULT_MEANS = {
    "kv_cache_precision": "the KV cache at 16 bits",
    "engine": "vLLM, the most deployed open serving engine",
    "gpu": "the rules choose the GPU",
    "prompt_tokens": "a typical chat/RAG prompt",
    "output_tokens": "R1 answers carry long reasoning",
    "stage": "serving users",
    "budget_usd": "no budget",
    "objective": "the cheapest option that meets the targets",
}

_ORDER = (
    "model",
    "concurrent_requests",
    "peak_qps",
    "latency_ms",
    "tpot_ms",
    "prompt_tokens",
    "output_tokens",
    "precision",
    "kv_cache_precision",
    "engine",
    "request_overhead_ms",
    "gpu",
    "stage",
    "budget_usd",
    "objective",
)


def is_correction(rec: Any, message: Message) -> bool:
    """A correction of the article: its rule's source cites the seed audit, or its text
    does. Deterministic and simple: nothing else is read."""
    rule = rec.rules.rules_by_id.get(message.rule_id)
    source = "" if rule is None else str(rule.source)
    return "seed-audit" in source.lower() or "seed-audit" in message.text.lower()


def split_messages(rec: Any, messages: tuple[Message, ...]) -> tuple[list[Message], list[Message]]:
    """``messages`` as (about this workload, corrections of the article), order kept."""
    kept = [m for m in messages if not is_correction(rec, m)]
    corrections = [m for m in messages if is_correction(rec, m)]
    return kept, corrections


def usd(value: float | None) -> str:
    """Dollars for people: $3.07B, $1.20M, $34,500, $2.99; "?" when unknown."""
    if value is None or not math.isfinite(value):
        return "?"
    if abs(value) >= 1e9:
        return f"${value / 1e9:,.2f}B"
    if abs(value) >= 1e6:
        return f"${value / 1e6:,.2f}M"
    return f"${value:,.0f}" if abs(value) >= 100 else f"${value:,.2f}"


def target_ms(value: float) -> str:
    """A target in milliseconds as the user gave it (2,000 ms, 12.5 ms, 0.001 ms): a
    target is not rounded, so that "met" and "MISSED" read true next to it."""
    return f"{value:,g} ms"


def _many(count: int, word: str) -> str:
    return f"{count:,} {word}" + ("" if count == 1 else "s")


def layout_text(e: Estimates) -> str:
    """The replicas' layout as the report shows it: "tensor parallel 2 x pipeline 3; 1
    replica", "expert parallel 8 with data-parallel attention; 2 replicas, 1 idle"."""
    if e.expert_parallel > 1:
        split = f"expert parallel {e.expert_parallel}"
        if e.data_parallel_attention:
            split += " with data-parallel attention"
    else:
        split = f"tensor parallel {e.tensor_parallel} x pipeline {e.pipeline_parallel}"
    idle = f", {e.idle_gpus:,} idle" if e.idle_gpus else ""
    return f"{split}; {_many(e.replicas, 'replica')}{idle}"


def _layout(rec: Any) -> str:
    per_node = f"{rec.gpu.per_node:,} GPU{'' if rec.gpu.per_node == 1 else 's'} per node"
    return f"{per_node}; {layout_text(rec.estimates)}"


def _cost(rec: Any) -> str:
    cost = rec.cost
    if cost is None:
        return f"no sourced price for {rec.gpu.id} (see rules/catalog/prices.toml)"
    cloud = "no cloud rate"
    if cost.cloud_usd_per_hour is not None:
        cloud = f"{usd(cost.cloud_usd_per_hour)} cloud"
    return (
        f"{usd(cost.capital_usd)} capital; {usd(cost.onprem_usd_per_hour)}/hour on premises "
        f"({cloud}); {usd(cost.onprem_usd_per_million_tokens)} per million output tokens "
        f"({usd(cost.cloud_usd_per_million_tokens)} cloud)"
    )


def _ttft(rec: Any) -> str:
    estimate, target = rec.estimates.ttft_ms, rec.workload.latency_ms
    shown = f"{estimate:,.0f} ms" if math.isfinite(estimate) else "no estimate"
    verdict = "met" if estimate <= target else "MISSED"
    return f"{shown} estimated at peak load, target {target_ms(target)}: {verdict}"


def _tpot(rec: Any) -> str:
    """Time per output token at peak, as tokens/s per user too, against ``tpot_ms``."""
    estimate, target = rec.estimates.tpot_ms, rec.workload.tpot_ms
    if not math.isfinite(estimate) or estimate <= 0:
        return "no estimate"
    shown = (
        f"{estimate:,.1f} ms per output token at peak ({1000.0 / estimate:,.0f} tokens/s per user)"
    )
    if target is None:
        return f"{shown}, no target"
    verdict = "met" if estimate <= target else "MISSED"
    return f"{shown}, target {target_ms(target)}: {verdict}"


def _budget(rec: Any) -> str | None:
    budget = rec.workload.budget_usd
    if budget is None:
        return None
    if rec.cost is None:
        return f"{usd(budget)}: not checked (no sourced price)"
    capital = rec.cost.capital_usd
    if capital <= budget:
        return f"{usd(capital)} of {usd(budget)}: met"
    return f"{usd(capital)} of {usd(budget)}: MISSED by {usd(capital - budget)}"


def answer_lines(rec: Any, warnings: list[Message]) -> list[str]:
    """The answer first, in at most ``ANSWER_LINES`` lines: what to buy, what it costs,
    whether it meets each target, and the first warnings about this workload (not the
    corrections of the article). The edition is the third line (scripts read it there)."""
    gpu = rec.gpu
    lines = [
        f"r1rules recommendation: {gpu.count:,} x {gpu.name} ({gpu.id}, "
        f"{gpu.memory_gb:g} GB) in {_many(rec.nodes, 'node')}",
        f"  layout   {_layout(rec)}",
        f"  edition  {rec.edition}",
        f"  cost     {_cost(rec)}",
        f"  TTFT     {_ttft(rec)}",
        f"  TPOT     {_tpot(rec)}",
    ]
    budget = _budget(rec)
    if budget is not None:
        lines.append(f"  budget   {budget}")
    room = ANSWER_LINES - len(lines)
    shown = warnings[:room] if len(warnings) <= room else warnings[: room - 1]
    lines += [f"  warning  {m.text} [{m.rule_id}]" for m in shown]
    if len(shown) < len(warnings):
        lines.append(f"  warning  {len(warnings) - len(shown)} more under 'warnings' below")
    return lines


def _shown(name: str, value: object) -> str:
    if value is None:
        return "none"
    if name == "budget_usd" and isinstance(value, (int, float)):
        return f"${value:,.0f}"
    if isinstance(value, float):
        return f"{value:,g}" if not value.is_integer() else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _little(workload: Any) -> str:
    seconds = request_seconds(workload.latency_ms, workload.tpot_ms, workload.output_tokens)
    return (
        f"{workload.concurrent_requests:,g} in flight / {seconds:,.1f} s per request "
        f"({target_ms(workload.latency_ms)} to the first token + "
        f"{max(0, workload.output_tokens - 1):,} x {target_ms(workload.tpot_ms)})"
    )


def _tpot_default(value: object) -> str:
    if value == DEFAULT_TPOT_MS_FOR_CONCURRENCY:
        return (
            " (default with concurrent_requests: MLPerf's DeepSeek-R1 server bound, a target here)"
        )
    return ""


def _profile(rec: Any) -> EngineProfile:
    """The profile of the answer's engine (as the rules' catalog has it) on its GPU."""
    catalog = rec.rules.catalog
    profile: EngineProfile = catalog.engine(rec.workload.engine).profile(catalog.gpu(rec.gpu.id))
    return profile


def _release_line(rec: Any) -> str:
    """Which releases of the engine its profile on the answer's GPU describes, and the
    GPU generation when the profile is kept for one."""
    profile = _profile(rec)
    kind = f"its {profile.architecture.capitalize()} profile" if profile.architecture else ""
    if profile.since is None:
        return f"; {kind}" if kind else ""
    return f"; {kind or 'profile'}{',' if kind else ''} of releases {profile.since} and later"


def input_lines(rec: Any) -> list[str]:
    """Every input of the resolved workload; a default is marked with what it stands for.
    A value equal to the default is shown as the default."""
    workload = rec.workload
    defaults = {a.name: a.default for a in attrs.fields(type(workload))}
    values = workload.to_dict()
    lines = [
        "",
        f"inputs (rules {rec.ruleset_version[:12]}; a value equal to its default is shown "
        "as the default):",
    ]
    # the load is given one way: no concurrent_requests line when it came as peak_qps
    names = [n for n in _ORDER if n != "concurrent_requests" or values.get(n) is not None]
    width = max(len(name) for name in names)
    for name in names:
        value = values.get(name)
        text = _shown(name, value)
        if name == "gpu" and value is None:
            text = "any"
        if name == "model" and value is None:
            size = values.get("params_b")
            text = f"a generic dense model of {size:g}B parameters (params_b)"
        elif name == "peak_qps" and values.get("concurrent_requests") is not None:
            text += " (from concurrent_requests by Little's law: " + _little(workload) + ")"
        elif name == "tpot_ms" and value is None:
            text = "none (no time-per-output-token target)"
        elif name == "tpot_ms" and values.get("concurrent_requests") is not None:
            text += _tpot_default(value)
        elif name == "precision" and rec.facts.get("precision_is_native") is True:
            text += " (default: the model's released precision)"
        elif name in _DEFAULT_MEANS and value == defaults.get(name):
            text += f" (default: {_DEFAULT_MEANS[name]})"
        if name == "engine":
            text += _release_line(rec)
        if name == "request_overhead_ms" and value is not None:
            text += " ms (your stack's measured way to the first token off the GPU)"
        elif name == "request_overhead_ms":
            figure = _profile(rec).request_ms
            text = f"none (default: the {workload.engine} profile's {figure:g} ms)"
        lines.append(f"  {name:<{width}}  {text}")
    return lines
