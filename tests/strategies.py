"""Hypothesis strategies shared by the property tests (one place, as attrs/cattrs do)."""

from __future__ import annotations

import datetime
import math
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st

from r1rules import Workload, default_catalog
from r1rules._workload import DEFAULT_OUTPUT_TOKENS, DEFAULT_PROMPT_TOKENS, STAGES
from r1rules.catalog import generic_dense_model
from r1rules.ruleset import HitPolicy
from r1rules.ruleset._model import OPERATORS

CATALOG = default_catalog()

#: Settings of a law over generated workloads: 40 examples, the same ones every run.
LAW = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    database=None,
    derandomize=True,
)


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
    "request_overhead_ms",
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
    "budget_usd": st.floats(min_value=1, max_value=1e15),
    "request_overhead_ms": st.floats(min_value=0, max_value=10_000) | st.integers(0, 10_000),
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
    if draw(st.booleans()):
        fields["request_overhead_ms"] = draw(plausible["request_overhead_ms"])
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
    "budget_usd": st.sampled_from([math.nan, math.inf, 0, 0.5, 1e-320, 1e16, "1000", True, {}]),
    "model": st.sampled_from(["deepseek-r2", "", "gpt-4", "h100", 7, b"r1", ["deepseek-r1"]]),
    "gpu": st.sampled_from(["h1OO", "", "tpu-v5", "h100\x00", 100, True, ("h100",)]),
    "precision": st.sampled_from(["fp9", "", "FP9", "int3", 8, True]),
    "kv_cache_precision": st.sampled_from(["int4", "int8", "fp9", "", None, 16]),
    "prompt_tokens": st.sampled_from([0, -1, 1.5, 1024.0, "10", True, None, 10**7]),
    "output_tokens": st.sampled_from([0, -4096, 2.5, "4096", False, None, 10**7]),
    "stage": st.sampled_from(["staging", "", "Prod", None, 1]),
    "request_overhead_ms": st.sampled_from([math.nan, math.inf, -1, -1e-9, 10_000.5, "30", True]),
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
    if draw(st.booleans()):
        kwargs["request_overhead_ms"] = draw(plausible["request_overhead_ms"])
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
    "request_overhead_ms": st.sampled_from([math.nan, -math.inf, -5, 2e4, "60", False, [60]]),
}


@st.composite
def invalid_estimate_arguments(draw: st.DrawFn) -> tuple[str, dict[str, object]]:
    """(the argument at fault, valid estimate() arguments with that one made invalid)."""
    kwargs = draw(valid_estimate_arguments())
    fault = draw(st.sampled_from(tuple(invalid_estimate_values)))
    kwargs[fault] = draw(invalid_estimate_values[fault])
    return fault, kwargs


# -- rule files from the whole grammar (fuzz tests) ------------------------------------------
#
# ``rule_documents()`` draws a valid rule file as data (``[[facts]]`` and ``[[tables]]`` with
# their rules) over every key, operator, hit policy and kind of value the loader reads, and
# ``toml_text`` writes it; each of ``MUTATIONS`` makes one thing wrong in one, which the
# loader must refuse.

#: Names durable-rules or the compiler gives a meaning to: a fact's own properties, ruleset
#: keywords and operators without their ``$``, the compiler's key parts.
ENGINE_WORDS = (
    *("id", "sid", "m", "all", "any", "pri", "count", "cap", "dist", "name", "l", "r", "s"),
    *("i", "f", "r1", "stratum", "and", "or", "lt", "gte", "neq", "ex", "nex", "forward"),
)
#: Fact names whose ``f$`` property hashes (FNV-1a, 32 bits) as a name the engine reads in
#: a fact (``id``, ``sid``) or as the first name of a test (an operator): found by search,
#: each must be refused at load.
HASH_TWINS = {
    "rbnmbqc": "id",
    "vmpehsm": "sid",
    "mmcijpt": "$eq",
    "gejyxsp": "$neq",
    "ivghsy": "$lt",
    "ivghsye": "$lte",
    "pfzodlb": "$gt",
    "ed8lbrk": "$gte",
    "jwkpanr": "$ex",
    "gejyxsy": "$nex",
    "dgvitwd": "$mt",
    "gejyukw": "$imt",
    "cpgjxmu": "$iall",
    "rvexbio": "$iany",
    "jkseala": "$and",
    "dgvitub": "$or",
}
#: Fact names whose ``f$`` property hashes as an engine name that no fact or test reads
#: (the session state's ``$s``, ruleset keys, arithmetic): harmless, accepted.
HARMLESS_TWINS = {
    "cjswfmi": "$s",
    "gamwtaf": "pri",
    "kboiueg": "any",
    "bulxkje": "$m",
    "gtvxjtf": "$add",
}
#: Two fact names the engine cannot tell apart (FNV-1a of their ``f$`` names is equal).
FACT_TWINS = ("xejdim", "xhgnlgg")

#: Numbers at the edges of what the engine compares exactly, all within its +-2**53.
EDGE_NUMBERS: tuple[int | float, ...] = (
    *(0, 0.0, -0.0, 1, -1, 0.5, 8, 8.0, 10, 28, 200, 500, 2000, 5000, 0.1),
    *(1e-300, -1e-300, 5e-324, -5e-324, 2.2250738585072014e-308, 0.30000000000000004),
    *(1e-05, 1e16, 1e22, 1e300, -1e300, 1.7976931348623157e308, -1.7976931348623157e308),
    *(2**53, -(2**53), 2**53 - 1, 9007199254740992.0, 9007199254740994.0, 123456789.125),
)
#: Rule values the loader must refuse: whole numbers beyond 2**53, non-finite numbers.
REFUSED_NUMBERS: tuple[int | float, ...] = (
    *(2**53 + 1, -(2**53) - 1, 2**63, 2**64, 10**400, -(10**400)),
    *(math.inf, -math.inf, math.nan),
)
fuzz_numbers = st.one_of(
    st.sampled_from(EDGE_NUMBERS),
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(-(2**53), 2**53),
)

#: Built-in facts a generated rule may test, by kind: workload, rule-set, sizing (and
#: optional) facts, so that generated tables land before and after sizing.
FUZZ_NUMBERS = (
    *("peak_qps", "latency_ms", "prompt_tokens", "params_b", "budget_usd"),
    *("memory_gb", "sized_gpu_count", "gpu_cost_usd"),
)
OPTIONAL_NUMBERS = ("budget_usd", "gpu_cost_usd")
FUZZ_ENUMS: dict[str, tuple[str, ...]] = {
    "stage": STAGES,
    "precision": PRECISIONS,
    "model_kind": ("dense", "moe"),
    "edition": ("basic", "professional", "enterprise"),
    "candidate_gpu": GPU_IDS,
}
FUZZ_BOOLS = ("gpu_pinned", "has_budget", "meets_latency", "precision_is_native")
#: Facts a text may show but no rule may test (text and GPU-list facts).
SHOWN_ONLY = ("cpu", "storage", "upgrade_ladder")
ENUM_VALUES = ("a", "b", "c", "A b", "1.5", "x+y/z", "9", "true", "null", "id", "e" * 64)
POLICIES = tuple(policy.value for policy in HitPolicy)
#: Format specs that suit every value of a kind of fact (Python 3.10's grammar: no ``z``),
#: and specs the loader refuses for that kind.
FORMAT_SPECS: dict[str, tuple[str, ...]] = {
    "number": (
        *("", ".1f", ">10", "^20,.2f", "e", ".3g", "%", "+", "010.3f", "_", ",", "=+12.4f"),
        *(".50f", "<5", " ", "#.0f", "\n>3", "\t^7", "E", "-.2%", "50"),
    ),
    "bool": ("", "d", ">5", "^7", "+d", "x", ".2f", "#b", "n"),
    "text": ("", ">10", "^12", ".3", "s", "<20s", "*^9"),
}
REFUSED_SPECS: dict[str, tuple[str, ...]] = {
    "number": (".51f", "d", "c", "x", "s", "51", "{x}", ",n", "\x00>9", "1000"),
    "bool": ("c", ">3c", "s", "\x01<5"),
    "text": ("d", "=5", ",", "+", ".51"),
}
#: Text around placeholders: braces written literally, wide characters, tabs, newlines.
LITERALS = ("", "x ", " y", "{{", "}}", "é", "\U0001f600", "\t", "\n")

Document = dict[str, Any]
Kinds = dict[str, tuple[str, tuple[str, ...]]]  # fact -> (kind, its enum values)


def toml_key(key: str) -> str:
    bare = key and all(c.isascii() and (c.isalnum() or c in "_-") for c in key)
    return key if bare else toml_value(key)


def _toml_string(text: str) -> str:
    escaped = []
    for char in text:
        if ord(char) < 0x20 or ord(char) == 0x7F:
            escaped.append(f"\\u{ord(char):04X}")
        else:
            escaped.append("\\" + char if char in '"\\' else char)
    return '"' + "".join(escaped) + '"'


def toml_value(value: object) -> str:
    """A value written as TOML: booleans, whole numbers of any size, floats (with inf,
    nan and -0.0), strings (escaped where TOML needs it), dates, arrays, inline tables."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        inner = ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items())
        return "{ " + inner + " }" if inner else "{}"
    if isinstance(value, datetime.date):
        return value.isoformat()
    raise TypeError(f"no TOML form for {value!r}")


def toml_text(document: Document) -> str:
    """A rule file: its ``[[facts]]``, then each ``[[tables]]`` with its ``[[tables.rules]]``
    (written inline when ``rules`` is not a list of tables)."""
    lines: list[str] = []
    for fact in document.get("facts", []):
        lines.append("[[facts]]")
        lines += [f"{toml_key(k)} = {toml_value(v)}" for k, v in fact.items()]
    for table in document.get("tables", []):
        lines.append("[[tables]]")
        rules = table.get("rules")
        as_tables = bool(rules) and isinstance(rules, list)
        as_tables = as_tables and all(isinstance(r, dict) for r in rules)
        for key, value in table.items():
            if key != "rules" or not as_tables:
                lines.append(f"{toml_key(key)} = {toml_value(value)}")
        for rule in rules if as_tables else []:
            lines.append("  [[tables.rules]]")
            lines += [f"  {toml_key(k)} = {toml_value(v)}" for k, v in rule.items()]
    return "\n".join(lines) + "\n"


def _builtin_kinds() -> Kinds:
    kinds: Kinds = {name: ("number", ()) for name in FUZZ_NUMBERS}
    kinds.update({name: ("enum", values) for name, values in FUZZ_ENUMS.items()})
    kinds.update({name: ("bool", ()) for name in FUZZ_BOOLS})
    return kinds


def _value(draw: st.DrawFn, kind: str, values: tuple[str, ...]) -> object:
    if kind == "number":
        return draw(fuzz_numbers)
    if kind == "bool":
        return draw(st.booleans())
    return draw(st.sampled_from(values))


@st.composite
def fuzz_condition(draw: st.DrawFn, kinds: Kinds) -> dict[str, object]:
    """A rule's ``when``: up to three facts, each tested by a bare value (eq), a bare list
    (in) or one or two operators; membership lists of 1 to 20 values (the engine decides
    up to 8, longer ones are decided beside it)."""
    when: dict[str, object] = {}
    for fact in draw(st.lists(st.sampled_from(sorted(kinds)), max_size=3, unique=True)):
        kind, values = kinds[fact]
        ops = OPERATORS if kind == "number" else ("eq", "ne", "in", "not_in")
        tests: dict[str, object] = {}
        for op in draw(st.lists(st.sampled_from(ops), min_size=1, max_size=2, unique=True)):
            if op in ("in", "not_in"):
                size = draw(st.sampled_from((1, 2, 3, 8, 9, 12, 20)))
                tests[op] = [_value(draw, kind, values) for _ in range(size)]
            else:
                tests[op] = _value(draw, kind, values)
        bare = len(tests) == 1 and next(iter(tests)) in ("eq", "in") and draw(st.booleans())
        when[fact] = next(iter(tests.values())) if bare else tests
    return when


@st.composite
def fuzz_text(draw: st.DrawFn, kinds: Kinds) -> str:
    """A note or warning: literal text around zero to two placeholders, some with a spec."""
    shown = sorted(kinds) + list(SHOWN_ONLY)
    parts = [draw(st.sampled_from(LITERALS))]
    for _ in range(draw(st.integers(0, 2))):
        name = draw(st.sampled_from(shown))
        kind = kinds[name][0] if name in kinds else "text"
        spec = draw(st.sampled_from(FORMAT_SPECS["text" if kind == "enum" else kind]))
        parts.append("{" + name + (":" + spec if spec else "") + "}")
        parts.append(draw(st.sampled_from(LITERALS)))
    text = "".join(parts)
    return text if text.strip() else "n"


def _rule(rule_id: str, when: dict[str, object], **consequences: object) -> dict[str, Any]:
    rule: dict[str, Any] = {"id": rule_id, "title": rule_id, "source": "fuzz", "why": "fuzz"}
    if when:
        rule["when"] = when
    rule.update(consequences)
    return rule


@st.composite
def fuzz_declarations(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Zero to four declared facts, named like the engine's own words or hash twins."""
    pool = (*ENGINE_WORDS, *HARMLESS_TWINS, "score", "tier", "flag")
    facts: list[dict[str, Any]] = []
    for name in draw(st.lists(st.sampled_from(pool), max_size=4, unique=True)):
        kind = draw(st.sampled_from(("number", "enum", "bool")))
        fact: dict[str, Any] = {"name": name, "type": kind, "description": "fuzz"}
        if kind == "enum":
            fact["values"] = draw(st.lists(st.sampled_from(ENUM_VALUES), min_size=1, max_size=4))
        if draw(st.booleans()):
            fact["unit"] = "u"
        facts.append(fact)
    return facts


def _set_value(draw: st.DrawFn, kind: str, values: tuple[str, ...], kinds: Kinds) -> object:
    """A literal for a declared fact, or (one time in five) a copy of a fact of its kind."""
    if draw(st.integers(0, 4)) == 0:
        same = [n for n, (k, v) in kinds.items() if k == kind and (k != "enum" or v == values)]
        same = [n for n in same if n not in OPTIONAL_NUMBERS]  # an optional one is refused
        if same:
            return {"fact": draw(st.sampled_from(sorted(same)))}
    return _value(draw, kind, values)


@st.composite
def rule_documents(draw: st.DrawFn, big: bool = True) -> Document:
    """A valid rule file to layer on ``rulefiles.MINIMAL``: declared facts; one or two
    first-hit or collect tables that set them (the second reading the first's); one to
    three tables of any hit policy, some complete, some of 40 rules (``big``), reading built-in and
    declared facts, with notes, warnings and alternatives; sometimes one layered again
    (extends, replace)."""
    facts = draw(fuzz_declarations())
    kinds = _builtin_kinds()
    declared = {f["name"]: (f["type"], tuple(f.get("values", ()))) for f in facts}
    names = list(declared)
    tables: list[dict[str, Any]] = []
    for t, group in enumerate(g for g in (names[: len(names) // 2], names[len(names) // 2 :]) if g):
        rules = []
        for i in range(draw(st.integers(1, 3))):
            chosen = group if i == 0 else draw(st.lists(st.sampled_from(group), min_size=1))
            sets = {name: _set_value(draw, *declared[name], kinds) for name in chosen}
            rules.append(_rule(f"set{t}-{i}", draw(fuzz_condition(kinds)), set=sets))
        policy = draw(st.sampled_from(("first", "collect")))
        tables.append({"id": f"set{t}", "title": "setter", "hit_policy": policy, "rules": rules})
        kinds.update({name: declared[name] for name in group})
    for t in range(draw(st.integers(1, 3))):
        rules = []
        count = draw(st.integers(1, 4))
        if big and count == 4 and draw(st.booleans()):
            count = 40  # more than one partition of 32 rules in the stratum
        for i in range(count):
            texts: dict[str, object] = {}
            where = draw(st.sampled_from(("note", "warn", "both", "list")))
            text = draw(fuzz_text(kinds))
            if where == "list":
                texts["note"] = [text, draw(fuzz_text(kinds))]
            texts.update({k: text for k in ("note", "warn") if where in (k, "both")})
            if draw(st.integers(0, 5)) == 0:
                texts["alternatives"] = [{"part": "gpu", "text": "an alternative {{gpu}}"}]
            rules.append(_rule(f"r{t}-{i}", draw(fuzz_condition(kinds)), **texts))
        policy = draw(st.sampled_from(POLICIES))
        table: dict[str, Any] = {"id": f"r{t}", "title": "reader", "hit_policy": policy}
        if draw(st.integers(0, 3)) == 0:
            table["complete"] = draw(st.booleans())
        tables.append(table | {"rules": rules})
    layer = draw(st.sampled_from(("", "", "", "extends", "replace")))
    if layer:  # the first reader's id again, layered on it
        rule = _rule("r0-layered", draw(fuzz_condition(kinds)), note="layered")
        tables.append(tables[-1] | {"id": "r0", layer: True, "rules": [rule]})
        tables[-1]["hit_policy"] = next(t for t in tables if t["id"] == "r0")["hit_policy"]
    return {"facts": facts, "tables": tables}


# -- one thing wrong: each mutation changes a valid document so the loader must refuse it --


Draw = Callable[[st.SearchStrategy[Any]], Any]  # a composite's draw, or st.data()'s


def _reader(doc: Document) -> dict[str, Any]:
    """The first rule of the last table (a reader of the generated facts)."""
    rule: dict[str, Any] = doc["tables"][-1]["rules"][0]
    return rule


def _declare(doc: Document, name: object, kind: object = "number", **more: object) -> None:
    doc["facts"].append({"name": name, "type": kind, "description": "fuzz", **more})


def _test(doc: Document, fact: str, test: object) -> None:
    _reader(doc).setdefault("when", {})[fact] = test


def _bad_fact(draw: Draw, doc: Document) -> None:
    names = ("$s", "Id", "f$x", "r1$m0", "1x", "", "a-b", "peak_qps", 7, *HASH_TWINS)
    _declare(doc, draw(st.sampled_from(names)))


def _fact_twins(draw: Draw, doc: Document) -> None:
    for name in FACT_TWINS:
        _declare(doc, name)


def _bad_fact_type(draw: Draw, doc: Document) -> None:
    kind = draw(st.sampled_from(("text", "string", "gpu-list", 7, "Number")))
    _declare(doc, "odd", kind)


def _bad_enum_values(draw: Draw, doc: Document) -> None:
    values = draw(st.sampled_from(([], ["-a"], ["a\n"], [1], "a", ["x" * 65], ["a\x00"])))
    _declare(doc, "odd", "enum", values=values)


def _unknown_key(draw: Draw, doc: Document) -> None:
    where = draw(st.sampled_from(("rule", "table")))
    (_reader(doc) if where == "rule" else doc["tables"][-1])["whne"] = 1


def _bad_operator(draw: Draw, doc: Document) -> None:
    _test(doc, "peak_qps", {draw(st.sampled_from(("le", "ge", "neq", "LT", "", "$gt"))): 1})


def _range_test_on_an_enum(draw: Draw, doc: Document) -> None:
    _test(doc, draw(st.sampled_from(("stage", "gpu_pinned"))), {"lt": "production"})


def _refused_number(draw: Draw, doc: Document) -> None:
    number = draw(st.sampled_from(REFUSED_NUMBERS))
    if draw(st.booleans()):
        _test(doc, "latency_ms", {draw(st.sampled_from(OPERATORS[:2] + OPERATORS[4:])): number})
    else:
        _test(doc, "latency_ms", {draw(st.sampled_from(("in", "not_in"))): [1, number]})


WRONG_VALUES: dict[str, tuple[object, ...]] = {
    "peak_qps": ("7", True, datetime.date(2024, 1, 1), {}, [], [[1]], {"in": []}, {"eq": [1]}),
    "stage": (7, "Basic", True, datetime.date(2024, 1, 1), [], {"in": []}, {"ne": ["x"]}),
    "gpu_pinned": ("true", 1, 0.0, [], {"eq": "x"}, {"not_in": [1]}),
}


def _wrong_value_type(draw: Draw, doc: Document) -> None:
    fact = draw(st.sampled_from(sorted(WRONG_VALUES)))
    _test(doc, fact, draw(st.sampled_from(WRONG_VALUES[fact])))


def _bad_hit_policy(draw: Draw, doc: Document) -> None:
    doc["tables"][-1]["hit_policy"] = draw(st.sampled_from(("uniqe", "FIRST", 1, "priority")))


#: Texts no rule may hold: control and invisible characters, blank.
BAD_WORDS = ("a\x00", "\u202e", "\x7f", " ", "a\u2028b")
#: Notes and warnings no rule may hold: placeholders that are not ``{fact}`` or
#: ``{fact:spec}`` with a known fact, and unbalanced braces.
BAD_TEXTS = (
    *("{peak_qps!r}", "{0}", "{}", "{peak_qps[0]}", "{peak_qps.real}", "{peak_qps:{stage}}"),
    *("a } b", "{nosuch}", "{", "{peak_qps!s:>3}", *BAD_WORDS),
)
SHOWN_BY_KIND = {"number": "peak_qps", "bool": "gpu_pinned", "text": "stage"}


def _bad_text(draw: Draw, doc: Document) -> None:
    key = draw(st.sampled_from(("note", "warn", "title", "why", "source")))
    if key not in ("note", "warn"):
        _reader(doc)[key] = draw(st.sampled_from(BAD_WORDS))
    elif draw(st.booleans()):
        kind = draw(st.sampled_from(sorted(REFUSED_SPECS)))
        spec = draw(st.sampled_from(REFUSED_SPECS[kind]))
        _reader(doc)[key] = f"x {{{SHOWN_BY_KIND[kind]}:{spec}}}"
    else:
        _reader(doc)[key] = draw(st.sampled_from(BAD_TEXTS))


def _duplicate_id(draw: Draw, doc: Document) -> None:
    if draw(st.booleans()):
        doc["tables"][-1]["rules"].append(dict(_reader(doc)))
    else:
        doc["tables"].append(dict(doc["tables"][-1]))


def _bad_id(draw: Draw, doc: Document) -> None:
    bad = draw(st.sampled_from(("G0", "a b", "", "x" * 81, "a\n", 7, "-a")))
    (_reader(doc) if draw(st.booleans()) else doc["tables"][-1])["id"] = bad


def _bad_set(draw: Draw, doc: Document) -> None:
    sets = (
        *({"peak_qps": 1}, {"meets_latency": True}, {"memory_gb": -1}, {"sized_nodes": 2}),
        *({"memory_gb": {"fact": "budget_usd"}}, {"edition": {"fact": "stage"}}),
        *({"memory_gb": {"fact": 1}}, {"cpu": 7}, {"upgrade_ladder": ["h1OO"]}),
    )
    _reader(doc)["set"] = draw(st.sampled_from(sets))


def _unknown_fact(draw: Draw, doc: Document) -> None:
    _test(doc, draw(st.sampled_from(("peak_qpss", "cpu", "upgrade_ladder", ""))), 1)


def _no_rules(draw: Draw, doc: Document) -> None:
    doc["tables"][-1]["rules"] = draw(st.sampled_from(([], "r", 1)))


def _bad_alternative(draw: Draw, doc: Document) -> None:
    bad = ([{"part": "gpus", "text": "x"}], [{"part": "gpu"}], "gpu", [{"part": "gpu", "text": ""}])
    _reader(doc)["alternatives"] = draw(st.sampled_from(bad))


def _read_but_never_set(draw: Draw, doc: Document) -> None:
    _declare(doc, "orphan")
    _test(doc, "orphan", 1)


MUTATIONS: dict[str, Callable[[Draw, Document], None]] = {
    "bad fact name": _bad_fact,
    "fact twins": _fact_twins,
    "bad fact type": _bad_fact_type,
    "bad enum values": _bad_enum_values,
    "unknown key": _unknown_key,
    "bad operator": _bad_operator,
    "range test on an enum": _range_test_on_an_enum,
    "refused number": _refused_number,
    "wrong value type": _wrong_value_type,
    "bad hit policy": _bad_hit_policy,
    "bad text": _bad_text,
    "duplicate id": _duplicate_id,
    "bad id": _bad_id,
    "bad set": _bad_set,
    "unknown fact": _unknown_fact,
    "no rules": _no_rules,
    "bad alternative": _bad_alternative,
    "read but never set": _read_but_never_set,
}
