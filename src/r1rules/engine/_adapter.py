"""The only module that imports durable-rules: compile rule tables once, run one workload.

durable-rules' sharp edges, and how this adapter contains each (tests in test_engine.py):

- 1,024 live sessions per ruleset, then MemoryError and a segfault: every evaluation uses a
  fresh session id and deletes it in ``finally``, after its actions are drained.
- ``Host`` starts two timer threads that re-run pending actions (occasionally on the wrong
  thread): no ``Host`` is ever built. The adapter drives the C engine directly; an action
  is only "record this rule id", so no Python code runs inside the engine.
- Events fire only the first matching rule: only facts are asserted.
- Exceptions raised inside actions are swallowed: there are no Python actions to raise.
- "No rule matched" and "fact already observed" are result codes, translated here into
  ordinary outcomes (an empty firing list).
- Loose typing ("7" == 7, True == 1, NaN as null): facts are validated before they reach
  this module, and rule values are type-checked when rules load.
- Numbers in exponent form without a fraction (1e-05) are refused: every number is
  written with a fraction.
- More than 64 range tests under one node fail at assert time (error 303): every rule
  starts with an equality test on a partition key shared by at most ``PARTITION_SIZE``
  rules, so no node has more children than that.
- A fact with 255 or more properties is refused at assert time (error 302, found here:
  MAX_OBJECT_PROPERTIES in its state.h): each stratum's fact carries only the facts its
  rules test, and a stratum that would need more is refused when the rules compile.
- ``pri`` is unsigned 16-bit: rule indexes are range-checked. A ruleset holds at most
  4,096 rules (error 106) and a node's children are walked on a stack of 64 (error 303):
  both limits are checked when the rules compile, with a message in our words.
- Rulesets can never be unregistered and re-registering leaks: each rule set is compiled
  once per process and cached by its content hash.
- The C code holds the GIL and has no locks: a lock serialises each stratum's
  assert-and-drain so that no two threads interleave inside the engine.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import threading
from collections.abc import Mapping, Sequence

import durable_rules_engine as _dre

from r1rules._errors import EvaluationError
from r1rules.ruleset import RuleSet, Test

__all__ = [
    "CompiledRules",
    "Session",
    "capacity_problems",
    "compiled",
    "encode_fact",
    "live_sessions",
]

PARTITION_SIZE = 32
MAX_PARTITIONS = 60  # children of one node: the engine's evaluation stack holds 64
MAX_RULES = 4096  # the engine's MAX_ACTIONS per ruleset
MAX_PRIORITY = 65_535
MAX_FACT_PROPERTIES = 254  # durable-rules' MAX_OBJECT_PROPERTIES is 255, exclusive
STRATUM_KEY = "r1$stratum"
_RESULT_NO_MATCH, _RESULT_OBSERVED = 1, 2

_session_ids = itertools.count(1)
_ruleset_names = itertools.count(1)
_compile_lock = threading.Lock()
_compiled: dict[str, CompiledRules] = {}


# durable-rules' error codes (its rules.h), in words: none of its messages reach a user.
_ENGINE_ERRORS = {
    "101": "out of memory",
    "106": "too many rules",
    "201": "a value it cannot parse",
    "202": "a string it cannot parse",
    "203": "a number it cannot parse",
    "204": "an object it cannot parse",
    "302": "a fact with too many properties",
    "303": "too many tests under one node",
    "309": "an unknown session",
}


def _explain(exc: BaseException) -> str:
    """An engine exception as words, keyed on its error code."""
    code = str(exc).rsplit(" ", 1)[-1]
    return _ENGINE_ERRORS.get(code, f"engine error {code}")


# json writes 1e-05 and 1e+16; durable-rules wants a fraction before the exponent. Every
# JSON text that reaches the engine (facts and the compiled ruleset) goes through _engine_json.
_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))
_BARE_EXPONENT = re.compile(r"(?<=[:,\[])(-?\d+)(e[-+]?\d+)(?=[,}\]])")


def _engine_json(text: str) -> str:
    """JSON text with every bare exponent given a fraction (1e-05 -> 1.0e-05)."""
    if "e-" in text or "e+" in text:  # float reprs always sign their exponent
        return _BARE_EXPONENT.sub(r"\1.0\2", text)
    return text


def _value(value: object) -> str:
    """JSON for one value (its exponent fixed with the rest of the text); NaN is refused."""
    try:
        return _ENCODER.encode(value)
    except ValueError:
        raise EvaluationError(f"non-finite number {value!r} cannot reach the engine") from None


def encode_fact(
    facts: Mapping[str, object], extra: str = "", names: Sequence[str] | None = None
) -> str:
    """One JSON object of the facts in ``names`` (all, when None) that have a value, plus
    ``extra`` (further members, already JSON). Only bool, number and str values can match;
    non-finite numbers are refused (validated facts never have them)."""
    chosen: dict[str, object]
    if names is None:
        chosen = {n: v for n, v in facts.items() if isinstance(v, (bool, int, float, str))}
    else:  # the facts a stratum's conditions test: matchable kinds only, by construction
        chosen = {n: facts[n] for n in names if n in facts}
    try:
        text = _ENCODER.encode(chosen)
    except ValueError:
        raise EvaluationError(f"a non-finite number cannot reach the engine: {chosen}") from None
    text = _engine_json(text)
    if extra:
        text = text[:-1] + ("," if chosen else "") + extra + "}"
    return text


def _test_json(test: Test) -> str:
    """A test in durable-rules' JSON form: the operator wraps the field."""
    name = json.dumps(test.fact)
    if test.op == "eq":
        return f"{{{name}:{_value(test.value)}}}"
    if test.op == "ne":
        return f'{{"$neq":{{{name}:{_value(test.value)}}}}}'
    if test.op in ("lt", "lte", "gt", "gte"):
        return f'{{"${test.op}":{{{name}:{_value(test.value)}}}}}'
    assert isinstance(test.value, tuple)
    if test.op == "in":
        alternatives = ",".join(f"{{{name}:{_value(v)}}}" for v in test.value)
        return f'{{"$or":[{alternatives}]}}'
    excluded = ",".join(f'{{"$neq":{{{name}:{_value(v)}}}}}' for v in test.value)
    return f'{{"$and":[{excluded}]}}'


class CompiledRules:
    """A rule set registered once with the C engine; ``run_stratum`` asserts one fact.

    Instances are shared by every evaluation of the same rule set and hold no per-call
    state: sessions live only inside ``Session``.
    """

    def __init__(self, rules: RuleSet) -> None:
        too_large = capacity_problems(rules)
        if too_large:
            raise EvaluationError(too_large[0])
        self.rule_ids: dict[str, int] = {}
        definitions = []
        partitions: dict[int, list[str]] = {}
        reads: dict[int, set[str]] = {}
        for stratum, tables in rules.by_stratum:
            keys = partitions.setdefault(stratum, [])
            read = reads.setdefault(stratum, set())
            position = 0
            for rule in (rule for table in tables for rule in table.rules):
                key = f"r1$p{stratum}${position // PARTITION_SIZE}"
                position += 1
                if key not in keys:
                    keys.append(key)
                tests = [f'{{"{STRATUM_KEY}":{stratum}}}', f'{{"{key}":1}}']
                for test in rule.tests:
                    read.add(test.fact)
                    if rules.facts[test.fact].optional:
                        tests.append(f'{{"$ex":{{{json.dumps(test.fact)}:1}}}}')
                    tests.append(_test_json(test))
                body = f'{{"all":[{{"m":{{"$and":[{",".join(tests)}]}}}}],"pri":{rule.index}}}'
                definitions.append(f"{json.dumps(rule.id)}:{body}")
                self.rule_ids[rule.id] = rule.index
        self._reads = {stratum: tuple(sorted(read)) for stratum, read in reads.items()}
        self._stratum_extra = {
            stratum: f'"{STRATUM_KEY}":{stratum},' + ",".join(f'"{k}":1' for k in keys)
            for stratum, keys in partitions.items()
        }
        name = f"r1rules-{rules.version[:16]}-{next(_ruleset_names)}"
        self.definition_json = _engine_json("{" + ",".join(definitions) + "}")
        try:
            self._handle = _dre.create_ruleset(name, self.definition_json)
        except (_dre.error, MemoryError) as exc:
            raise EvaluationError(
                "the rule engine refused the compiled rule set "
                f"({_explain(exc)}); this is a bug in r1rules, please report it"
            ) from None
        self._lock = threading.Lock()

    def session(self) -> Session:
        """A fresh engine session for one evaluation; use it as a context manager."""
        return Session(self)


class Session:
    """One evaluation's engine session: asserts one fact per stratum, deleted on exit."""

    def __init__(self, rules: CompiledRules) -> None:
        self._rules = rules
        self._sid = str(next(_session_ids))
        self._used = False

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._used:
            with self._rules._lock:
                _dre.delete_state(self._rules._handle, self._sid)

    def run_stratum(self, stratum: int, facts: Mapping[str, object]) -> tuple[str, ...]:
        """Assert the facts for one stratum; the ids of every rule that fired, in order."""
        extra = self._rules._stratum_extra.get(stratum)
        if extra is None:
            return ()
        fact = encode_fact(facts, f'{extra},"sid":"{self._sid}"', self._rules._reads[stratum])
        handle = self._rules._handle
        fired: list[str] = []
        with self._rules._lock:
            self._used = True
            try:
                result = _dre.assert_fact(handle, fact)
            except (_dre.error, MemoryError) as exc:
                raise EvaluationError(
                    f"the rule engine refused the facts of stratum {stratum} "
                    f"({_explain(exc)}); this is a bug in r1rules, please "
                    "report it"
                ) from None
            if result[0] in (_RESULT_NO_MATCH, _RESULT_OBSERVED):
                return ()
            # Drain every pending action before anything else can happen: deleting a
            # session with an action still queued crashes the process.
            state_handle = result[1]
            action = _dre.start_action_for_state(handle, state_handle)
            message = action[1] if action else None
            while message:
                fired.append(message)
                message = _dre.complete_and_start_action(handle, state_handle)
        # Each message is {"<rule id>": {...}}; rule ids never need JSON escapes.
        names = [m[2 : m.index('"', 2)] for m in fired]
        order = self._rules.rule_ids
        return tuple(sorted(names, key=order.__getitem__))


def capacity_problems(rules: RuleSet) -> tuple[str, ...]:
    """Why the engine could not hold this rule set (empty when it can).

    Checked when rules load, so that a rule set too large for durable-rules is refused
    there (RuleError), not at its first evaluation.
    """
    problems = []
    total = sum(len(t.rules) for t in rules.tables)
    if total > MAX_RULES:
        problems.append(f"rule set too large: {total} rules; the engine holds at most {MAX_RULES}")
    last = max((r.index for t in rules.tables for r in t.rules), default=0)
    if last > MAX_PRIORITY:
        problems.append(f"rule set too large: rule number {last}; the engine allows {MAX_PRIORITY}")
    for stratum, tables in rules.by_stratum:
        count = sum(len(t.rules) for t in tables)
        if count > MAX_PARTITIONS * PARTITION_SIZE:
            problems.append(
                f"rule set too large: stratum {stratum} has {count} rules; the "
                f"engine evaluates at most {MAX_PARTITIONS * PARTITION_SIZE} in "
                "one stratum"
            )
            continue
        read = {test.fact for t in tables for r in t.rules for test in r.tests}
        room = MAX_FACT_PROPERTIES - 2 - math.ceil(count / PARTITION_SIZE)
        if len(read) > room:
            problems.append(
                f"rule set too large: the rules of stratum {stratum} test "
                f"{len(read)} facts; the engine takes at most {room} in one stratum"
            )
    return tuple(problems)


def compiled(rules: RuleSet) -> CompiledRules:
    """The compiled engine for a rule set, built once per process per rule-set version."""
    engine = _compiled.get(rules.version)
    if engine is None:
        with _compile_lock:
            engine = _compiled.get(rules.version)
            if engine is None:
                engine = CompiledRules(rules)
                _compiled[rules.version] = engine
    return engine


def live_sessions(rules: RuleSet) -> int:
    """Sessions the engine still holds for this rule set (0 after every evaluation).

    Asks the engine itself for the state of every session id this process has handed out
    (the most recent 2,000,000 of them): a deleted session has no state to return.
    Cost: about 2 us per id; meant for tests and soaks.
    """
    engine = compiled(rules)
    count = 0
    last = next(_session_ids)
    for sid in range(max(1, last - 2_000_000), last):
        try:
            _dre.get_state(engine._handle, str(sid))
        except _dre.error:  # 309: no such session
            continue
        count += 1
    return count
