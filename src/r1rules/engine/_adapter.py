"""The only module that imports durable-rules: compile rule tables once, run one workload.

durable-rules' sharp edges, and how this adapter contains each (tests in test_engine.py):

- 1,024 live sessions per ruleset, then MemoryError and a segfault: every evaluation uses a
  fresh session id and deletes it in ``finally``, after its actions are drained.
- ``Host`` starts two timer threads that re-run pending actions (occasionally on the wrong
  thread): no ``Host`` is ever built. The adapter drives the C engine directly; an action
  is only "record this rule id", so no Python code runs inside the engine.
- Events fire only the first matching rule: only facts are asserted. A fact fires a rule
  once for each way it matches (two alternatives of an ``$or``): each rule is reported
  once, and ``in`` lists are sent without repeated values (``_compile``).
- Exceptions raised inside actions are swallowed: there are no Python actions to raise.
- "No rule matched" and "fact already observed" are result codes, translated here into
  ordinary outcomes (an empty firing list).
- A fact without an ``id`` is identified by a hash of its content: the same facts asserted
  again in a session are "already observed" and fire nothing. Each fact carries an ``id``
  of its own in its session, so that one session can decide many options, one fact each
  (creating and deleting a session costs more than asserting a fact).
- Loose typing ("7" == 7, True == 1, NaN as null): facts are validated before they reach
  this module, and rule values are type-checked when rules load.
- Numbers in exponent form without a fraction (1e-05) are refused: every number is
  written with a fraction. Whole numbers beyond +-2**53 compare wrongly: refused in rule
  values at load, sent as the float they equal (or refused) in facts (``_compile``).
- Some property names mean something to the engine (``id``, ``sid``, ``$s``, operators):
  every fact is sent as ``f$<name>``, so any fact name is safe (``_compile``).
- An equality node takes at most 511 children; the 512th hangs ruleset creation: long
  ``in``/``not_in`` lists are decided outside the engine as one boolean (``_compile``).
- More than 64 range tests under one node fail at assert time (error 303): every rule
  starts with an equality test on a partition key shared by at most ``PARTITION_SIZE``
  rules, so no node has more children than that.
- A fact with 254 or more properties of ours is refused at assert time (error 302: its
  MAX_OBJECT_PROPERTIES is 255 and it adds an ``id``): each stratum's fact carries only
  the facts its rules test, and a stratum that would need more is refused at load.
- ``pri`` is unsigned 16-bit: rule indexes are range-checked. A ruleset holds at most
  4,096 rules (error 106) and a node's children are walked on a stack of 64 (error 303):
  both limits are checked when the rules compile, with a message in our words.
- Rulesets can never be unregistered and re-registering leaks: each rule set is compiled
  once per process and cached by its content hash. A process compiles at most so many
  distinct rule sets (``set_rule_set_limit``; 256 by default, about 160 MB never freed):
  a service compiling a new rule set per request gets an EvaluationError that says so,
  instead of growing until the machine kills it.
- The C code holds the GIL and has no locks: a lock serialises each stratum's
  assert-and-drain so that no two threads interleave inside the engine.

Each stratum's answers are remembered by what decides them (``_memo``): a fact that every
test of the stratum finds as it found an earlier one gets the engine's earlier answer
without being asserted.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Mapping, Sequence

import durable_rules_engine as _dre

from r1rules._errors import EvaluationError, R1RulesError
from r1rules.engine._compile import capacity_problems, compile_rules
from r1rules.engine._encode import Stratum, encode_stratum
from r1rules.engine._memo import Memo
from r1rules.ruleset import RuleSet

__all__ = [
    "DEFAULT_RULE_SET_LIMIT",
    "RULE_SET_LIMIT_VARIABLE",
    "CompiledRules",
    "Session",
    "compiled",
    "live_sessions",
    "set_rule_set_limit",
]

_RESULT_NO_MATCH, _RESULT_OBSERVED = 1, 2

# durable-rules never frees a compiled rule set (about 623 KB each, measured): 256 of them
# hold about 160 MB. A program uses one rule set or a few (the shipped one, its own, a test
# suite's 60 or so); a process that reaches 256 is compiling rule sets without end.
DEFAULT_RULE_SET_LIMIT = 256
RULE_SET_LIMIT_VARIABLE = "R1RULES_MAX_RULE_SETS"  # read once, when r1rules is imported

_session_ids = itertools.count(1)
_ruleset_names = itertools.count(1)
_compile_lock = threading.Lock()  # guards _compiled and the limit
_compiled: dict[str, CompiledRules] = {}


def _limit_from(environment: Mapping[str, str]) -> tuple[int, str]:
    """The rule set limit the environment sets (the default when it sets none), and why
    its value is refused ("" when it is not)."""
    raw = environment.get(RULE_SET_LIMIT_VARIABLE, "")
    if not raw.strip():
        return DEFAULT_RULE_SET_LIMIT, ""
    text = raw.strip()
    if text.isdecimal() and len(text) <= 18 and int(text) >= 1:
        return int(text), ""
    return DEFAULT_RULE_SET_LIMIT, (
        f"the environment variable {RULE_SET_LIMIT_VARIABLE} is {raw[:40]!r}, not a whole "
        "number of at least 1"
    )


_limit, _limit_problem = _limit_from(os.environ)


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


class CompiledRules:
    """A rule set registered once with the C engine; ``Session.run_stratum`` asserts one fact.

    Instances are shared by every evaluation of the same rule set and hold no per-call
    state: sessions live only inside ``Session``.
    """

    def __init__(self, rules: RuleSet) -> None:
        too_large = capacity_problems(rules)
        if too_large:
            raise EvaluationError(too_large[0])
        compilation = compile_rules(rules)
        self.rule_ids = compilation.rule_ids
        self.strata = compilation.strata
        self.definition_json = compilation.definition_json
        # each stratum's firings, as the engine answered them, by what decides them
        self.memos = {stratum: Memo(r) for stratum, r in compilation.regions.items()}
        name = f"r1rules-{rules.version[:16]}-{next(_ruleset_names)}"
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

    def forget(self) -> None:
        """Forget every answer remembered (the next fact of each kind reaches the engine)."""
        for memo in self.memos.values():
            memo.forget()


class Session:
    """One evaluation's engine session: asserts one fact per stratum it runs (again for
    each option it decides), deleted on exit."""

    def __init__(self, rules: CompiledRules) -> None:
        self._rules = rules
        self._sid = str(next(_session_ids))
        self._used = False
        self._asserted = 0  # the id of the last fact asserted

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._used:
            with self._rules._lock:
                _dre.delete_state(self._rules._handle, self._sid)

    def run_stratum(self, stratum: int, facts: Mapping[str, object]) -> Sequence[str]:
        """The ids of every rule that fires for the facts of one stratum, as the engine
        reported them: a rule it matched twice (two alternatives of an ``$or``) is listed
        twice, and the order is the engine's (the caller orders each table's rules).

        The facts are asserted unless the engine has answered for facts that every test
        of the stratum finds the same (``_memo``): then that answer is returned."""
        rules = self._rules
        plan = rules.strata.get(stratum)
        if plan is None:
            return ()
        memo = rules.memos[stratum]
        key = memo.regions.key(facts)
        if key is not None:
            try:
                known = memo.get(key)
            except TypeError:  # a value that cannot be hashed (a list): the engine decides
                key = None
            else:
                if known is not None:
                    return known
        fired = self._assert(stratum, plan, facts)
        return fired if key is None else memo.learn(key, fired)

    def _assert(self, stratum: int, plan: Stratum, facts: Mapping[str, object]) -> list[str]:
        """Assert the facts for one stratum: the ids of the rules that fired."""
        rules = self._rules
        self._asserted += 1
        extra = f'{plan.extra},"sid":"{self._sid}","id":"{self._asserted}"'
        fact = encode_stratum(facts, plan, extra)
        handle = rules._handle
        # Each message is {"<rule id>": {...}}; rule ids never need JSON escapes.
        fired: list[str] = []
        with rules._lock:
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
                return fired
            # Drain every pending action before anything else can happen: deleting a
            # session with an action still queued crashes the process.
            state_handle = result[1]
            action = _dre.start_action_for_state(handle, state_handle)
            message = action[1] if action else None
            append, complete = fired.append, _dre.complete_and_start_action
            while message:
                append(message[2 : message.index('"', 2)])
                message = complete(handle, state_handle)
        return fired


def compiled(rules: RuleSet) -> CompiledRules:
    """The compiled engine for a rule set, built once per process per rule-set version.

    A rule set compiled before (this RuleSet, or any with the same ``version``) is
    returned as it is, whatever the limit. A new one past the process's rule set limit
    (see ``set_rule_set_limit``) raises EvaluationError instead of being compiled.
    """
    engine = _compiled.get(rules.version)
    if engine is None:
        with _compile_lock:
            engine = _compiled.get(rules.version)
            if engine is None:
                _check_room()
                engine = CompiledRules(rules)
                _compiled[rules.version] = engine
    return engine


def _check_room() -> None:
    """EvaluationError unless one more rule set may be compiled (hold _compile_lock)."""
    raise_it = (
        "raise it with r1rules.set_rule_set_limit(n) or the environment variable "
        f"{RULE_SET_LIMIT_VARIABLE}"
    )
    if _limit_problem:
        raise EvaluationError(
            f"{_limit_problem}; set it to the most distinct rule sets one process may "
            "compile, or call r1rules.set_rule_set_limit(n)"
        )
    if len(_compiled) >= _limit:
        raise EvaluationError(
            f"this process has already compiled {len(_compiled)} distinct rule sets, its "
            f"limit of {_limit}: the rule engine never frees a compiled rule set (about "
            "0.6 MB each). Reuse loaded rule sets instead of building one per request, "
            "give each policy a worker process of its own or recycle workers after some "
            f"policies, or {raise_it}"
        )


def set_rule_set_limit(limit: int) -> int:
    """Allow at most ``limit`` distinct rule sets to be compiled in this process; return
    the limit before.

    durable-rules never frees a compiled rule set (about 0.6 MB each), so a long-lived
    process that loads a new rule set per request (a user's policy, say) would grow
    without bound: once ``limit`` distinct rule sets are compiled, evaluating another one
    raises EvaluationError, and rule sets already compiled keep working. The default,
    256 (about 160 MB), can also be set with the environment variable
    ``R1RULES_MAX_RULE_SETS``, read once when r1rules is imported (worker processes
    inherit it); a limit set here takes precedence. A limit below the number already
    compiled only stops new ones. Thread-safe. Raises R1RulesError unless ``limit`` is a
    whole number of at least 1.
    """
    global _limit, _limit_problem
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise R1RulesError(
            f"set_rule_set_limit: expected a whole number of at least 1, not {limit!r}"
        )
    with _compile_lock:
        before, _limit, _limit_problem = _limit, limit, ""
    return before


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
