"""Planner-grade reliability: many calls, many threads, hostile inputs, fuzzed rule files.

Sized for CI (the whole file runs in well under two minutes on two cores). The million-call
soak is ``benchmarks/bench_evaluate.py --soak 1000000``.
"""

from __future__ import annotations

import copy
import gc
import json
import math
import os
import random
import re
import subprocess
import sys
import tempfile
import textwrap
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import tomli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import GPU_IDS as GPUS
from strategies import MODEL_IDS as MODELS
from strategies import (
    Reach,
    extreme_numbers,
    hostile,
    hostile_workload_fields,
    invalid_estimate_arguments,
    invalid_workload_fields,
    valid_estimate_arguments,
    valid_workload_fields,
)

import r1rules
from r1rules import (
    EvaluationError,
    R1RulesError,
    Recommendation,
    RuleError,
    RuleSet,
    Workload,
    evaluate,
)
from r1rules.catalog._catalog import shipped_rules_dir
from r1rules.engine import _adapter as _engine
from r1rules.recommend._many import evaluate_many


def _valid(rec: Recommendation, workload: Workload) -> None:
    """What every recommendation promises, whatever the workload."""
    # evaluate() keeps the workload, its ids resolved to canonical ones (the same object
    # when they already were)
    canonical = workload.resolve()[0]
    assert rec.workload is workload if canonical is workload else rec.workload == canonical
    assert rec.gpu.count >= 1 and rec.nodes >= 1 and rec.edition
    json.dumps(rec.to_dict())  # JSON-ready
    assert str(rec)


# -- many calls, many threads --------------------------------------------------------------


def varied(count: int, seed: int) -> list[Workload]:
    rng = random.Random(seed)
    out: list[Workload] = []
    while len(out) < count:
        try:
            workload = Workload(
                model=rng.choice(MODELS),
                gpu=rng.choice((None, None, *GPUS)),
                precision=rng.choice((None, "bf16", "fp8", "int4")),
                peak_qps=rng.choice((0.5, 2, 8, 10, 25, 100, 150, 400)),
                latency_ms=rng.choice((80, 150, 250, 500, 1000, 3000)),
                prompt_tokens=rng.choice((256, 1024, 4096)),
                output_tokens=rng.choice((256, 1024, 4096)),
                stage=rng.choice(("development", "production")),
            )
            evaluate(workload)
        except R1RulesError:
            continue
        out.append(workload)
    return out


def rss_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="needs Linux /proc")
def test_fifty_thousand_evaluations_leave_no_session_and_flat_memory() -> None:
    """50,000 single-answer evaluations and 4,000 with every option (each about 55 engine
    sessions) in one process: no engine session and no thread is left behind, and resident
    memory over the second half of each grows by less than 2 MB (a leak of 80 bytes per
    single answer, or of 1 KB per evaluation with options, would show)."""
    rules = r1rules.default_rules()
    workloads = varied(250, seed=11)
    threads = threading.active_count()
    for half, options in ((25_000, False), (2_000, True)):
        marks = []
        for calls in (half, half):
            for i in range(calls):
                evaluate(workloads[i % len(workloads)], options=options)
            gc.collect()
            marks.append(rss_bytes())
        growth = marks[1] - marks[0]
        assert growth < 2 * 2**20, f"RSS grew {growth / 2**20:.1f} MB over {half:,} calls"
    assert _engine.live_sessions(rules) == 0
    assert threading.active_count() == threads


@pytest.mark.slow
def test_eight_threads_give_exactly_the_serial_results() -> None:
    """8 threads x 1,200 evaluations each, started together, in different orders: every
    result equals the serial one (to_dict), and no session is left. The engine's memo of
    its answers starts empty and one thread empties it every 100 calls, so that threads
    learn and read it at once."""
    workloads = varied(150, seed=12)
    serial = {w: evaluate(w).to_dict() for w in workloads}
    engine = _engine.compiled(r1rules.default_rules())
    engine.forget()
    failures: list[str] = []
    start = threading.Barrier(8)

    def worker(seed: int) -> None:
        order = workloads * 8
        random.Random(seed).shuffle(order)
        start.wait()
        for i, workload in enumerate(order):
            if seed == 0 and i % 100 == 0:
                engine.forget()
            got = evaluate(workload).to_dict()
            if got != serial[workload]:
                failures.append(f"thread {seed}: {workload}")

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert _engine.live_sessions(r1rules.default_rules()) == 0


# -- hostile workloads ---------------------------------------------------------------------


def test_hostile_workload_fields_end_in_an_r1rules_error_or_a_valid_recommendation() -> None:
    """Valid workloads at the edges of every field's range are evaluated and keep every
    promise; a workload with one thing wrong (a value the field can never take, an unknown
    field, both or neither of model and params_b) is the library's own error naming it;
    arbitrary hostile values give one or the other, never another exception. Most examples
    are valid workloads that get evaluated."""
    reach = Reach("hostile workloads evaluated")

    @settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        st.sampled_from(("valid",) * 7 + ("invalid",) * 2 + ("fuzz",)),
        valid_workload_fields(),
        invalid_workload_fields(),
        hostile_workload_fields(),
    )
    def law(
        kind: str,
        valid: dict[str, object],
        invalid: tuple[str, dict[str, object]],
        fuzz: dict[str, object],
    ) -> None:
        reach.run()
        if kind == "valid":
            workload = Workload(**valid)  # type: ignore[arg-type]
            try:
                rec = evaluate(workload)
            except EvaluationError as exc:  # a load beyond any deployment: refused, said so
                assert "no deployment is that large" in str(exc), exc
                reach.note("valid: beyond any deployment")
                return
            reach.hit("valid workload evaluated")
            _valid(rec, workload)
        elif kind == "invalid":
            fault, fields = invalid
            with pytest.raises(R1RulesError) as caught:
                evaluate(Workload(**fields))  # type: ignore[arg-type]
            assert fault in str(caught.value)
            reach.note(f"invalid: {type(caught.value).__name__}")
        else:
            try:
                workload = Workload(**fuzz)  # type: ignore[arg-type]
                rec = evaluate(workload)
            except R1RulesError as exc:
                reach.note(f"fuzz: {type(exc).__name__}")
                return
            reach.hit("fuzzed workload evaluated")
            _valid(rec, workload)

    law()
    reach.check()
    assert sum(n for label, n in reach.labels.items() if label.startswith("invalid")) > 0


@settings(max_examples=100, deadline=None)
@given(st.one_of(hostile, st.builds(dict), st.just(Workload)))
def test_anything_that_is_not_a_workload_is_a_workload_error(thing: object) -> None:
    """evaluate() and evaluate_many() refuse anything but a Workload with WorkloadError."""
    with pytest.raises(r1rules.WorkloadError):
        evaluate(thing)  # type: ignore[arg-type]
    with pytest.raises(r1rules.WorkloadError):
        evaluate_many([thing])  # type: ignore[list-item]


@settings(max_examples=100, deadline=None)
@given(hostile)
def test_a_hostile_rules_argument_ends_in_an_r1rules_error(rules: object) -> None:
    """Not a RuleSet, a path or None: R1RulesError; a string is a path (RuleError when it
    holds no valid rule files); None is the shipped rules."""
    workload = Workload(model="deepseek-r1-distill-qwen-7b", peak_qps=8, latency_ms=500)
    try:
        rec = evaluate(workload, rules)  # type: ignore[arg-type]
    except R1RulesError:
        return
    assert rules is None
    _valid(rec, workload)


def test_hostile_estimate_arguments() -> None:
    """estimate() with valid arguments (every catalog model and GPU, up to 4,096 GPUs and
    100,000 users, forced tensor parallelism) gives figures: at least one GPU, a TPOT that
    is a number (inf when the model does not fit), fits=False exactly when TPOT is inf.
    One invalid argument is a WorkloadError naming it; arbitrary hostile values give an
    R1RulesError or figures. Most examples reach the figures."""
    reach = Reach("estimate figures")

    def figures(kwargs: dict[str, object]) -> None:
        result = r1rules.estimate(**kwargs)  # type: ignore[arg-type]
        reach.hit("figures")
        assert result.gpu_count >= 1 and not math.isnan(result.tpot_ms)
        assert result.fits == math.isfinite(result.tpot_ms)
        assert result.throughput_tokens_per_s >= 0

    @settings(max_examples=200, deadline=None)
    @given(
        st.sampled_from(("valid",) * 7 + ("invalid",) * 2 + ("fuzz",)),
        valid_estimate_arguments(),
        invalid_estimate_arguments(),
        st.dictionaries(
            st.sampled_from(
                ("model", "gpu", "gpu_count", "concurrency", "precision", "tensor_parallel")
            ),
            hostile,
            max_size=3,
        ),
    )
    def law(
        kind: str,
        valid: dict[str, object],
        invalid: tuple[str, dict[str, object]],
        fuzz: dict[str, object],
    ) -> None:
        reach.run()
        if kind == "valid":
            figures(valid)
        elif kind == "invalid":
            fault, kwargs = invalid
            # (an unknown model or GPU id is worded "unknown model 'x'", not "model: ...")
            with pytest.raises(r1rules.WorkloadError, match=f"(?i){fault}"):
                r1rules.estimate(**kwargs)  # type: ignore[arg-type]
            reach.note("invalid: WorkloadError")
        else:
            kwargs = {**valid, **fuzz}
            try:
                figures(kwargs)
            except R1RulesError:
                reach.note("fuzz: R1RulesError")

    law()
    reach.check()
    assert reach.labels.get("invalid: WorkloadError", 0) > 0


# Bugs these tests found, fixed; kept as regression tests.


@pytest.mark.parametrize("field", ["peak_qps", "latency_ms", "params_b", "budget_usd"])
def test_an_int_too_large_for_a_float_is_a_workload_error(field: str) -> None:
    fields: dict[str, object] = {"peak_qps": 1, "latency_ms": 1, "params_b": 7, field: 10**400}
    # its allowed range, and the value by its length (its digits cannot even be printed)
    with pytest.raises(r1rules.WorkloadError) as caught:
        Workload(**fields)  # type: ignore[arg-type]
    assert re.fullmatch(
        rf"{field}: must be in [(\[]\S+, \S+\].*; got an integer of 401 digits", str(caught.value)
    )


def test_a_rules_path_too_long_for_the_file_system_is_a_rule_error() -> None:
    with pytest.raises(RuleError, match="cannot read: File name too long"):
        r1rules.load_rules("r" * 300)


# -- fuzzed rule files ---------------------------------------------------------------------

SHIPPED = {
    p.name: p.read_text(encoding="utf-8") for p in sorted(shipped_rules_dir().glob("*.toml"))
}
DOCS = {name: tomli.loads(text) for name, text in SHIPPED.items()}


def toml_value(value: object) -> str:
    """TOML for a value (inline tables and arrays, one line): enough to write fuzzed docs."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return (
            "nan"
            if math.isnan(value)
            else ("inf" if value > 0 else "-inf")
            if math.isinf(value)
            else repr(value)
        )
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return (
            "{"
            + ", ".join(f"{json.dumps(str(k))} = {toml_value(v)}" for k, v in value.items())
            + "}"
        )
    return json.dumps(str(value))


def toml_document(doc: dict[str, Any]) -> str:
    return "\n".join(f"{json.dumps(key)} = {toml_value(value)}" for key, value in doc.items())


def paths(value: object, prefix: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    """Every key path into a parsed TOML document."""
    found: list[tuple[object, ...]] = []
    items: Any = (
        value.items()
        if isinstance(value, dict)
        else (enumerate(value) if isinstance(value, list) else ())
    )
    for key, child in items:
        found.append((*prefix, key))
        found += paths(child, (*prefix, key))
    return found


swap_values = st.one_of(
    extreme_numbers.filter(lambda v: not isinstance(v, int) or abs(v) < 2**63),
    st.sampled_from(["", "x", "unique", "first", "edition", "gt", "fact", "none", "é"]),
    st.booleans(),
    st.just([]),
    st.just({}),
    st.just([1, "a", True]),
    st.just({"gt": "ten"}),
    st.just({"fact": "no_such_fact"}),
    st.just({"in": []}),
    st.just({"lte": math.nan}),
    st.just({"gt": 1e308}),
    st.just({"eq": 10**18}),
    st.just({"gt": 1, "lt": 0}),
    st.just([[[[1]]]]),
    st.just({"a": {"b": {"c": {}}}}),
)


def fuzzed_folder(folder: Path, file: str, text: str) -> Path:
    """The shipped rule files in ``folder``, one of them replaced by ``text``."""
    for name, original in SHIPPED.items():
        (folder / name).write_text(text if name == file else original, encoding="utf-8")
    return folder


def load_outcome(folder: Path) -> RuleSet | None:
    """load_rules must give a RuleSet or raise RuleError; None for a RuleError."""
    try:
        return r1rules.load_rules(folder)
    except RuleError:
        return None


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(sorted(SHIPPED)), st.data())
def test_truncated_rule_files(file: str, data: st.DataObject) -> None:
    """A shipped rule file cut anywhere: RuleError or a RuleSet, never another exception."""
    text = SHIPPED[file]
    cut = data.draw(st.integers(0, len(text)))
    with tempfile.TemporaryDirectory() as tmp:
        load_outcome(fuzzed_folder(Path(tmp), file, text[:cut]))


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(SHIPPED)), st.data())
def test_type_swaps_missing_keys_and_unknown_keys(file: str, data: st.DataObject) -> None:
    """Up to three edits of a shipped file (a value of another type, a key removed, an unknown
    key added): RuleError or a RuleSet, never another exception."""
    doc = json.loads(json.dumps(DOCS[file]))  # a deep copy
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(paths(doc)))
        parent: Any = doc
        for key in path[:-1]:
            parent = parent[key]
        action = data.draw(st.sampled_from(("swap", "swap", "delete", "unknown-key")))
        if action == "swap":
            parent[path[-1]] = copy.deepcopy(data.draw(swap_values))
        elif action == "delete":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[data.draw(st.sampled_from(("whn", "sets", "id ", "ÿ", "tables")))] = 1
        if not paths(doc):
            break
    with tempfile.TemporaryDirectory() as tmp:
        load_outcome(fuzzed_folder(Path(tmp), file, toml_document(doc)))


# Cases that might crash the interpreter (the engine is C) or exhaust the stack run in a
# child process, one after another; it prints one line per case. A rule set the static
# checker refuses is also loaded unchecked and evaluated, so that odd values reach the engine.
CHILD = textwrap.dedent("""
    import sys
    import r1rules
    workloads = [r1rules.Workload(model="deepseek-r1-distill-qwen-7b", peak_qps=8, latency_ms=500),
                 r1rules.Workload(params_b=33, peak_qps=28, latency_ms=200),
                 r1rules.Workload(model="deepseek-r1", peak_qps=20, latency_ms=2000, gpu="h200"),
                 r1rules.Workload(params_b=1e-3, peak_qps=1e-300, latency_ms=1e9, budget_usd=1)]

    def evaluated(rules):
        kinds = []
        for workload in workloads:
            try:
                r1rules.evaluate(workload, rules)
                kinds.append("ok")
            except r1rules.R1RulesError as exc:
                kinds.append(type(exc).__name__)
            except Exception as exc:
                kinds.append(f"BUG {type(exc).__name__}: {str(exc)[:300]!r}")
        return "loaded " + " ".join(kinds)

    for folder in sys.argv[1:]:
        print("case", folder, flush=True)
        try:
            outcome = evaluated(r1rules.load_rules(folder))
        except r1rules.RuleError:
            outcome = "RuleError"
            try:
                outcome += "; unchecked: " + evaluated(r1rules.load_rules(folder, check=False))
            except r1rules.RuleError:
                pass
        except Exception as exc:
            outcome = f"BUG {type(exc).__name__}: {str(exc)[:300]!r}"
        print("outcome", outcome, flush=True)
""")

EXTREME_THRESHOLDS = [
    1e308,
    -1e308,
    5e-324,
    -0.0,
    0.0,
    2.2250738585072014e-308,
    1e-300,
    1e16,
    1e-16,
    10**18,
    2**63,
    2**64 + 1,
    10**40,
    -(10**40),
    0,
    -1,
]


def mutations(seed: int, count: int) -> list[tuple[str, str]]:
    """Seeded fuzz cases that keep most of a file intact, so that many still load: a value
    of another type, an extreme threshold in a condition, or another operator."""
    rng = random.Random(seed)
    cases = []
    for i in range(count):
        file = rng.choice(sorted(SHIPPED))
        doc = json.loads(json.dumps(DOCS[file]))
        rules = [r for t in doc.get("tables", []) for r in t.get("rules", [])]
        rule = rng.choice(rules)
        tests = [
            (fact, test) for fact, test in rule.get("when", {}).items() if isinstance(test, dict)
        ]
        mode = i % 3
        if mode and tests:
            _, test = rng.choice(tests)
            op = rng.choice(sorted(test))
            if mode == 1:
                test[op] = rng.choice(EXTREME_THRESHOLDS)
            else:
                test[rng.choice(["eq", "ne", "in", "not_in", "lt", "lte", "gt", "gte"])] = test.pop(
                    op
                )
        else:
            key = rng.choice(sorted(rule))
            rule[key] = rng.choice(
                [
                    0,
                    -1,
                    1e308,
                    math.inf,
                    "",
                    "x",
                    True,
                    [],
                    {},
                    {"gt": "ten"},
                    {"lte": 1e300},
                    {"eq": 10**18},
                    {"gt": 1, "lt": 0},
                    {"in": ["a", 1, True]},
                    {"fact": "peak_qps"},
                    [[[1]]],
                ]
            )
        cases.append((file, toml_document(doc)))
    return cases


def run_child(folders: list[Path], timeout: float = 100) -> list[tuple[str, str]]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    done = subprocess.run(
        [sys.executable, "-c", CHILD, *map(str, folders)],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    lines = done.stdout.splitlines()
    cases = [line.split(" ", 1)[1] for line in lines if line.startswith("case ")]
    outcomes = [line.split(" ", 1)[1] for line in lines if line.startswith("outcome ")]
    assert done.returncode == 0, (
        f"the interpreter died (exit {done.returncode}) on {cases[-1] if cases else '?'}:\n"
        f"{done.stderr[-2000:]}"
    )
    return list(zip(cases, outcomes, strict=False))  # a crash cuts outcomes short


def assert_contained(results: list[tuple[str, str]], expected: int) -> None:
    assert len(results) == expected
    bad = [
        (case, outcome)
        for case, outcome in results
        if "BUG" in outcome or not outcome.startswith(("RuleError", "loaded"))
    ]
    assert bad == []


@pytest.mark.slow
def test_mutated_rule_sets_load_and_evaluate_or_fail_cleanly_in_a_child(tmp_path: Path) -> None:
    """60 seeded edits, loaded (checked, else unchecked) and evaluated in a child process:
    RuleError or R1RulesErrors or recommendations; the child never dies."""
    folders = []
    for i, (file, text) in enumerate(mutations(seed=5, count=60)):
        folder = tmp_path / f"m{i}"
        folder.mkdir()
        folders.append(fuzzed_folder(folder, file, text))
    assert_contained(run_child(folders), 60)


HUGE = 10 * 2**20
EXTREMES: dict[str, Callable[[], str | bytes]] = {
    "deep-array-5k": lambda: "a = " + "[" * 5_000 + "]" * 5_000,
    "deep-array-200k": lambda: "a = " + "[" * 200_000 + "]" * 200_000,
    "deep-inline-tables": lambda: "a = " + "{b = " * 3_000 + "1" + "}" * 3_000,
    "deep-when": lambda: SHIPPED["20-decision-tree.toml"].replace(
        "when = { latency_ms = { lte = 100 } }",
        "when = { latency_ms = " + "{ lte = " * 2_000 + "100" + " }" * 2_000 + " }",
    ),
    "binary-garbage": lambda: random.Random(3).randbytes(HUGE),
    "invalid-utf8": lambda: b'[[tables]]\nid = "\xff\xfe"\n',
    "nul-bytes": lambda: "[[tables]]\x00\nid = 'x'\n",
    "ten-mb-of-comments": lambda: (
        SHIPPED["10-edition.toml"] + ("# " + "x" * 98 + "\n") * (HUGE // 100)
    ),
    "ten-mb-seven-mib-of-comments": lambda: (
        SHIPPED["10-edition.toml"] + ("# " + "x" * 98 + "\n") * (7 * 2**20 // 100)
    ),
    "ten-mb-string": lambda: SHIPPED["10-edition.toml"].replace(
        'why = "Within all three', 'why = "' + "x" * HUGE + " Within all three"
    ),
    "many-rules": lambda: "".join(
        f'\n[[tables]]\nid = "n{i}"\ntitle = "t"\nhit_policy = "collect"\n  [[tables.rules]]\n'
        f'  id = "n{i}-r"\n  title = "t"\n  source = "test"\n  why = "test"\n'
        f'  when = {{ peak_qps = {{ gt = {i}.5 }} }}\n  note = "n{i}"\n'
        for i in range(3_000)
    ),
}


@pytest.mark.slow
def test_deep_nesting_huge_files_and_garbage_fail_cleanly_in_a_child(tmp_path: Path) -> None:
    """Nesting 200,000 deep, 10 MB files, binary garbage, 3,000 rules: RuleError or a rule set
    whose evaluations end in R1RulesErrors or recommendations; the child never dies."""
    folders = []
    for name, make in EXTREMES.items():
        folder = tmp_path / name
        folder.mkdir()
        data = make()
        if name == "deep-when":
            fuzzed_folder(folder, "20-decision-tree.toml", str(data))
        elif name.startswith("ten-mb"):
            fuzzed_folder(folder, "10-edition.toml", str(data))
        else:  # an extra file beside the shipped ones
            fuzzed_folder(folder, "", "")
            extra = folder / "99-fuzz.toml"
            extra.write_bytes(data) if isinstance(data, bytes) else extra.write_text(
                data, encoding="utf-8"
            )
        folders.append(folder)
    results = run_child(folders)
    assert_contained(results, len(EXTREMES))
    outcomes = dict((Path(case).name, outcome) for case, outcome in results)
    # above the 8 MiB cap on every input file: refused cleanly; below it: loaded
    assert outcomes["ten-mb-of-comments"] == "RuleError"
    assert outcomes["ten-mb-seven-mib-of-comments"].startswith("loaded")
    assert outcomes["binary-garbage"] == "RuleError"
