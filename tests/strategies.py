"""Hypothesis strategies shared by the property tests (one place, as attrs/cattrs do)."""

from __future__ import annotations

from hypothesis import strategies as st

from r1rules import Workload, default_catalog
from r1rules._workload import STAGES

CATALOG = default_catalog()
MODEL_IDS = tuple(sorted(CATALOG.models))
GPU_IDS = tuple(sorted(CATALOG.gpus))
PRECISIONS = ("fp32", "bf16", "fp16", "fp8", "int8", "int4")

# Seed-boundary values first, so that shrinking lands on the decisions that matter.
qps = st.one_of(st.sampled_from([0.1, 1, 8, 10, 10.5, 28, 100, 100.5, 150, 1000]),
                st.floats(min_value=0.01, max_value=5000, allow_nan=False))
latency = st.one_of(st.sampled_from([50, 100, 100.5, 150, 199, 200, 300, 499, 500, 2000]),
                    st.floats(min_value=1, max_value=60_000, allow_nan=False))
params = st.one_of(st.sampled_from([1, 7, 7.5, 13, 13.5, 33, 64.9, 65, 70, 175]),
                   st.floats(min_value=0.5, max_value=700, allow_nan=False))
prompt = st.integers(min_value=1, max_value=16_384)
output = st.integers(min_value=1, max_value=16_384)


@st.composite
def workloads(draw: st.DrawFn, *, pinned: bool | None = None,
              models: tuple[str, ...] = MODEL_IDS) -> Workload:
    """Valid workloads over every field (catalog models or generic sizes)."""
    use_model = draw(st.booleans())
    gpu = None
    if pinned is True or (pinned is None and draw(st.booleans())):
        gpu = draw(st.sampled_from(GPU_IDS))
    kwargs: dict[str, object] = dict(
        peak_qps=draw(qps), latency_ms=draw(latency), prompt_tokens=draw(prompt),
        output_tokens=draw(output), stage=draw(st.sampled_from(STAGES)), gpu=gpu,
        budget_usd=draw(st.none() | st.floats(min_value=1_000, max_value=1e8)),
        precision=draw(st.none() | st.sampled_from(("bf16", "fp8", "int4"))),
    )
    if use_model:
        kwargs["model"] = draw(st.sampled_from(models))
    else:
        kwargs["params_b"] = draw(params)
    return Workload(**kwargs)  # type: ignore[arg-type]
