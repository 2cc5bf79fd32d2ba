"""How pipeline stages split a model's layers."""

from __future__ import annotations

import math

from r1rules.catalog import Model

__all__ = ["stage_balance", "stage_share"]


def stage_share(model: Model, pipeline_parallel: int) -> float:
    """Share of the model's layers on the most loaded of ``pipeline_parallel`` stages.

    Engines split the layers as evenly as whole layers allow, the few left over one each
    to some stages (vLLM and SGLang ``get_pp_indices`` in ``distributed/utils.py``): the
    largest stage holds ceil(L / pp) of the L layers, and its GPUs' memory is the one that
    must hold (61 layers over 3 stages: 21, 20 and 20, so 34 % of the model, not 33 %).
    """
    return _largest_share(model.num_layers, pipeline_parallel)


def stage_balance(layers: int, pipeline_parallel: int, micro_batches: int) -> float:
    """How much longer a decode round of ``micro_batches`` (at most ``pipeline_parallel``)
    takes than one whole pass: each stage serves every micro-batch once a round, so the
    round is the longer of a pass through every stage and the micro-batches' steps on the
    most loaded stage, m x ceil(L / pp) / L of a pass (1 when pp divides L or one
    micro-batch is in flight; 61 layers over 3 stages, 3 in flight: 63 / 61)."""
    if pipeline_parallel <= 1:
        return 1.0
    return max(1.0, micro_batches * _largest_share(layers, pipeline_parallel))


def _largest_share(layers: int, pipeline_parallel: int) -> float:
    """ceil(L / pp) / L: the most loaded stage's share of L layers (1 without stages)."""
    if pipeline_parallel <= 1:
        return 1.0
    layers = max(layers, pipeline_parallel)
    return math.ceil(layers / pipeline_parallel) / layers
