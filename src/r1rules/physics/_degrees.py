"""The degrees a caller states for an estimate, checked before any layout is searched."""

from __future__ import annotations

from r1rules._errors import WorkloadError
from r1rules.catalog import Engine, Model
from r1rules.physics._roofline import positive

__all__ = ["check_degrees"]


def check_degrees(
    model: Model,
    gpu_count: int,
    tensor_parallel: int | None,
    pipeline_parallel: int | None,
    expert_parallel: int | None,
    data_parallel_attention: bool | None,
    mtp_acceptance: float,
    engine: Engine,
) -> None:
    """WorkloadError naming the first stated degree the model, ``gpu_count`` or ``engine``
    does not allow (llama.cpp runs no expert parallelism nor data-parallel attention)."""
    if tensor_parallel is not None:
        positive(tensor_parallel=tensor_parallel)
        if tensor_parallel > gpu_count or (
            model.num_attention_heads % tensor_parallel and not data_parallel_attention
        ):
            raise WorkloadError(
                f"tensor_parallel: {tensor_parallel} must divide num_attention_heads "
                f"({model.num_attention_heads}) and be <= gpu_count ({gpu_count})"
            )
    if pipeline_parallel is not None:
        positive(pipeline_parallel=pipeline_parallel)
        if (tensor_parallel or 1) * pipeline_parallel > gpu_count:
            raise WorkloadError(
                f"pipeline_parallel: tensor_parallel x pipeline_parallel "
                f"({(tensor_parallel or 1) * pipeline_parallel}) must be <= gpu_count ({gpu_count})"
            )
    if expert_parallel is not None:
        positive(expert_parallel=expert_parallel)
        if expert_parallel * (pipeline_parallel or 1) > gpu_count:
            raise WorkloadError(
                f"expert_parallel: {expert_parallel} GPUs per stage exceed gpu_count ({gpu_count})"
            )
    if data_parallel_attention is not None and not isinstance(data_parallel_attention, bool):
        raise WorkloadError(
            f"data_parallel_attention: expected True or False; got {data_parallel_attention!r}"
        )
    if (
        isinstance(mtp_acceptance, bool)
        or not isinstance(mtp_acceptance, int | float)
        or not 0.0 <= mtp_acceptance < 1.0
    ):
        raise WorkloadError(
            f"mtp_acceptance: a fraction in [0, 1) of draft tokens kept; got {mtp_acceptance!r}"
        )
    if expert_parallel is not None and expert_parallel > 1 and not engine.expert_parallel:
        raise WorkloadError(
            f"expert_parallel: {engine.name} runs no expert parallelism; got {expert_parallel}"
        )
    if data_parallel_attention and not engine.data_parallel_attention:
        raise WorkloadError(
            f"data_parallel_attention: {engine.name} runs no data-parallel attention; got True"
        )
