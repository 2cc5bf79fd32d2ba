"""The durable-rules adapter: each of the engine's sharp edges, contained (engine/_adapter.py)."""

from __future__ import annotations

import re
import sys
import threading
from pathlib import Path

import pytest
from rulefiles import write_rules

import r1rules
from r1rules import EvaluationError, Workload, evaluate, load_rules
from r1rules.engine import _adapter as _engine
from r1rules.engine import _compile

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
    assert importers == ["engine/_adapter.py"]  # engine/_compile.py builds only text


def test_sessions_are_deleted_well_past_the_1024_limit() -> None:
    """The engine raises MemoryError at the 1,025th live session; 3,000 calls must not."""
    rules = r1rules.default_rules()
    for _ in range(3000):
        evaluate(W, options=False)  # a few sessions a call; options add one per precision
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
        _compile.encode_fact({"a": 1e-05, "b": 1e16, "c": 2.5, "d": True})
        == '{"f$a":1.0e-05,"f$b":1.0e+16,"f$c":2.5,"f$d":true}'
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


# The engine's real limits (durable-rules' rules.h and state.h), not the adapter's constants:
# each test builds a rule set exactly at a limit, which loads and evaluates, and one just over
# it, which load_rules refuses in our words.
ENGINE_MAX_RULES = 4096  # MAX_ACTIONS: error 106
ENGINE_STRATUM_RULES = 60 * 32  # 60 partitions of 32 under one node (a stack of 64: error 303)
ENGINE_FACT_PROPERTIES = 254  # MAX_OBJECT_PROPERTIES is 255, exclusive: error 302


def collect_table(table_id: str, count: int, when: str, offset: int = 0) -> str:
    """A collect table of ``count`` rules, rule ``i`` with ``when`` formatted with i."""
    rules = "".join(
        f'  [[tables.rules]]\n  id = "{table_id}-{i}"\n  title = "t"\n  source = "test"\n'
        f'  why = "test"\n  when = {{ {when.format(i=i + offset)} }}\n  note = "{table_id}"\n'
        for i in range(count)
    )
    return f'[[tables]]\nid = "{table_id}"\ntitle = "t"\nhit_policy = "collect"\n{rules}'


LEVEL = """
[[facts]]
name = "level"
type = "number"
description = "set in stratum 2, read in stratum 3"

[[tables]]
id = "level"
title = "level"
hit_policy = "unique"
  [[tables.rules]]
  id = "level-1"
  title = "level"
  source = "test"
  why = "test"
  when = { edition = "basic" }
  set = { level = 1 }
"""


def three_strata(total: int) -> str:
    """Rules over three strata (on the minimal policy's two): ``total`` rules in all, at
    most 1,901 in a stratum. Stratum 1 reads peak_qps, 2 reads edition (set in 1), 3 reads
    level (set in 2)."""
    third = total - 2 - 1 - 1900 - 1900
    return "\n".join(
        (
            LEVEL,
            collect_table("s1", 1900, "peak_qps = {{ gt = {i} }}"),
            collect_table("s2", 1900, 'edition = "basic", peak_qps = {{ gt = {i} }}'),
            collect_table("s3", third, "level = {{ lte = {i} }}"),
        )
    )


def test_a_rule_set_at_the_engine_s_rule_limit_runs_and_one_over_it_is_refused(
    tmp_path: Path,
) -> None:
    """4,096 rules (durable-rules' MAX_ACTIONS) load, compile and fire as the reference
    says; 4,097 are refused at load. Rule numbers are the engine's 16-bit priorities: at
    the rule limit they stay far below 65,535, so that limit cannot be reached."""
    rules = load_rules(write_rules(tmp_path / "at", three_strata(ENGINE_MAX_RULES)), check=False)
    assert sum(len(t.rules) for t in rules.tables) == ENGINE_MAX_RULES
    assert max(r.index for r in rules.rules) < 2**16
    assert rules.strata >= 3
    rec = evaluate(W, rules)  # peak_qps 8: rules gt 0..7 of s1 and s2; level 1: lte 1.. of s3
    third = ENGINE_MAX_RULES - 3 - 2 * 1900
    assert [m.text for m in rec.notes] == ["s1"] * 8 + ["s2"] * 8 + ["s3"] * (third - 1)
    with pytest.raises(
        r1rules.RuleError, match="rule set too large: 4097 rules; the engine holds at most 4096"
    ):
        load_rules(write_rules(tmp_path / "over", three_strata(ENGINE_MAX_RULES + 1)), check=False)
    assert (
        _engine._explain(RuntimeError("Could not assert fact, error code: 303"))
        == "too many tests under one node"
    )


def test_a_stratum_at_the_engine_s_limit_runs_and_one_more_rule_is_refused(
    tmp_path: Path,
) -> None:
    """Children of one node are walked on a stack of 64 (error 303): 60 partitions of 32,
    1,920 rules in one stratum, evaluate; 1,921 are refused at load."""
    # the minimal policy's base rule is in stratum 1 beside these
    at = collect_table("n", ENGINE_STRATUM_RULES - 1, "peak_qps = {{ gt = {i} }}")
    rules = load_rules(write_rules(tmp_path / "at", at), check=False)
    assert len([r for t in rules.tables if t.stratum == 1 for r in t.rules]) == 1920
    assert len(evaluate(W, rules).notes) == 8  # peak_qps 8 > 0..7
    over = collect_table("n", ENGINE_STRATUM_RULES, "peak_qps = {{ gt = {i} }}")
    with pytest.raises(
        r1rules.RuleError,
        match="rule set too large: stratum 1 has 1921 rules; "
        "the engine evaluates at most 1920 in one stratum",
    ):
        load_rules(write_rules(tmp_path / "over", over), check=False)


def many_facts(count: int) -> str:
    """``count`` declared facts set in stratum 1 and each read by one rule in stratum 2."""
    declared = "".join(
        f'[[facts]]\nname = "f{i}"\ntype = "number"\ndescription = "f{i}"\n\n' for i in range(count)
    )
    setter = ", ".join(f"f{i} = {i}" for i in range(count))
    return (
        declared
        + '[[tables]]\nid = "set-all"\ntitle = "set"\nhit_policy = "unique"\n'
        + '  [[tables.rules]]\n  id = "set-all-1"\n  title = "set"\n  source = "test"\n'
        + f'  why = "test"\n  set = {{ {setter} }}\n\n'
        + "\n".join(
            collect_table(f"read-{i}", 1, f"f{i} = {{{{ gte = 0 }}}}") for i in range(count)
        )
    )


# Measured with the tests below: durable-rules refuses a fact of 254 properties (error 302),
# so the most facts one stratum of 8 partitions can test is 254 - 1 - 2 - 8 = 243.
ENGINE_FACTS_IN_8_PARTITIONS = ENGINE_FACT_PROPERTIES - 1 - 2 - 8


def test_a_stratum_testing_as_many_facts_as_the_engine_takes_runs(tmp_path: Path) -> None:
    """A stratum's fact carries the facts it tests, its stratum key, the session id and one
    key per partition of 32 rules: 243 facts tested by 243 rules (8 partitions) is 253
    properties, the most durable-rules takes, and it evaluates."""
    room = ENGINE_FACTS_IN_8_PARTITIONS
    rules = load_rules(write_rules(tmp_path, many_facts(room)), check=False)
    assert len(evaluate(W, rules).notes) == room


def facts_over_the_limit(count: int) -> str:
    return rf"rule set too large: the rules of stratum \d+ test {count} facts\b.* in one stratum"


def test_one_fact_more_than_the_engine_takes_is_refused_at_load(tmp_path: Path) -> None:
    count = ENGINE_FACTS_IN_8_PARTITIONS + 1
    folder = write_rules(tmp_path, many_facts(count))
    try:
        rules = load_rules(folder, check=False)
    except r1rules.RuleError as exc:
        assert re.search(facts_over_the_limit(count), str(exc)), exc
        return
    evaluate(W, rules)  # raises EvaluationError today: the engine refuses the fact
    pytest.fail("a stratum over the engine's fact limit loaded and evaluated")


def test_two_facts_more_than_the_engine_takes_are_refused_at_load(tmp_path: Path) -> None:
    count = ENGINE_FACTS_IN_8_PARTITIONS + 2
    with pytest.raises(r1rules.RuleError, match=facts_over_the_limit(count)):
        load_rules(write_rules(tmp_path, many_facts(count)), check=False)
