"""Hypothesis strategies shared by the property tests (one place, as attrs/cattrs do)."""

from __future__ import annotations

import math
from typing import Any

from hypothesis import event
from hypothesis import strategies as st

from r1rules import Workload, default_catalog
from r1rules._workload import DEFAULT_OUTPUT_TOKENS, DEFAULT_PROMPT_TOKENS, STAGES
from r1rules.catalog import generic_dense_model

CATALOG = default_catalog()


class Reach:
    """How many examples a property ran, and how many reached the assertion of its law.

    A property whose examples mostly return early, or end in an expected error, tests
    little whatever its example count: call ``run()`` at the top of each example, ``hit()``
    where the law is asserted, and ``check()`` after the property, which asserts that more
    than ``share`` of the examples run reached the law (and prints the figures, shown with
    ``pytest -s``). ``hit`` also records a Hypothesis event (``--hypothesis-show-statistics``).
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.runs = 0
        self.reached = 0
        self.labels: dict[str, int] = {}

    def run(self) -> None:
        self.runs += 1

    def hit(self, label: str = "reached the law's assertion") -> None:
        self.reached += 1
        self.note(label)

    def note(self, label: str) -> None:
        """Count an outcome that is not the law's assertion (an expected error, say)."""
        self.labels[label] = self.labels.get(label, 0) + 1
        event(label)

    def check(self, share: float = 0.5) -> None:
        print(f"\nreach {self.name}: {self.reached}/{self.runs} {self.labels}")
        assert self.runs > 0, f"{self.name}: no example ran"
        assert self.reached > share * self.runs, (
            f"{self.name}: only {self.reached} of {self.runs} examples reached the law's "
            f"assertion ({self.labels})"
        )


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


# -- valid and known-invalid workloads and estimate() arguments (reliability tests) --------


def _context_window(fields: dict[str, object]) -> int:
    """The context window of the model the fields name (a catalog id or a generic size)."""
    if "model" in fields:
        return CATALOG.model(str(fields["model"])).max_context_tokens
    size = fields["params_b"]
    assert isinstance(size, float)
    return generic_dense_model(size).max_context_tokens


@st.composite
def valid_workload_fields(draw: st.DrawFn) -> dict[str, object]:
    """Workload keyword arguments that are valid, at the edges of every field's range:
    tiny and huge numbers within bounds, aliases, optional fields absent or given, token
    counts up to the model's context window."""
    fields: dict[str, object] = {
        "peak_qps": draw(st.floats(min_value=1e-9, max_value=1e9) | st.integers(1, 10**9)),
        "latency_ms": draw(st.floats(min_value=1e-9, max_value=1e9) | st.integers(1, 10**9)),
    }
    if draw(st.booleans()):
        fields["model"] = draw(plausible["model"])
    else:
        fields["params_b"] = draw(st.floats(min_value=1e-6, max_value=1e4))
    for name in ("precision", "kv_cache_precision", "gpu", "stage", "budget_usd"):
        if draw(st.booleans()):
            fields[name] = draw(plausible[name])
    window = _context_window(fields)
    prompt = draw(st.none() | st.integers(1, window - 1))
    if prompt is not None:
        fields["prompt_tokens"] = prompt
    if draw(st.booleans()):
        used = DEFAULT_PROMPT_TOKENS if prompt is None else prompt
        fields["output_tokens"] = draw(st.integers(1, window - used))
    elif (prompt or 0) + DEFAULT_OUTPUT_TOKENS > window:
        fields["output_tokens"] = window - (prompt or 0)
    return fields


#: For each field, values it can never take (the library must refuse each one).
invalid_values: dict[str, st.SearchStrategy[Any]] = {
    "peak_qps": st.sampled_from([math.nan, math.inf, -math.inf, 0, -1, 1e10, "1", True, None]),
    "latency_ms": st.sampled_from([math.nan, math.inf, 0, -0.0, -5.5, 2e9, "500", False, None]),
    "params_b": st.sampled_from([math.nan, -math.inf, 0, -7, 1e5, 10**400, "7", True, [7]]),
    "budget_usd": st.sampled_from([math.nan, math.inf, 0, -1, 1e16, "1000", True, {}]),
    "model": st.sampled_from(["deepseek-r2", "", "gpt-4", "h100", 7, b"r1", ["deepseek-r1"]]),
    "gpu": st.sampled_from(["h1OO", "", "tpu-v5", "h100\x00", 100, True, ("h100",)]),
    "precision": st.sampled_from(["fp9", "", "FP9", "int3", 8, True]),
    "kv_cache_precision": st.sampled_from(["int4", "int8", "fp9", "", None, 16]),
    "prompt_tokens": st.sampled_from([0, -1, 1.5, 1024.0, "10", True, None, 10**7]),
    "output_tokens": st.sampled_from([0, -4096, 2.5, "4096", False, None, 10**7]),
    "stage": st.sampled_from(["staging", "", "Prod", None, 1]),
}


@st.composite
def invalid_workload_fields(draw: st.DrawFn) -> tuple[str, dict[str, object]]:
    """(the field at fault, valid keyword arguments with exactly one thing wrong): one field
    given a value it can never take, an unknown field, or both or neither of model and
    params_b. The fault's name is in the error message."""
    fields = draw(valid_workload_fields())
    fault = draw(st.sampled_from((*invalid_values, "unknown field", "model/params_b")))
    if fault == "unknown field":
        fields[draw(st.sampled_from(("peak_qpss", "gpus", "latency", "model_id")))] = 1
        return "unknown workload field", fields
    if fault == "model/params_b":
        if draw(st.booleans()):
            fields.update(model="deepseek-r1", params_b=7.0)
        else:
            fields.pop("model", None)
            fields.pop("params_b", None)
        return fault, fields
    fields[fault] = draw(invalid_values[fault])
    return fault, fields


@st.composite
def valid_estimate_arguments(draw: st.DrawFn) -> dict[str, object]:
    """Keyword arguments estimate() accepts: the four required ones and some optional."""
    model = draw(plausible["model"])
    record = CATALOG.model(model)
    gpu_count = draw(st.integers(1, 4096))
    kwargs: dict[str, object] = {
        "model": model,
        "gpu": draw(plausible["gpu"]),
        "gpu_count": gpu_count,
        "concurrency": draw(st.integers(1, 10**5)),
    }
    if draw(st.booleans()):
        kwargs["precision"] = draw(plausible["precision"])
    if draw(st.booleans()):
        kwargs["kv_cache_precision"] = draw(plausible["kv_cache_precision"])
    window = record.max_context_tokens
    prompt = draw(st.integers(1, window // 2))
    if draw(st.booleans()):
        kwargs["prompt_tokens"] = prompt
        kwargs["output_tokens"] = draw(st.integers(1, window - prompt))
    if draw(st.booleans()):
        heads = record.num_attention_heads
        kwargs["tensor_parallel"] = draw(
            st.sampled_from([t for t in (1, 2, 4, 8) if heads % t == 0 and t <= gpu_count])
        )
    return kwargs


invalid_estimate_values: dict[str, st.SearchStrategy[Any]] = {
    "model": st.sampled_from(["deepseek-r2", "", "h100", 7, None, b"r1"]),
    "gpu": st.sampled_from(["h1OO", "", "deepseek-r1", 100, None]),
    "gpu_count": st.sampled_from([0, -1, 1.5, 8.0, "8", True, None, math.nan]),
    "concurrency": st.sampled_from([0, -64, 2.5, "64", False, None, math.inf]),
    "precision": st.sampled_from(["fp9", "", "FP8", 8]),
    "kv_cache_precision": st.sampled_from(["int4", "fp9", "", None]),
    "prompt_tokens": st.sampled_from([0, -1, 1.5, "10", True, None]),
    "output_tokens": st.sampled_from([0, -1, 2.5, "4096", False, None]),
    "tensor_parallel": st.sampled_from([0, -2, 3.0, "2", 10**6, True]),
}


@st.composite
def invalid_estimate_arguments(draw: st.DrawFn) -> tuple[str, dict[str, object]]:
    """(the argument at fault, valid estimate() arguments with that one made invalid)."""
    kwargs = draw(valid_estimate_arguments())
    fault = draw(st.sampled_from(tuple(invalid_estimate_values)))
    kwargs[fault] = draw(invalid_estimate_values[fault])
    return fault, kwargs
