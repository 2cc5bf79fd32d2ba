"""Edges of durable-rules that rule files could reach, each closed (engine/_compile.py):
property names the engine reads itself, whole numbers it compares wrongly, and the
equality fan-out that hangs its ruleset creation."""

from __future__ import annotations

import math
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from rulefiles import write_rules
from strategies import HARMLESS_TWINS, HASH_TWINS

import r1rules
from r1rules import EvaluationError, RuleError, Workload, evaluate, load_rules
from r1rules.check import check_paths
from r1rules.engine import _compile, compiled

W = Workload(model="deepseek-r1-distill-qwen-7b", peak_qps=8, latency_ms=500, stage="development")
PINNED = Workload(model="deepseek-r1-distill-qwen-7b", peak_qps=8, latency_ms=500, gpu="h100-sxm")
TESTS = Path(__file__).parent


def table(table_id: str, body: str, hit_policy: str = "collect") -> str:
    return f"""
[[tables]]
id = "{table_id}"
title = "t"
hit_policy = "{hit_policy}"
  [[tables.rules]]
  id = "{table_id}-1"
  title = "t"
  source = "test"
  why = "test"
  {body}
"""


def declare(name: str, kind: str = "number") -> str:
    return f'[[facts]]\nname = "{name}"\ntype = "{kind}"\ndescription = "test fact"\n'


def notes(rules: r1rules.RuleSet, workload: Workload = W) -> list[str]:
    return [m.text for m in evaluate(workload, rules).notes]


# -- property names the engine reads itself ---------------------------------------------


def test_a_fact_named_id_matches_after_another_table_set_it(tmp_path: Path) -> None:
    """The engine takes ``id`` as a fact's identity: a second fact with id 7 in the same
    session was "already observed" and the rule testing ``id = 7`` never fired."""
    text = (
        declare("id")
        + table("a", "set = { id = 7 }", "unique")
        + table("b", 'when = { id = 7 }\n  note = "seen"', "unique")
    )
    assert notes(load_rules(write_rules(tmp_path, text))) == ["seen"]


def test_a_fact_named_sid_fires_a_unique_table_s_rule_once(tmp_path: Path) -> None:
    """The engine takes ``sid`` as the session: a fact named sid made each matching rule
    fire twice, so a unique table failed with its one rule matching "twice"."""
    text = (
        declare("sid")
        + table("a", "set = { sid = 7 }", "unique")
        + table("b", 'when = { sid = 7 }\n  note = "seen"', "unique")
    )
    assert notes(load_rules(write_rules(tmp_path, text))) == ["seen"]


# Names the engine's source gives a meaning (state.h, rete.c): ``id`` and ``sid`` in a
# fact; ruleset keywords that could be confused with a property if unprefixed.
ENGINE_WORDS = ("id", "sid", "all", "any", "pri", "count", "cap", "dist", "name", "m", "l", "r")


def test_any_fact_name_reaches_the_engine_unharmed(tmp_path: Path) -> None:
    text = "".join(declare(n) for n in ENGINE_WORDS)
    text += table("set", "set = { " + ", ".join(f"{n} = 7" for n in ENGINE_WORDS) + " }", "unique")
    text += "".join(
        table(f"read-{n}", f'when = {{ {n} = {{ gte = 7, lt = 8 }} }}\n  note = "{n}"')
        for n in ENGINE_WORDS
    )
    assert notes(load_rules(write_rules(tmp_path, text))) == list(ENGINE_WORDS)
    assert '"f$id"' in compiled(load_rules(write_rules(tmp_path, text))).definition_json


def test_facts_are_sent_under_a_prefix_so_none_is_the_engine_s_own() -> None:
    sent = _compile.encode_fact({"id": 7, "sid": 1, "stage": "x"}, '"sid":"42"')
    assert sent == '{"f$id":7,"f$sid":1,"f$stage":"x","sid":"42"}'


def test_the_engine_hashes_names_as_its_c_code_does() -> None:
    # state.h: HASH_ID 926444256, HASH_SID 3593476751; rete.c: HASH_PRI 1450887882
    assert [_compile.fnv1a32(n) for n in ("id", "sid", "pri")] == [
        926444256,
        3593476751,
        1450887882,
    ]


# FNV-1a("f$xejdim") == FNV-1a("f$xhgnlgg"): the engine looks properties up by hash alone,
# so a rule testing one of them matches a fact that has only the other (measured).
COLLIDING = ("xejdim", "xhgnlgg")


def test_fact_names_the_engine_cannot_tell_apart_are_refused_at_load(tmp_path: Path) -> None:
    a, b = COLLIDING
    assert _compile.fnv1a32("f$" + a) == _compile.fnv1a32("f$" + b)
    folder = write_rules(tmp_path, declare(a) + declare(b) + table("t", f"set = {{ {a} = 1 }}"))
    message = f"fact '{b}': the rule engine cannot tell its name from '{a}' (same hash)"
    with pytest.raises(RuleError, match=re.escape(f"{folder / '01-extra.toml'}: {message}")):
        load_rules(folder, check=False)
    assert any(message in str(f) and f.severity == "error" for f in check_paths([folder], False))


def test_the_hash_twins_are_twins() -> None:
    """Fact names found by search (tests/strategies.py): FNV-1a of ``f$<name>`` equals the
    hash of an engine name."""
    for name, twin in {**HASH_TWINS, **HARMLESS_TWINS}.items():
        assert _compile.fnv1a32("f$" + name) == _compile.fnv1a32(twin), name


def reads_its_fact(name: str, test: str) -> str:
    """A declared number fact set to 7 and read by one rule with ``test``."""
    return (
        declare(name)
        + table("s", f"set = {{ {name} = 7 }}", "unique")
        + table("r", f'when = {{ {name} = {test} }}\n  note = "seen"')
    )


@pytest.mark.parametrize(("name", "twin"), sorted(HASH_TWINS.items()))
def test_a_fact_whose_name_the_engine_reads_as_an_operator_is_refused_at_load(
    tmp_path: Path, name: str, twin: str
) -> None:
    """The engine reads the first name of a test by hash (rete.c): ``{"f$ivghsy": 7}`` was
    read as ``$lt``, and every evaluation failed with "the rule engine refused the
    compiled rule set (engine error 102); this is a bug in r1rules" (found by the grammar
    fuzz). Such a name, like one hashing as ``id`` or ``sid``, is refused at load."""
    folder = write_rules(tmp_path, reads_its_fact(name, "7"))
    what = "the operator " if twin.startswith("$") else ""
    message = f"fact {name!r}: the rule engine cannot tell its name from {what}{twin!r}"
    with pytest.raises(RuleError, match=re.escape(message)):
        load_rules(folder, check=False)
    assert any(message in str(f) and f.severity == "error" for f in check_paths([folder], False))


@pytest.mark.parametrize("name", sorted(HARMLESS_TWINS))
def test_a_fact_whose_name_hashes_as_an_engine_name_no_test_reads_works(
    tmp_path: Path, name: str
) -> None:
    tests = ["7", "[6, 7]", "{ gte = 7, ne = 8 }", f"{list(range(7, 17))}", "{ lt = 7 }"]
    text = declare(name) + table("s", f"set = {{ {name} = 7 }}", "unique")
    text += "".join(
        table(f"r{i}", f'when = {{ {name} = {test} }}\n  note = "{i}"')
        for i, test in enumerate(tests)
    )
    rules = load_rules(write_rules(tmp_path, text), check=False)
    assert notes(rules) == ["0", "1", "2", "3"]


@pytest.mark.parametrize(
    ("values", "distinct"),
    [
        ('["basic", "basic"]', 1),
        ('["basic", "enterprise", "basic"]', 2),
        ("[8, 8.0]", 1),
        ("[8, 1, 8, 8.0]", 2),
        ("[true, true]", 1),
    ],
)
def test_a_value_repeated_in_a_short_in_list_fires_the_rule_once(
    tmp_path: Path, values: str, distinct: int
) -> None:
    """The engine fires a rule once for each ``$or`` alternative that matches: with a value
    listed twice the rule fired twice, so a collect table gave its note twice and a unique
    table failed with "rules 'r-1', 'r-1' all matched" (found by the grammar fuzz)."""
    fact = "edition" if "basic" in values else "gpu_pinned" if "true" in values else "peak_qps"
    policies = ("unique", "collect", "first", "any")
    text = "".join(
        table(policy, f'when = {{ {fact} = {values} }}\n  note = "{policy}"', policy)
        for policy in policies
    )
    rules = load_rules(write_rules(tmp_path, text), check=False)
    assert notes(rules, PINNED if fact == "gpu_pinned" else W) == list(policies)
    assert compiled(rules).definition_json.count(f'"f${fact}"') == distinct * len(policies)


# -- whole numbers ---------------------------------------------------------------------

RANGE = "-9007199254740992 to 9007199254740992 \\(2\\*\\*53\\)"


HUGE = 10**400
HUGE_SHOWN = "a whole number of 1329 bits"
JUST_OVER = "9007199254740993"  # 2**53 + 1


@pytest.mark.parametrize(
    ("body", "key", "shown"),
    [
        (f"when = {{ peak_qps = {{ gt = {2**64} }} }}", "when.peak_qps.gt", str(2**64)),
        (f"when = {{ peak_qps = {{ lt = {HUGE} }} }}", "when.peak_qps.lt", HUGE_SHOWN),
        (f"when = {{ peak_qps = {{ gte = -{HUGE} }} }}", "when.peak_qps.gte", HUGE_SHOWN),
        (f"when = {{ peak_qps = [1, {JUST_OVER}] }}", "when.peak_qps.in", JUST_OVER),
        (f"when = {{ peak_qps = {JUST_OVER} }}", "when.peak_qps.eq", JUST_OVER),
        (f"set = {{ big = {JUST_OVER} }}", "set.big", JUST_OVER),
    ],
)
def test_whole_numbers_the_engine_compares_wrongly_are_refused_at_load(
    tmp_path: Path, body: str, key: str, shown: str
) -> None:
    folder = write_rules(tmp_path, declare("big") + table("t", body + '\n  note = "n"'))
    file = folder / "01-extra.toml"
    match = f"{file}: rule 't-1': {key}: {shown} is outside the range of whole numbers the rule engine compares exactly: {RANGE}"  # noqa: E501
    with pytest.raises(RuleError, match=match):
        load_rules(folder, check=False)
    found = check_paths([folder], False)
    assert any(f.severity == "error" and "2**53" in str(f) for f in found), found


def fires(rules: r1rules.RuleSet, big: int) -> bool:
    """Whether rule t-1 fires for a fact ``big`` (asserted alone, in a fresh session)."""
    with compiled(rules).session() as session:
        return "t-1" in session.run_stratum(rules.table("t").stratum, {"big": big})


SET_BIG = declare("big") + table("s", "set = { big = 1 }", "unique")


def test_whole_numbers_at_the_exact_limit_load_and_compare_right(tmp_path: Path) -> None:
    text = SET_BIG + table(
        "t",
        'when = { big = { gte = -9007199254740992, lte = 9007199254740992 } }\n  note = "in"',
    )
    rules = load_rules(write_rules(tmp_path, text), check=False)
    assert fires(rules, 2**53)
    assert fires(rules, -(2**53))
    assert not fires(rules, 2**53 + 2)  # sent as the float it equals


def test_a_fact_beyond_64_bits_compares_as_the_float_it_equals(tmp_path: Path) -> None:
    """int64 saturates: 2**64 was read as 2**63-1, below 1e19. Sent as 1.8446744073709552e19."""
    text = SET_BIG + table("t", 'when = { big = { gt = 1e19 } }\n  note = "big"')
    rules = load_rules(write_rules(tmp_path, text), check=False)
    assert fires(rules, 2**64)
    assert not fires(rules, -(2**64))
    assert not fires(rules, 9 * 10**18)  # int64 against a double, both exact
    with pytest.raises(EvaluationError, match="fact 'big' is 9007199254740993: the rule"):
        fires(rules, 2**53 + 1)  # no float equals it
    with pytest.raises(EvaluationError, match="fact 'big' is a whole number of 1329 bits"):
        fires(rules, 10**400)


# -- membership lists ------------------------------------------------------------------


def test_long_membership_lists_are_decided_outside_the_engine(tmp_path: Path) -> None:
    short = list(range(1, _compile.MAX_ENGINE_MEMBERS + 1))
    long = list(range(1, _compile.MAX_ENGINE_MEMBERS + 2))
    text = table("s", f'when = {{ peak_qps = {{ in = {short} }} }}\n  note = "short"')
    text += table("l", f'when = {{ peak_qps = {{ in = {long} }} }}\n  note = "long"')
    text += table("n", f'when = {{ peak_qps = {{ not_in = {long} }} }}\n  note = "not"')
    rules = load_rules(write_rules(tmp_path, text), check=False)
    engine = compiled(rules)
    assert '"r1$m0":true' in engine.definition_json
    assert '"r1$m0":false' in engine.definition_json  # the same list, once
    assert '{"$or":[{"f$peak_qps":1}' in engine.definition_json  # the short one stays
    assert notes(rules) == ["short", "long"]
    assert notes(rules, Workload(params_b=7, peak_qps=9, latency_ms=500)) == ["long"]
    assert notes(rules, Workload(params_b=7, peak_qps=9.5, latency_ms=500)) == ["not"]


def test_a_long_not_in_on_an_absent_fact_is_false(tmp_path: Path) -> None:
    values = list(range(1, 20))
    text = table("b", f'when = {{ budget_usd = {{ not_in = {values} }} }}\n  note = "b"')
    rules = load_rules(write_rules(tmp_path, text), check=False)
    assert notes(rules) == []  # no budget: a test on an absent fact is false
    budget = Workload(params_b=7, peak_qps=8, latency_ms=500, budget_usd=5)
    assert notes(rules, budget) == []
    assert notes(rules, Workload(params_b=7, peak_qps=8, latency_ms=500, budget_usd=50)) == ["b"]


# Each case once hung durable-rules' ruleset creation (an equality node of 512+ children)
# or took long; run in a child process so that a regression fails instead of hanging.
_LARGE_LISTS = r"""
import sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from rulefiles import write_rules
from r1rules import Workload, evaluate, load_rules

def table(tid, when, note):
    return f'''
[[tables]]
id = "{tid}"
title = "t"
hit_policy = "collect"
  [[tables.rules]]
  id = "{tid}-1"
  title = "t"
  source = "test"
  why = "test"
  when = {{ {when} }}
  note = "{note}"
'''

def run(name, text, workload, check=False):
    start = time.perf_counter()
    rules = load_rules(write_rules(Path(sys.argv[2]) / name, text), check=check)
    got = [m.text for m in evaluate(workload, rules).notes]
    print(name, got, round(time.perf_counter() - start, 2), flush=True)

w8 = Workload(params_b=7, peak_qps=8, latency_ms=500)
w9 = Workload(params_b=7, peak_qps=100000, latency_ms=500)
values = ", ".join(str(i) for i in range(1, 601))
run("in-600", table("a", f"peak_qps = {{ in = [{values}] }}", "in"), w8, check=True)
excluded = ", ".join(str(i) for i in range(1, 10001))
run("not-in-10000", table("a", f"peak_qps = {{ not_in = [{excluded}] }}", "out"), w9)
# 800 distinct values in short lists (8 each): 256 under each partition of 32 rules
lists = [", ".join(str(k * 100 + i) for i in range(8)) for k in range(100)]
many = "".join(table(f"m{k}", f"peak_qps = {{ in = [{v}] }}", f"m{k}") for k, v in enumerate(lists))
run("many-short", many, Workload(params_b=7, peak_qps=805, latency_ms=500))
"""


def test_large_membership_lists_load_and_evaluate_in_bounded_time(tmp_path: Path) -> None:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_LARGE_LISTS), str(TESTS), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = {line.split(" ", 1)[0]: line for line in done.stdout.splitlines()}
    assert "['in']" in lines["in-600"]
    assert "['out']" in lines["not-in-10000"]
    assert "['m8']" in lines["many-short"]
    for line in lines.values():
        assert float(line.rsplit(" ", 1)[1]) < 10, line  # each loads and evaluates in seconds
    assert time.perf_counter() - start < 120


def test_a_non_finite_fact_is_named_not_every_fact_dumped() -> None:
    with pytest.raises(EvaluationError) as caught:
        _compile.encode_fact({"a": 1.0, "b": math.inf, "c": "text", "d": -math.nan})
    assert str(caught.value) == "a non-finite number cannot reach the engine: b = inf, d = nan"
