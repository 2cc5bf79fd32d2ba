"""Hypothesis strategies shared by the property tests (one place, as attrs/cattrs do)."""

from __future__ import annotations

import math
from typing import Any

from hypothesis import strategies as st

from r1rules import Workload, default_catalog
from r1rules._workload import STAGES

CATALOG = default_catalog()
MODEL_IDS = tuple(sorted(CATALOG.models))
GPU_IDS = tuple(sorted(CATALOG.gpus))
PRECISIONS = ("fp32", "bf16", "fp16", "fp8", "int8", "int4")

# Seed-boundary values first, so that shrinking lands on the decisions that matter.
qps = st.one_of(
    st.sampled_from([0.1, 1, 8, 10, 10.5, 28, 100, 100.5, 150, 1000]),
    st.floats(min_value=0.01, max_value=5000, allow_nan=False),
)
latency = st.one_of(
    st.sampled_from([50, 100, 100.5, 150, 199, 200, 300, 499, 500, 2000]),
    st.floats(min_value=1, max_value=60_000, allow_nan=False),
)
params = st.one_of(
    st.sampled_from([1, 7, 7.5, 13, 13.5, 33, 64.9, 65, 70, 175]),
    st.floats(min_value=0.5, max_value=700, allow_nan=False),
)
prompt = st.integers(min_value=1, max_value=16_384)
output = st.integers(min_value=1, max_value=16_384)


@st.composite
def workloads(
    draw: st.DrawFn, *, pinned: bool | None = None, models: tuple[str, ...] = MODEL_IDS
) -> Workload:
    """Valid workloads over every field (catalog models or generic sizes)."""
    use_model = draw(st.booleans())
    gpu = None
    if pinned is True or (pinned is None and draw(st.booleans())):
        gpu = draw(st.sampled_from(GPU_IDS))
    kwargs: dict[str, object] = dict(
        peak_qps=draw(qps),
        latency_ms=draw(latency),
        prompt_tokens=draw(prompt),
        output_tokens=draw(output),
        stage=draw(st.sampled_from(STAGES)),
        gpu=gpu,
        budget_usd=draw(st.none() | st.floats(min_value=1_000, max_value=1e8)),
        precision=draw(st.none() | st.sampled_from(("bf16", "fp8", "int4"))),
    )
    if use_model:
        kwargs["model"] = draw(st.sampled_from(models))
    else:
        kwargs["params_b"] = draw(params)
    return Workload(**kwargs)  # type: ignore[arg-type]


# -- hostile input (reliability tests) ---------------------------------------------------

FIELD_NAMES = (
    "peak_qps",
    "latency_ms",
    "model",
    "params_b",
    "precision",
    "kv_cache_precision",
    "gpu",
    "prompt_tokens",
    "output_tokens",
    "stage",
    "budget_usd",
)

#: Numbers at the edges of what floats and ints can say.
extreme_numbers = st.sampled_from(
    [
        math.nan,
        math.inf,
        -math.inf,
        0,
        0.0,
        -0.0,
        -1,
        1e308,
        -1e308,
        5e-324,
        2.2250738585072014e-308,
        1e-300,
        1e300,
        10**18,
        10**400,
        -(10**400),
        2**63,
        2**64 + 1,
        1e16,
        1e-16,
        0.1,
        7,
        65,
        100,
    ]
)
#: Strings that are numbers, names that are almost right, or nothing like either.
hostile_strings = st.one_of(
    st.sampled_from(
        [
            "",
            " ",
            "1",
            "1e3",
            "nan",
            "inf",
            "-5",
            "0x10",
            "none",
            "null",
            "True",
            "fp9",
            "FP8",
            "bf16 ",
            "deepseek-r2",
            "DeepSeek-R1",
            "h100\x00",
            "h1OO",
            "../../etc/passwd",
            "é" * 300,
            "\ud800"[:0] + "\U0001f600",
            "a" * 10_000,
        ]
    ),
    st.text(max_size=30),
)
#: Anything at all that is not a plain value.
hostile_objects = st.one_of(
    st.just(None),
    st.booleans(),
    st.just(object()),
    st.binary(max_size=8),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.just([[[[1]]]]),
    st.just({"nested": {"deeper": [1, {"x": math.nan}]}}),
    st.just(complex(1, 1)),
    st.just(range(3)),
    st.just(b"7"),
)
hostile = st.one_of(
    extreme_numbers,
    hostile_strings,
    hostile_objects,
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**30), max_value=10**30),
)
#: A plausible value for each field, so that some workloads pass validation and run.
plausible: dict[str, st.SearchStrategy[Any]] = {
    "peak_qps": st.one_of(st.floats(min_value=1e-6, max_value=1e7), st.integers(1, 10**6)),
    "latency_ms": st.one_of(st.floats(min_value=1e-6, max_value=1e9), st.integers(1, 10**7)),
    "model": st.sampled_from((*MODEL_IDS, "llama-70b", "deepseek-ai/DeepSeek-R1")),
    "params_b": st.floats(min_value=1e-9, max_value=1e4),
    "precision": st.sampled_from(("fp32", "bf16", "fp16", "fp8", "int8", "int4")),
    "kv_cache_precision": st.sampled_from(("fp32", "bf16", "fp16", "fp8")),
    "gpu": st.sampled_from((*GPU_IDS, "h100", "4090")),
    "prompt_tokens": st.integers(1, 300_000),
    "output_tokens": st.integers(1, 300_000),
    "stage": st.sampled_from(("development", "production")),
    "budget_usd": st.floats(min_value=1e-9, max_value=1e15),
}


@st.composite
def hostile_workload_fields(draw: st.DrawFn) -> dict[str, object]:
    """Workload keyword arguments: each field absent, plausible or hostile."""
    fields: dict[str, object] = {}
    for name in FIELD_NAMES:
        choice = draw(st.sampled_from(("absent", "plausible", "plausible", "hostile")))
        if choice == "plausible":
            fields[name] = draw(plausible[name])
        elif choice == "hostile":
            fields[name] = draw(hostile)
    return fields


# -- condition boxes (checker tests) -------------------------------------------------------

BOUNDS = st.sampled_from([0, 0.1, 0.3, 7, 10, 10.5, 100, 500])
TESTS = st.lists(
    st.tuples(st.sampled_from(["lt", "lte", "gt", "gte", "eq", "ne"]), BOUNDS),
    min_size=1,
    max_size=2,
)
