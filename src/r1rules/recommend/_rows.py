"""Flat rows: a recommendation or an option as one dict of plain values, for tables.

``Recommendation.to_row()`` and ``rows(recs)`` give the columns ``ROW_COLUMNS`` documents
(name, unit, meaning), so ``pandas.DataFrame(r1rules.rows(recs))`` is one line; an option
of the list ``evaluate`` weighs is ``option_row(option)`` (``OPTION_COLUMNS``). Every
value is a str, int, float, bool or None; a non-finite number (the inf TTFT of a
deployment that cannot hold the model) is None, so a row is valid strict JSON.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from r1rules.catalog import Model
from r1rules.recommend._options import Option

__all__ = ["OPTION_COLUMNS", "ROW_COLUMNS", "Value", "option_row", "recommendation_row", "rows"]

Value = str | int | float | bool | None

# What joins several texts (warnings, rule ids, excluding rules) in one cell.
SEPARATOR = " | "

ROW_COLUMNS: tuple[tuple[str, str, str], ...] = (
    # the workload, as given
    ("model", "", "model id as given (None: a generic dense model sized from params_b)"),
    ("params_b", "billion parameters", "dense model size as given (None: the model's own)"),
    ("precision", "", "weight precision asked for (the answer is served in it)"),
    ("kv_cache_precision", "", "KV-cache precision"),
    ("engine", "", "serving engine whose efficiency profile the estimates use"),
    ("request_overhead_ms", "ms", "stated way to a first token off the GPU (None: profile's)"),
    ("pinned_gpu", "", "GPU id the workload pins (None: any GPU)"),
    ("peak_qps", "requests/s", "peak request rate (derived when concurrent_requests is given)"),
    ("concurrent_requests", "requests", "requests in flight at peak, if the load came so"),
    ("latency_ms", "ms", "time-to-first-token target at peak"),
    ("tpot_target_ms", "ms", "time-per-output-token target (None: no target)"),
    ("prompt_tokens", "tokens", "prompt length per request"),
    ("output_tokens", "tokens", "output length per request"),
    ("stage", "", "deployment stage (e.g. production)"),
    ("budget_usd", "USD", "capital budget (None: no budget)"),
    ("objective", "", "what ranks the options: cost, latency or article"),
    # the answer
    ("edition", "", "edition the rules chose"),
    ("gpu", "", "recommended GPU id"),
    ("gpu_name", "", "recommended GPU's name"),
    ("gpu_count", "GPUs", "GPUs in the deployment"),
    ("gpus_per_node", "GPUs", "GPUs per node"),
    ("nodes", "nodes", "nodes in the deployment"),
    ("layout", "", "a replica's parallel layout (TP8xPP2, EP16+DPA...)"),
    ("replicas", "replicas", "model replicas serving in parallel"),
    ("ttft_ms", "ms", "estimated time to first token (None: the model does not fit)"),
    ("tpot_ms", "ms", "estimated time per output token at peak (None: does not fit)"),
    ("output_tokens_per_s", "tokens/s", "output tokens the deployment produces at peak"),
    ("tokens_per_s_per_user", "tokens/s", "one request's decode speed: 1000 / tpot_ms"),
    ("capital_usd", "USD", "purchase cost: GPUs + hosts + fabric (None: GPU unpriced)"),
    ("onprem_usd_per_hour", "USD/h", "on premises: amortized capital + power"),
    ("cloud_usd_per_hour", "USD/h", "in the cloud at the on-demand rate (None: no rate)"),
    ("usd_per_million_tokens", "USD/Mtok", "on-premises cost per million output tokens"),
    ("cloud_usd_per_million_tokens", "USD/Mtok", "cloud cost per million output tokens"),
    ("cost_gaps", "", f"parts no source prices, counted as 0 (joined by {SEPARATOR!r})"),
    ("meets_targets", "", "holds the model and meets latency_ms (and tpot_ms) at peak"),
    ("within_budget", "", "capital within budget_usd (None: no budget or no price)"),
    ("article_gpu", "", "the article's configuration: its GPU id"),
    ("article_gpu_count", "GPUs", "the article's configuration: its GPU count"),
    ("article_capital_usd", "USD", "the article's configuration: its capital cost"),
    ("savings_usd", "USD", "article_capital_usd - capital_usd (negative: costs more)"),
    ("warnings", "", f"the warnings' texts, joined by {SEPARATOR!r}"),
    ("warning_rules", "", f"the rules that warned, joined by {SEPARATOR!r}"),
    ("ruleset_version", "", "content hash of the rules and catalogs used"),
)

OPTION_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("rank", "", "1 for the objective's best"),
    ("gpu", "", "GPU id"),
    ("gpu_name", "", "GPU name"),
    ("precision", "", "weight precision it is served in"),
    ("quantized", "", "in a lower precision than asked (listed, never chosen)"),
    ("gpu_count", "GPUs", "GPUs in the deployment"),
    ("nodes", "nodes", "nodes in the deployment"),
    ("layout", "", "a replica's parallel layout"),
    ("replicas", "replicas", "model replicas"),
    ("ttft_ms", "ms", "estimated time to first token (None: does not fit)"),
    ("tpot_ms", "ms", "estimated time per output token at peak (None: does not fit)"),
    ("output_tokens_per_s", "tokens/s", "output tokens produced at peak"),
    ("memory_per_gpu_gb", "GB", "memory used per GPU"),
    ("fits", "", "holds the model within the allowed node span"),
    ("capital_usd", "USD", "purchase cost (None: GPU unpriced)"),
    ("onprem_usd_per_hour", "USD/h", "on premises: amortized capital + power"),
    ("cloud_usd_per_hour", "USD/h", "cloud at the on-demand rate (None: no rate)"),
    ("usd_per_million_tokens", "USD/Mtok", "on-premises cost per million output tokens"),
    ("meets_targets", "", "holds the model and meets latency_ms at peak"),
    ("within_budget", "", "capital within budget_usd (None: no budget or no price)"),
    ("pareto", "", "no other option is as cheap, as fast to first token and as small"),
    ("chosen", "", "the answer"),
    ("article", "", "the article's configuration"),
    ("excluded_by", "", f"rules that rule it out as an answer, joined by {SEPARATOR!r}"),
    ("warned_by", "", f"rules that warn about it, joined by {SEPARATOR!r}"),
)


def _number(value: float | int | None) -> float | int | None:
    """A figure as a cell: None for inf or NaN."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _model_id(model: object) -> str | None:
    if isinstance(model, Model):
        return model.id
    return None if model is None else str(model)


def _per_user(tpot_ms: float) -> float | None:
    return 1000.0 / tpot_ms if math.isfinite(tpot_ms) and tpot_ms > 0 else None


def _savings(rec: Any) -> float | None:
    chosen, article = rec.chosen.capital_usd, rec.article.capital_usd
    return None if chosen is None or article is None else _number(article - chosen)


def recommendation_row(rec: Any) -> dict[str, Value]:
    """``rec`` (a Recommendation) as one flat row of the ``ROW_COLUMNS``, in their order."""
    workload, est, cost = rec.workload, rec.estimates, rec.cost
    article = rec.article
    row: dict[str, Value] = {
        "model": _model_id(workload.model),
        "params_b": workload.params_b,
        "precision": workload.precision,
        "kv_cache_precision": workload.kv_cache_precision,
        "engine": workload.engine,
        "request_overhead_ms": workload.request_overhead_ms,
        "pinned_gpu": workload.gpu,
        "peak_qps": workload.peak_qps,
        "concurrent_requests": workload.concurrent_requests,
        "latency_ms": workload.latency_ms,
        "tpot_target_ms": workload.tpot_ms,
        "prompt_tokens": workload.prompt_tokens,
        "output_tokens": workload.output_tokens,
        "stage": workload.stage,
        "budget_usd": workload.budget_usd,
        "objective": rec.objective,
        "edition": rec.edition,
        "gpu": rec.gpu.id,
        "gpu_name": rec.gpu.name,
        "gpu_count": rec.gpu.count,
        "gpus_per_node": rec.gpu.per_node,
        "nodes": rec.nodes,
        "layout": rec.chosen.layout,
        "replicas": est.replicas,
        "ttft_ms": _number(est.ttft_ms),
        "tpot_ms": _number(est.tpot_ms),
        "output_tokens_per_s": _number(rec.chosen.output_tokens_per_s),
        "tokens_per_s_per_user": _per_user(est.tpot_ms),
        "capital_usd": None if cost is None else _number(cost.capital_usd),
        "onprem_usd_per_hour": None if cost is None else _number(cost.onprem_usd_per_hour),
        "cloud_usd_per_hour": None if cost is None else _number(cost.cloud_usd_per_hour),
        "usd_per_million_tokens": (
            None if cost is None else _number(cost.onprem_usd_per_million_tokens)
        ),
        "cloud_usd_per_million_tokens": (
            None if cost is None else _number(cost.cloud_usd_per_million_tokens)
        ),
        "cost_gaps": None if cost is None else SEPARATOR.join(cost.gaps),
        "meets_targets": rec.chosen.meets_targets,
        "within_budget": rec.chosen.within_budget,
        "article_gpu": article.gpu,
        "article_gpu_count": article.gpu_count,
        "article_capital_usd": _number(article.capital_usd),
        "savings_usd": _savings(rec),
        "warnings": SEPARATOR.join(w.text for w in rec.warnings),
        "warning_rules": SEPARATOR.join(dict.fromkeys(w.rule_id for w in rec.warnings)),
        "ruleset_version": rec.ruleset_version,
    }
    return row


def rows(recs: Iterable[Any]) -> list[dict[str, Value]]:
    """Each recommendation's ``to_row()``, in order: ``pandas.DataFrame(rows(recs))``."""
    return [recommendation_row(rec) for rec in recs]


def option_row(option: Option) -> dict[str, Value]:
    """An option as one flat row of the ``OPTION_COLUMNS``, in their order."""
    cost = option.cost
    return {
        "rank": option.rank,
        "gpu": option.gpu,
        "gpu_name": option.gpu_name,
        "precision": option.precision,
        "quantized": option.quantized,
        "gpu_count": option.gpu_count,
        "nodes": option.nodes,
        "layout": option.layout,
        "replicas": option.replicas,
        "ttft_ms": _number(option.ttft_ms),
        "tpot_ms": _number(option.tpot_ms),
        "output_tokens_per_s": _number(option.output_tokens_per_s),
        "memory_per_gpu_gb": _number(option.memory_per_gpu_gb),
        "fits": option.fits,
        "capital_usd": None if cost is None else _number(cost.capital_usd),
        "onprem_usd_per_hour": None if cost is None else _number(cost.onprem_usd_per_hour),
        "cloud_usd_per_hour": None if cost is None else _number(cost.cloud_usd_per_hour),
        "usd_per_million_tokens": (
            None if cost is None else _number(cost.onprem_usd_per_million_tokens)
        ),
        "meets_targets": option.meets_targets,
        "within_budget": option.within_budget,
        "pareto": option.pareto,
        "chosen": option.chosen,
        "article": option.article,
        "excluded_by": SEPARATOR.join(option.excluded_by),
        "warned_by": SEPARATOR.join(option.warned_by),
    }
