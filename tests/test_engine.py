"""The durable-rules adapter: each of the engine's sharp edges, contained (engine/_adapter.py)."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest
from rulefiles import write_rules

import r1rules
from r1rules import EvaluationError, Workload, evaluate, load_rules
from r1rules.engine import _adapter as _engine

W = Workload(model="deepseek-r1-distill-qwen-7b", peak_qps=8, latency_ms=500, stage="development")


def test_only_the_adapter_imports_durable() -> None:
    src = Path(r1rules.__file__).parent
    importers = sorted(
        str(p.relative_to(src))
        for p in src.rglob("*.py")
        if any(
            line.lstrip().startswith(("import durable", "from durable"))
            for line in p.read_text(encoding="utf-8").splitlines()
        )
    )
    assert importers == ["engine/_adapter.py"]


def test_sessions_are_deleted_well_past_the_1024_limit() -> None:
    """The engine raises MemoryError at the 1,025th live session; 3,000 calls must not."""
    rules = r1rules.default_rules()
    for _ in range(3000):
        evaluate(W)
    assert _engine.live_sessions(rules) == 0


def test_no_host_and_no_timer_threads() -> None:
    before = threading.active_count()
    for _ in range(50):
        evaluate(W)
    assert threading.active_count() == before
    assert "durable.engine" not in sys.modules  # the Host layer is never loaded


def test_facts_fire_every_matching_rule_not_only_the_first() -> None:
    """Events fire only one rule; facts fire all: a collect table sees all its matches."""
    three = "\n".join(
        f"""
[[tables]]
id = "c{i}"
title = "collect"
hit_policy = "collect"
  [[tables.rules]]
  id = "n{i}"
  title = "note {i}"
  source = "test"
  why = "test"
  when = {{ peak_qps = {{ gt = 0 }} }}
  note = "n{i}"
"""
        for i in range(3)
    )
    rules = load_rules(write_rules(Path(_tmp()), three))
    rec = evaluate(W, rules)
    assert [m.text for m in rec.notes] == ["n0", "n1", "n2"]


def test_no_match_is_an_ordinary_outcome(tmp_path: Path) -> None:
    never = """
[[tables]]
id = "never"
title = "never"
hit_policy = "collect"
  [[tables.rules]]
  id = "never-1"
  title = "never"
  source = "test"
  why = "test"
  when = { peak_qps = { gt = 1e12 } }
  note = "never"
"""
    # a dead rule on purpose: the static checker would refuse it, the engine must not care
    rules = load_rules(write_rules(tmp_path, never), check=False)
    assert evaluate(W, rules).notes == ()
    assert _engine.live_sessions(rules) == 0


def test_numbers_in_exponent_form_reach_the_engine(tmp_path: Path) -> None:
    """durable-rules refuses 1e-05 and 1e+16 (no fraction): the adapter rewrites them."""
    assert (
        _engine.encode_fact({"a": 1e-05, "b": 1e16, "c": 2.5, "d": True})
        == '{"a":1.0e-05,"b":1.0e+16,"c":2.5,"d":true}'
    )
    tiny = """
[[tables]]
id = "tiny"
title = "tiny thresholds"
hit_policy = "collect"
  [[tables.rules]]
  id = "tiny-1"
  title = "tiny"
  source = "test"
  why = "test"
  when = { peak_qps = { gt = 1e-05, lt = 1e16 } }
  note = "fired"
"""
    rules = load_rules(write_rules(tmp_path, tiny))
    w = Workload(model="deepseek-r1-distill-qwen-1.5b", peak_qps=2e-05, latency_ms=1e6)
    assert [m.text for m in evaluate(w, rules).notes] == ["fired"]


def test_many_range_tests_under_one_table_do_not_overflow_a_node(tmp_path: Path) -> None:
    """More than 64 range tests on distinct facts under one node fail with error 303 at
    assert time; partition keys keep every node under the limit."""
    count = 100
    declarations = "\n".join(
        f"""
[[facts]]
name = "f{i}"
type = "number"
description = "test fact {i}"
"""
        for i in range(count)
    )
    setter = "{ " + ", ".join(f"f{i} = {i}" for i in range(count)) + " }"
    text = (
        declarations
        + f"""
[[tables]]
id = "set-all"
title = "set"
hit_policy = "unique"
  [[tables.rules]]
  id = "set-all-1"
  title = "set all"
  source = "test"
  why = "test"
  set = {setter}
"""
        + "\n".join(
            f"""
[[tables]]
id = "read-{i}"
title = "read"
hit_policy = "collect"
  [[tables.rules]]
  id = "read-{i}"
  title = "read {i}"
  source = "test"
  why = "test"
  when = {{ f{i} = {{ gte = {i} }} }}
  note = "r{i}"
"""
            for i in range(count)
        )
    )
    rules = load_rules(write_rules(tmp_path, text))
    assert len(evaluate(W, rules).notes) == count


def test_priorities_beyond_16_bits_are_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(_engine, "MAX_PRIORITY", 0)
    with pytest.raises(
        r1rules.RuleError, match="rule set too large: rule number 1; the engine allows 0"
    ):
        load_rules(write_rules(tmp_path))


def test_each_rule_set_is_compiled_once_per_version(tmp_path: Path) -> None:
    a = load_rules(write_rules(tmp_path / "a"))
    b = load_rules(write_rules(tmp_path / "b"))
    assert _engine.compiled(a) is _engine.compiled(b)


def test_threads_get_exactly_the_serial_results() -> None:
    workloads = [
        Workload(params_b=p, peak_qps=q, latency_ms=lat)
        for p in (3, 13, 70)
        for q in (1, 50, 200)
        for lat in (80, 300, 900)
    ]
    serial = [evaluate(w).to_dict() for w in workloads]
    results: dict[int, list[dict[str, object]]] = {}

    def work(n: int) -> None:
        results[n] = [evaluate(w).to_dict() for w in workloads * 4]

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for n in range(8):
        assert results[n] == serial * 4
    assert _engine.live_sessions(r1rules.default_rules()) == 0


_counter = iter(range(10**6))


def _tmp() -> str:
    import tempfile

    return tempfile.mkdtemp(prefix=f"r1rules-{next(_counter)}-")


def test_a_failed_evaluation_still_deletes_its_session(tmp_path: Path) -> None:
    """An evaluation that raises (here: two rules of a unique table match) leaves no state."""
    twice = """
[[tables]]
id = "twice"
title = "overlapping unique table"
hit_policy = "unique"
  [[tables.rules]]
  id = "twice-a"
  title = "a"
  source = "test"
  why = "test"
  when = { peak_qps = { gt = 0 } }
  note = "a"
  [[tables.rules]]
  id = "twice-b"
  title = "b"
  source = "test"
  why = "test"
  when = { peak_qps = { gt = 1 } }
  note = "b"
"""
    rules = load_rules(write_rules(tmp_path, twice), check=False)  # the checker would refuse it
    for _ in range(1100):
        with pytest.raises(
            EvaluationError,
            match="table 'twice' is unique but rules 'twice-a', "
            "'twice-b' all matched this workload",
        ):
            evaluate(W, rules)
    assert _engine.live_sessions(rules) == 0


def test_engine_limits_are_reported_at_load_in_our_words(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(_engine, "MAX_RULES", 1)
    with pytest.raises(
        r1rules.RuleError, match="rule set too large: 2 rules; the engine holds at most 1"
    ):
        load_rules(write_rules(tmp_path))
    assert (
        _engine._explain(RuntimeError("Could not assert fact, error code: 303"))
        == "too many tests under one node"
    )


def test_a_stratum_with_more_rules_than_the_engine_walks_is_refused_at_load(tmp_path: Path) -> None:
    """Children of one node are walked on a stack of 64 (error 303): 60 partitions of 32."""
    many = "\n".join(
        f"""
[[tables]]
id = "n{i}"
title = "n"
hit_policy = "collect"
  [[tables.rules]]
  id = "n{i}"
  title = "n"
  source = "test"
  why = "test"
  when = {{ peak_qps = {{ gt = {i} }} }}
  note = "n"
"""
        for i in range(1925)
    )
    with pytest.raises(
        r1rules.RuleError,
        match="rule set too large: stratum 1 has 1926 rules; "
        "the engine evaluates at most 1920 in one stratum",
    ):
        load_rules(write_rules(tmp_path, many), check=False)
