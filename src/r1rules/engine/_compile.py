"""A RuleSet -> durable-rules' JSON ruleset form, and facts -> the JSON objects it matches
(written in ``_encode``, re-exported here).

Pure text building: no durable-rules import here (``_adapter`` drives the engine). What the
engine sees is shaped so that none of its sharp edges can be reached from a rule file:

- Every fact is a property named ``f$<fact>``: the engine gives meaning to some property
  names (``id`` is a fact's identity, so a second fact with the same ``id`` is "already
  observed" and never matches; ``sid`` picks the session, so a fact named ``sid`` fires
  every rule twice; ``$s`` marks the session-state object; ``$and``, ``$lt``... are
  operators). Facts are lower-case identifiers, so no prefixed name is any of those, nor
  one of the adapter's own keys (``r1$...``). Properties are looked up by a 32-bit FNV-1a
  hash of their name alone, and so are the operators of a test when a ruleset is created
  (``{"f$x": 7}`` is read as ``$gt`` when ``f$x`` hashes as ``$gt`` does, and the ruleset
  is refused): ``capacity_problems`` refuses a rule set in which two names, or a name and
  ``id``/``sid`` or an operator, share a hash.
- Whole numbers are read as signed 64-bit integers (larger ones saturate) and compared
  with a decimal after conversion to a double: only integers within +-2**53 compare
  exactly with everything. Rule values outside that are refused at load; a fact outside
  it reaches the engine as the float it equals exactly, or is refused.
- A rule fires once for each alternative of an ``$or`` that matches: an ``in`` list is
  sent with each value once (``[8, 8.0]`` is one value).
- An equality node holds at most 511 children (a hash set of 512 with linear probing;
  the 512th makes ruleset creation spin forever) and each ``in`` value is one child; a
  ``not_in`` value is one node in a chain. Membership lists longer than
  ``MAX_ENGINE_MEMBERS`` are therefore decided here, exactly, once per stratum: the fact
  carries ``r1$m<n> = true/false`` (absent when the tested fact has no value) and the
  rule tests that boolean. With partitions of 32 rules, no node has more than
  32 x 8 = 256 equality children.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Iterator, Mapping

import attrs

from r1rules._errors import EvaluationError
from r1rules.engine._encode import (
    ENCODER,
    FACT_PREFIX,
    MAX_EXACT_INTEGER,
    Membership,
    Stratum,
    encode_fact,
    encode_stratum,
    engine_json,
    prop,
    show_int,
)
from r1rules.engine._memo import Regions
from r1rules.ruleset import Rule, RuleSet, Test

__all__ = [
    "FACT_PREFIX",
    "MAX_ENGINE_MEMBERS",
    "MAX_EXACT_INTEGER",
    "Compilation",
    "Membership",
    "capacity_problems",
    "compile_rules",
    "encode_fact",
    "encode_stratum",
    "engine_json",
    "fnv1a32",
]

STRATUM_KEY = "r1$stratum"
PARTITION_SIZE = 32
MAX_PARTITIONS = 60  # children of one node: the engine's evaluation stack holds 64
MAX_RULES = 4096  # the engine's MAX_ACTIONS per ruleset
MAX_PRIORITY = 65_535
# durable-rules' MAX_OBJECT_PROPERTIES is 255, exclusive, and it adds an ``id`` to every
# fact: 253 properties of ours (measured: 254 is error 302 at assert time).
MAX_FACT_PROPERTIES = 253
MAX_ENGINE_MEMBERS = 8  # longer in/not_in lists become a precomputed boolean
MAX_EQUALITY_CHILDREN = 511  # measured: the 512th child of one node hangs creation
# Names the engine tells apart by hash alone: the properties it reads in a fact (its
# state.h HASH_ID and HASH_SID), and the operators it reads as the first name of a test
# (rete.c validateExpressionSequence: an equality test on a property hashing as one of
# them is read as that operator, and the ruleset is refused with error 102).
ENGINE_NAMES = ("id", "sid")
ENGINE_OPERATORS = (
    *("$eq", "$neq", "$lt", "$lte", "$gt", "$gte", "$ex", "$nex"),
    *("$mt", "$imt", "$iall", "$iany", "$and", "$or"),
)


def fnv1a32(name: str) -> int:
    """The engine's hash of a property name (FNV-1a, 32 bits, over its UTF-8 bytes)."""
    value = 2166136261
    for byte in name.encode("utf-8"):
        # the C code XORs a (signed) char: bytes >= 0x80 are sign-extended
        value ^= byte if byte < 0x80 else byte | 0xFFFFFF00
        value = (value * 16777619) & 0xFFFFFFFF
    return value


_ENGINE_HASHES = {fnv1a32(n): n for n in (*ENGINE_NAMES, *ENGINE_OPERATORS)}


def _value(value: object) -> str:
    """JSON for one rule value (range-checked at load; its exponent fixed later)."""
    try:
        return ENCODER.encode(value)
    except ValueError:
        raise EvaluationError(f"non-finite number {value!r} cannot reach the engine") from None


def _engine_decides(test: Test) -> bool:
    return not (isinstance(test.value, tuple) and len(test.value) > MAX_ENGINE_MEMBERS)


def _test_json(test: Test, member: Membership | None) -> str:
    """A test in durable-rules' JSON form: the operator wraps the field."""
    if member is not None:
        return f'{{"{member.property}":{"true" if test.op == "in" else "false"}}}'
    name = ENCODER.encode(prop(test.fact))
    if test.op == "eq":
        return f"{{{name}:{_value(test.value)}}}"
    if test.op == "ne":
        return f'{{"$neq":{{{name}:{_value(test.value)}}}}}'
    if test.op in ("lt", "lte", "gt", "gte"):
        return f'{{"${test.op}":{{{name}:{_value(test.value)}}}}}'
    assert isinstance(test.value, tuple)
    # Each value once: the engine fires a rule once for every $or alternative that
    # matches, so ["basic", "basic"] (or [8, 8.0]) fired it twice.
    values = dict.fromkeys(test.value)
    if test.op == "in":
        alternatives = ",".join(f"{{{name}:{_value(v)}}}" for v in values)
        return f'{{"$or":[{alternatives}]}}'
    excluded = ",".join(f'{{"$neq":{{{name}:{_value(v)}}}}}' for v in values)
    return f'{{"$and":[{excluded}]}}'


@attrs.frozen
class Compilation:
    """A rule set as the engine's JSON ruleset, with what each stratum's fact carries."""

    definition_json: str
    rule_ids: Mapping[str, int]
    strata: Mapping[int, Stratum]
    regions: Mapping[int, Regions]  # how each stratum's firings are remembered (``_memo``)


def _memberships(rules: RuleSet) -> dict[tuple[str, frozenset[object]], Membership]:
    """Every membership list decided outside the engine, numbered once per distinct list."""
    found: dict[tuple[str, frozenset[object]], Membership] = {}
    for rule in rules.rules:
        for test in rule.tests:
            if not _engine_decides(test):
                assert isinstance(test.value, tuple)
                key = (test.fact, frozenset(test.value))
                if key not in found:
                    found[key] = Membership(f"r1$m{len(found)}", test.fact, key[1])
    return found


def compile_rules(rules: RuleSet) -> Compilation:
    """The engine's JSON for a rule set (which ``capacity_problems`` found within limits)."""
    rule_ids: dict[str, int] = {}
    definitions = []
    members = _memberships(rules)
    strata: dict[int, Stratum] = {}
    regions: dict[int, Regions] = {}
    for stratum, tables in rules.by_stratum:
        keys: list[str] = []
        read: set[str] = set()
        used: dict[str, Membership] = {}
        decided: list[Test] = []  # the tests the engine decides
        for position, rule in enumerate(r for table in tables for r in table.rules):
            key = f"r1$p{stratum}${position // PARTITION_SIZE}"
            if key not in keys:
                keys.append(key)
            tests = [f'{{"{STRATUM_KEY}":{stratum}}}', f'{{"{key}":1}}']
            for test in rule.tests:
                member = None
                if _engine_decides(test):
                    read.add(test.fact)
                    decided.append(test)
                    if rules.facts[test.fact].optional:
                        tests.append(f'{{"$ex":{{{ENCODER.encode(prop(test.fact))}:1}}}}')
                else:
                    assert isinstance(test.value, tuple)
                    member = members[test.fact, frozenset(test.value)]
                    used[member.property] = member
                tests.append(_test_json(test, member))
            body = f'{{"all":[{{"m":{{"$and":[{",".join(tests)}]}}}}],"pri":{rule.index}}}'
            definitions.append(f"{json.dumps(rule.id)}:{body}")
            rule_ids[rule.id] = rule.index
        if keys:
            reads = tuple(sorted(read))
            strata[stratum] = Stratum(
                reads,
                tuple(used.values()),
                f'"{STRATUM_KEY}":{stratum},' + ",".join(f'"{k}":1' for k in keys),
                tuple(ENCODER.encode(prop(name)) + ":" for name in reads),
            )
            regions[stratum] = Regions(decided, tuple(used.values()))
    return Compilation(engine_json("{" + ",".join(definitions) + "}"), rule_ids, strata, regions)


def capacity_problems(rules: RuleSet) -> tuple[str, ...]:
    """Why the engine could not hold this rule set, or would decide it wrongly (empty when
    it can). Checked when rules load, so that such a rule set is refused there
    (RuleError), not at its first evaluation."""
    problems = list(_range_problems(rules))
    total = sum(len(t.rules) for t in rules.tables)
    if total > MAX_RULES:
        problems.append(f"rule set too large: {total} rules; the engine holds at most {MAX_RULES}")
    last = max((r.index for t in rules.tables for r in t.rules), default=0)
    if last > MAX_PRIORITY:
        problems.append(f"rule set too large: rule number {last}; the engine allows {MAX_PRIORITY}")
    members = _memberships(rules)
    for stratum, tables in rules.by_stratum:
        count = sum(len(t.rules) for t in tables)
        if count > MAX_PARTITIONS * PARTITION_SIZE:
            problems.append(
                f"rule set too large: stratum {stratum} has {count} rules; the "
                f"engine evaluates at most {MAX_PARTITIONS * PARTITION_SIZE} in "
                "one stratum"
            )
            continue
        tests = [test for t in tables for r in t.rules for test in r.tests]
        read = {test.fact for test in tests if _engine_decides(test)}
        decided = {
            members[test.fact, frozenset(test.value)]
            for test in tests
            if not _engine_decides(test) and isinstance(test.value, tuple)
        }
        room = MAX_FACT_PROPERTIES - 2 - math.ceil(count / PARTITION_SIZE)
        if len(read) + len(decided) > room:
            problems.append(
                f"rule set too large: the rules of stratum {stratum} test "
                f"{len(read)} facts and {len(decided)} long membership lists; the "
                f"engine takes at most {room} in one stratum"
            )
    problems += _hash_problems(rules, len(members))
    return tuple(problems)


def _range_problems(rules: RuleSet) -> Iterator[str]:
    """Whole numbers in rule values that the engine would compare wrongly."""
    for rule in rules.rules:
        for test in rule.tests:
            values = test.value if isinstance(test.value, tuple) else (test.value,)
            if any(_out_of_range(v) for v in values):
                yield _range_message(rule, f"when.{test.fact}.{test.op}", values)
        for assignment in rule.sets:
            if _out_of_range(assignment.value):
                yield _range_message(rule, f"set.{assignment.fact}", (assignment.value,))


def _out_of_range(value: object) -> bool:
    return type(value) is int and not -MAX_EXACT_INTEGER <= value <= MAX_EXACT_INTEGER


def _range_message(rule: Rule, key: str, values: Collection[object]) -> str:
    bad = next(v for v in values if _out_of_range(v))
    assert isinstance(bad, int)
    return (
        f"{rule.file}: rule {rule.id!r}: {key}: {show_int(bad)} is outside the range "
        f"of whole numbers the rule engine compares exactly: -{MAX_EXACT_INTEGER} to "
        f"{MAX_EXACT_INTEGER} (2**53); write a larger bound as a decimal (e.g. 1.0e19)"
    )


def _hash_problems(rules: RuleSet, memberships: int) -> Iterator[str]:
    """Property names the engine would confuse: it tells them apart by hash alone."""
    names = [prop(name) for name in rules.facts] + [STRATUM_KEY]
    names += [f"r1$m{n}" for n in range(memberships)]
    for stratum, tables in rules.by_stratum:
        parts = math.ceil(sum(len(t.rules) for t in tables) / PARTITION_SIZE)
        names += [f"r1$p{stratum}${n}" for n in range(parts)]
    seen: dict[int, str] = {}
    for name in names:
        hashed = fnv1a32(name)
        other = seen.get(hashed) or _ENGINE_HASHES.get(hashed)
        if other is not None:
            shown = name.removeprefix(FACT_PREFIX)
            spec = rules.facts.get(shown)
            file = f"{spec.declared_in}: " if spec is not None and spec.declared_in else ""
            what = "the operator " if other in ENGINE_OPERATORS else ""
            yield (
                f"{file}fact {shown!r}: the rule engine cannot tell its name from "
                f"{what}{other.removeprefix(FACT_PREFIX)!r} (same hash); rename the fact"
            )
        seen[hashed] = name
