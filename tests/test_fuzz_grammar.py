"""Fuzz: rule files drawn from the whole grammar the loader reads, held to the reference
evaluator, and the same files with one thing wrong, held to a clean refusal.

``strategies.rule_documents`` draws valid rule files: declared facts named like the
engine's own words and hash twins, every operator in its bare and operator forms, every
hit policy, complete and layered (extends, replace) tables, membership lists on both sides
of the length the compiler decides in Python, numbers at the edges of what the engine
compares exactly (+-2**53, 1e-300, 5e-324, -0.0, 1.8e308), placeholders with format specs,
copies of facts; each is layered on ``rulefiles.MINIMAL``. ``strategies.MUTATIONS`` make
one thing wrong in one.

Examples are derandomized, so that CI sees the same ones on every run; set
``R1RULES_FUZZ_EXAMPLES=<n>`` to run n of each, drawn at random.
"""

from __future__ import annotations

import copy
import faulthandler
import math
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

from firing import in_rule_order, reference_firing
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from rulefiles import write_rules
from strategies import (
    EDGE_NUMBERS,
    ENGINE_WORDS,
    HARMLESS_TWINS,
    MUTATIONS,
    Document,
    Reach,
    rule_documents,
    toml_text,
)

from r1rules import EvaluationError, R1RulesError, RuleError, RuleSet, Workload, evaluate
from r1rules._errors import CHECK_KINDS
from r1rules.check import load_rules
from r1rules.engine import Session, compiled, set_rule_set_limit
from r1rules.ruleset import enum_values
from r1rules.ruleset._model import OPERATORS

RANDOM_EXAMPLES = int(os.environ.get("R1RULES_FUZZ_EXAMPLES", "0"))
MAX_SECONDS = 20.0  # for one example to load and evaluate; they take milliseconds
POOL = (
    Workload(model="deepseek-r1-distill-qwen-7b", peak_qps=8, latency_ms=500, stage="development"),
    Workload(model="deepseek-r1", peak_qps=10, latency_ms=2000, gpu="h200", budget_usd=5000),
)
#: Whole numbers beyond 2**53: no float equals the first five, the last is one.
BEYOND = (2**53 + 1, -(2**53) - 1, 2**64 + 1, 10**30 + 1, 3**40, 2**53 + 2)
_real_run_stratum = Session.run_stratum


def fuzz_settings(examples: int) -> Callable[[Any], Any]:
    """``examples`` derandomized examples, or R1RULES_FUZZ_EXAMPLES random ones reported
    unshrunk (shrinking these documents can take many minutes)."""
    return settings(
        max_examples=RANDOM_EXAMPLES or examples,
        derandomize=not RANDOM_EXAMPLES,
        database=None,
        deadline=None,  # a slow CI machine must not flake it: MAX_SECONDS bounds each one
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        phases=[Phase.generate] if RANDOM_EXAMPLES else list(Phase),
    )


HANG_SECONDS = 120  # an example still running after this is stuck (the engine can spin)


def watch() -> None:
    """(Re)start the watchdog at the start of an example: an example that hangs (in C code
    that holds the GIL, say) ends the test run with every thread's traceback instead of
    blocking CI."""
    faulthandler.dump_traceback_later(HANG_SECONDS, exit=True)


@contextmanager
def watched() -> Iterator[None]:
    """Stop the watchdog once the law has run, however it ended."""
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()


def load(doc: Document, check: bool) -> RuleSet:
    with tempfile.TemporaryDirectory() as tmp:
        return load_rules(write_rules(Path(tmp), toml_text(doc)), check=check)


RunStratum = Callable[[Session, int, Mapping[str, object]], Sequence[str]]


def held_to_the_reference(rules: RuleSet, compared: list[int]) -> RunStratum:
    """``Session.run_stratum`` asserting that each firing is the reference evaluator's on
    the same facts: whatever path an evaluation takes, every stratum goes through it."""

    def run_stratum(session: Session, stratum: int, facts: Mapping[str, object]) -> Sequence[str]:
        fired = _real_run_stratum(session, stratum, facts)
        assert in_rule_order(rules, fired) == reference_firing(rules, stratum, facts), (
            stratum,
            dict(facts),
        )
        compared[0] += 1
        return fired

    return run_stratum


def fact_values(rules: RuleSet, name: str) -> st.SearchStrategy[object]:
    """Values of one fact: its kind's edges, the values rules test it against and their
    neighbours; for numbers also whole numbers beyond 2**53; odd strings for enums."""
    spec = rules.facts[name]
    if spec.kind == "bool":
        return st.booleans()
    if spec.kind != "number":
        return st.sampled_from((*enum_values(spec, rules.catalog), "x", "7", "true", ""))
    bounds: list[float | int] = []
    for rule in rules.rules:
        for test in rule.tests:
            if test.fact == name:
                values = test.value if isinstance(test.value, tuple) else (test.value,)
                bounds += [v for v in values if isinstance(v, (int, float))]
    near = [math.nextafter(float(v), side) for v in bounds for side in (-math.inf, math.inf)]
    near = [v for v in near if math.isfinite(v)]  # validated facts are finite
    return st.one_of(
        st.sampled_from((*EDGE_NUMBERS, *bounds, *near)),
        st.sampled_from(BEYOND),
        st.floats(allow_nan=False, allow_infinity=False),
    )


def neighbours(value: object) -> list[object]:
    """Values close to a number, of its type: the next floats either side and halfway to
    the nearest whole numbers (a float), the whole numbers either side (an int)."""
    if type(value) is int:
        return [value - 1, value + 1, value - 2, value + 2]
    if type(value) is float and math.isfinite(value):
        return [
            math.nextafter(value, -math.inf),
            math.nextafter(value, math.inf),
            (value + math.floor(value)) / 2,
            (value + math.ceil(value)) / 2,
            value * 0.999,
            value * 1.001,
        ]
    return []


def same_key_same_firing(
    rules: RuleSet, stratum: int, facts: Mapping[str, object], key: Callable[..., object]
) -> int:
    """The engine memo's premise, held to the reference: facts changed in one number to a
    neighbour of it that gives the same memo key fire the same rules. Returns the changed
    facts that gave the same key."""
    same = 0
    firing = reference_firing(rules, stratum, facts)
    for name, value in facts.items():
        for near in neighbours(value):
            other = {**facts, name: near}
            if key(other) == key(facts):
                assert reference_firing(rules, stratum, other) == firing, (facts, name, near)
                same += 1
    return same


def engine_matches_reference_on_drawn_facts(
    rules: RuleSet, data: st.DataObject, remembered: list[int]
) -> int:
    """Each stratum run directly on facts drawn several times over (some absent, numbers
    near the rules' constants, so that later draws often fall where an earlier one did and
    are answered from the engine's memo: ``remembered`` counts those): the engine, or its
    memo, fires what the reference matches, or refuses a whole number it would compare
    wrongly, every time. Returns the strata compared."""
    compared = 0
    engine = compiled(rules)
    engine.forget()  # what this example's facts fire, not what an earlier one learned
    for stratum, tables in rules.by_stratum:
        names = sorted({name for t in tables for r in t.rules for name in r.condition_facts})
        memo = engine.memos.get(stratum)
        for _ in range(data.draw(st.integers(1, 6), label="fact sets")):
            facts: dict[str, object] = {}
            for name in names:
                if data.draw(st.integers(0, 4), label=f"{name} absent unless > 0") > 0:
                    facts[name] = data.draw(fact_values(rules, name), label=name)
            # Such a number is refused when it reaches the engine; a long membership list
            # is decided in Python, exactly, without sending it.
            sent = engine.strata[stratum].reads
            inexact = [
                v for n, v in facts.items() if n in sent and type(v) is int and float(v) != v
            ]
            key = None if memo is None else memo.regions.key(facts)
            known = key is not None and memo is not None and memo.get(key) is not None
            if key is not None and memo is not None:
                remembered[1] += same_key_same_firing(rules, stratum, facts, memo.regions.key)
            with engine.session() as session:
                try:
                    fired = session.run_stratum(stratum, facts)
                except EvaluationError as exc:
                    assert inexact, exc
                    assert "compares whole numbers exactly only within" in str(exc)
                    continue
            assert not inexact, f"the engine took {inexact} without refusing it"
            assert in_rule_order(rules, fired) == reference_firing(rules, stratum, facts), (
                stratum,
                facts,
                "answered from the memo" if known else "asserted",
            )
            remembered[0] += known
            compared += 1
    return compared


def test_valid_rule_files_load_evaluate_and_fire_what_the_reference_matches() -> None:
    """Law, for a valid rule file: loading gives a RuleSet (``check=False``), or a RuleError
    of static-checker findings only (``check=True``: a gap, an overlap, a dead rule);
    evaluating it (two workloads) raises nothing but r1rules' own errors (a gap, an
    overlap, conflicting sets), never one that calls itself a bug, and every stratum the
    engine runs fires exactly the rules the reference evaluator matches on the same facts,
    so the recommendation (facts, notes, warnings, trace) is the reference evaluator's;
    the engine run directly on drawn facts agrees too; each example takes seconds at most.
    An example reaches the law when a stratum was compared."""
    reach = Reach("fuzzed rule files: engine = reference")
    seen: dict[str, set[str]] = {"ops": set(), "policies": set(), "names": set(), "long": set()}
    partitions = [0]  # most partitions of 32 rules in one stratum compared
    # drawn facts answered from the engine's memo (and held to the reference); pairs of
    # different facts with one memo key (held to fire the same rules)
    remembered = [0, 0]
    slowest = [0.0]

    @fuzz_settings(100)
    @given(rule_documents(), st.data())
    def law(doc: Document, data: st.DataObject) -> None:
        watch()
        reach.run()
        check = data.draw(st.integers(0, 3), label="checked if 3") == 3
        start = time.perf_counter()
        try:
            rules = load(doc, check)
        except RuleError as exc:
            assert check and exc.problems, exc
            assert all(p.kind in CHECK_KINDS for p in exc.problems), exc
            reach.note("refused by the static checker")
            return
        compared = [0]
        with mock.patch.object(Session, "run_stratum", held_to_the_reference(rules, compared)):
            for workload in POOL:
                try:
                    evaluate(workload, rules)
                except R1RulesError as exc:  # a gap, an overlap, a conflict, an unset copy
                    assert "bug in r1rules" not in str(exc), exc
                    reach.note(f"evaluation refused: {type(exc).__name__}")
        strata = engine_matches_reference_on_drawn_facts(rules, data, remembered)
        slowest[0] = max(slowest[0], time.perf_counter() - start)
        assert time.perf_counter() - start < MAX_SECONDS
        if compared[0] + strata:
            reach.hit()
            tests = [test for rule in rules.rules for test in rule.tests]
            seen["ops"].update(test.op for test in tests)
            seen["policies"].update(table.hit_policy.value for table in rules.tables)
            seen["names"].update(n for n, spec in rules.facts.items() if spec.declared_in)
            seen["long"].update(
                t.op for t in tests if isinstance(t.value, tuple) and len(set(t.value)) > 8
            )
            most = max(sum(len(t.rules) for t in tables) for _, tables in rules.by_stratum)
            partitions[0] = max(partitions[0], math.ceil(most / 32))

    # Every example compiles a rule set of its own: room for them, whatever ran before.
    before = set_rule_set_limit(10**6)
    try:
        with watched():
            law()
    finally:
        set_rule_set_limit(before)
    print(
        f"\nslowest example: {slowest[0]:.3f} s; answered from the memo: {remembered[0]}; "
        f"different facts, one key: {remembered[1]}"
    )
    reach.check(share=0.5)
    assert seen["ops"] == set(OPERATORS), seen["ops"]
    assert seen["policies"] == {"unique", "first", "any", "collect"}, seen["policies"]
    assert seen["long"] == {"in", "not_in"}, "no long membership list was compared"
    assert partitions[0] > 1, "no stratum of more than one partition was compared"
    assert remembered[0] >= 50, f"only {remembered[0]} drawn facts were answered from the memo"
    assert remembered[1] >= 300, f"only {remembered[1]} pairs of facts shared a memo key"
    assert seen["names"] & set(ENGINE_WORDS) and seen["names"] & set(HARMLESS_TWINS)
    assert reach.labels.get("evaluation refused: EvaluationError", 0) > 0
    assert reach.labels.get("refused by the static checker", 0) > 0


def test_rule_files_with_one_thing_wrong_are_refused_with_a_rule_error() -> None:
    """Law: a valid rule file with one thing wrong, each of ``MUTATIONS`` in turn (a name,
    a type, an operator, a value, a number the engine cannot compare, a format spec, a
    control character, an id, a hit policy, a fact no rule sets...), is refused by the
    loader with a RuleError listing problem records, never any other exception, with or
    without the static checker."""
    reach = Reach("rule files with one thing wrong: refused")

    @fuzz_settings(15)
    @given(rule_documents(big=False), st.data())
    def law(valid: Document, data: st.DataObject) -> None:
        watch()
        for mutation in sorted(MUTATIONS):
            reach.run()
            doc = copy.deepcopy(valid)
            MUTATIONS[mutation](data.draw, doc)
            try:
                load(doc, data.draw(st.booleans(), label="check"))
            except RuleError as exc:
                assert exc.problems and all(str(p) for p in exc.problems), exc
                reach.hit(f"refused: {mutation}")
                continue
            raise AssertionError(f"accepted a rule file with one thing wrong: {mutation}")

    with watched():
        law()
    reach.check(share=0.99)
    assert {f"refused: {m}" for m in MUTATIONS} <= set(reach.labels), reach.labels
