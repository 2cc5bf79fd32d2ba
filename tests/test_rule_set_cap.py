"""The rule set limit (engine/_adapter.py): durable-rules never frees a compiled rule set
(about 623 KB each), so a process compiles at most so many distinct ones; past the limit a
new rule set is an EvaluationError that names the limit and how to raise it, and the rule
sets already compiled keep working. These tests set a small limit on the real engine and
restore it."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from rulefiles import write_rules

import r1rules
from r1rules import EvaluationError, R1RulesError, RuleSet, Workload, evaluate, load_rules
from r1rules.engine import (
    DEFAULT_RULE_SET_LIMIT,
    RULE_SET_LIMIT_VARIABLE,
    _adapter,
    compiled,
    set_rule_set_limit,
)

W = Workload(model="deepseek-r1-distill-qwen-7b", peak_qps=8, latency_ms=500, stage="development")
TESTS = Path(__file__).parent


def policy(folder: Path, n: int) -> str:
    """A rule file of its own (a distinct rule set on the minimal policy): one note."""
    return (
        f'[[tables]]\nid = "p"\ntitle = "policy"\nhit_policy = "collect"\n'
        f'  [[tables.rules]]\n  id = "p-1"\n  title = "t"\n  source = "test"\n'
        f'  why = "test"\n  note = "policy {n} of {folder.name}"\n'
    )


def policies(tmp_path: Path, count: int) -> list[RuleSet]:
    """``count`` distinct rule sets, loaded but not compiled yet."""
    return [
        load_rules(write_rules(tmp_path / f"p{n}", policy(tmp_path, n)), check=False)
        for n in range(count)
    ]


def compiled_count() -> int:
    return len(_adapter._compiled)


@pytest.fixture
def compiled_now() -> Iterator[int]:
    """How many rule sets this process has compiled (the shipped one among them); the
    limit is restored after the test."""
    evaluate(W)
    previous = set_rule_set_limit(DEFAULT_RULE_SET_LIMIT)
    set_rule_set_limit(previous)
    yield compiled_count()
    set_rule_set_limit(previous)


def over_the_limit(count: int, limit: int) -> str:
    return (
        f"this process has already compiled {count} distinct rule sets, its limit of {limit}: "
        "the rule engine never frees a compiled rule set"
    )


def test_a_new_rule_set_past_the_limit_is_refused_and_compiled_ones_keep_working(
    tmp_path: Path, compiled_now: int
) -> None:
    limit = compiled_now + 2
    set_rule_set_limit(limit)
    a, b, c = policies(tmp_path, 3)
    assert [m.text for m in evaluate(W, a).notes] == [f"policy 0 of {tmp_path.name}"]
    evaluate(W, b)
    with pytest.raises(EvaluationError) as refused:
        evaluate(W, c)
    message = str(refused.value)
    assert message.startswith(over_the_limit(limit, limit)), message
    assert "r1rules.set_rule_set_limit(n)" in message
    assert f"environment variable {RULE_SET_LIMIT_VARIABLE}" in message
    assert "worker process of its own or recycle workers" in message
    # Re-evaluating never counts again: the same RuleSets, the shipped rules, and a RuleSet
    # loaded anew from the same files (another object, the same version).
    again = load_rules(tmp_path / "p0", check=False)
    assert again is not a and again.version == a.version
    for _ in range(20):
        evaluate(W, a)
        evaluate(W, b)
        evaluate(W)
        evaluate(W, again)
    assert compiled_count() == limit
    with pytest.raises(EvaluationError, match=over_the_limit(limit, limit)):
        compiled(c)  # still refused, and still not compiled
    assert set_rule_set_limit(limit + 1) == limit
    evaluate(W, c)
    assert compiled_count() == limit + 1


def test_a_limit_below_the_count_only_stops_new_rule_sets(
    tmp_path: Path, compiled_now: int
) -> None:
    (new,) = policies(tmp_path, 1)
    set_rule_set_limit(1)
    assert evaluate(W).edition == "basic"  # compiled before: still evaluates
    with pytest.raises(EvaluationError, match=over_the_limit(compiled_now, 1)):
        evaluate(W, new)


def test_concurrent_compilations_never_pass_the_limit(tmp_path: Path, compiled_now: int) -> None:
    """Twelve threads compile twelve new rule sets at once under a limit that leaves room
    for three: exactly three compile; then eight threads compiling one new rule set at
    once compile it once."""
    set_rule_set_limit(compiled_now + 3)
    rule_sets = policies(tmp_path / "many", 12)
    start = threading.Barrier(len(rule_sets))
    outcomes: list[str] = []

    def compile_one(rules: RuleSet) -> None:
        start.wait()
        try:
            compiled(rules)
        except EvaluationError:
            outcomes.append("refused")
        else:
            outcomes.append("compiled")

    threads = [threading.Thread(target=compile_one, args=(r,)) for r in rule_sets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["compiled"] * 3 + ["refused"] * 9
    assert compiled_count() == compiled_now + 3

    set_rule_set_limit(compiled_now + 4)
    (one,) = policies(tmp_path / "one", 1)
    together = threading.Barrier(8)
    engines: list[object] = []

    def compile_same() -> None:
        together.wait()
        engines.append(compiled(one))

    threads = [threading.Thread(target=compile_same) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(engines) == 8 and all(e is engines[0] for e in engines)
    assert compiled_count() == compiled_now + 4


@pytest.mark.parametrize("bad", [0, -1, True, False, 1.5, "3", None, [3]])
def test_the_limit_is_a_whole_number_of_at_least_one(bad: object, compiled_now: int) -> None:
    before = set_rule_set_limit(7)
    assert before >= 1
    with pytest.raises(R1RulesError, match="set_rule_set_limit: expected a whole number of at"):
        set_rule_set_limit(bad)  # type: ignore[arg-type]
    assert set_rule_set_limit(before) == 7


@pytest.mark.parametrize(
    ("value", "limit", "problem"),
    [
        ("", DEFAULT_RULE_SET_LIMIT, ""),
        ("  ", DEFAULT_RULE_SET_LIMIT, ""),
        ("1", 1, ""),
        (" 1000 ", 1000, ""),
        ("0", DEFAULT_RULE_SET_LIMIT, "is '0', not a whole number of at least 1"),
        ("-5", DEFAULT_RULE_SET_LIMIT, "is '-5', not a whole number"),
        ("2.5", DEFAULT_RULE_SET_LIMIT, "is '2.5', not a whole number"),
        ("lots", DEFAULT_RULE_SET_LIMIT, "is 'lots', not a whole number"),
        ("9" * 40, DEFAULT_RULE_SET_LIMIT, "not a whole number"),
    ],
)
def test_the_environment_variable_is_read_as_a_whole_number(
    value: str, limit: int, problem: str
) -> None:
    found = _adapter._limit_from({RULE_SET_LIMIT_VARIABLE: value})
    assert found[0] == limit
    assert problem in found[1] and bool(found[1]) == bool(problem)
    assert _adapter._limit_from({}) == (DEFAULT_RULE_SET_LIMIT, "")


# Run in a child interpreter: the variable is read once, when r1rules is imported.
_CHILD = r"""
import sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from rulefiles import write_rules
import r1rules
from r1rules import EvaluationError, Workload, evaluate, load_rules

W = Workload(model="deepseek-r1-distill-qwen-7b", peak_qps=8, latency_ms=500)
extra = (
    '[[tables]]\nid = "x"\ntitle = "t"\nhit_policy = "collect"\n  [[tables.rules]]\n'
    '  id = "x-1"\n  title = "t"\n  source = "s"\n  why = "w"\n  note = "mine"\n'
)
mine = load_rules(write_rules(Path(sys.argv[2]), extra), check=False)
for name, rules in (("shipped", None), ("mine", mine)):
    try:
        evaluate(W, rules)
        print(name, "evaluated")
    except EvaluationError as exc:
        print(name, "refused:", exc)
r1rules.engine.set_rule_set_limit(2)
print("after set_rule_set_limit(2):", [m.text for m in evaluate(W, mine).notes])
"""


@pytest.mark.parametrize(
    ("value", "shipped", "mine"),
    [
        ("1", "evaluated", "refused: this process has already compiled 1 distinct rule sets"),
        (
            "many",
            "refused: the environment variable R1RULES_MAX_RULE_SETS is 'many', not a whole "
            "number of at least 1; set it to the most distinct rule sets one process may "
            "compile, or call r1rules.set_rule_set_limit(n)",
            "refused: the environment variable",
        ),
    ],
)
def test_the_environment_variable_sets_the_limit_of_a_process(
    tmp_path: Path, value: str, shipped: str, mine: str
) -> None:
    environment = {**os.environ, RULE_SET_LIMIT_VARIABLE: value}
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_CHILD), str(TESTS), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=environment,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert lines[0] == f"shipped {shipped}", lines
    assert lines[1].startswith(f"mine {mine}"), lines
    assert lines[2] == "after set_rule_set_limit(2): ['mine']", lines


def test_the_limit_is_exported() -> None:
    assert r1rules.engine.set_rule_set_limit is set_rule_set_limit
    assert DEFAULT_RULE_SET_LIMIT == 256
