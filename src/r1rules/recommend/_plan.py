"""A rule set worked out once for evaluations (``Plan``): each rule as firing needs it, the
strata before and after sizing, the screen of excluded options; and the forms a run keeps
its texts and trace in until they are read."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Mapping, Sequence

from r1rules.recommend._cache import Identity
from r1rules.recommend._fired import EXCLUDED_FACT, Fired
from r1rules.recommend._message import Message, TraceStep
from r1rules.recommend._resolve import Resolutions
from r1rules.ruleset import RuleSet, Table
from r1rules.ruleset._placeholders import Text, render

__all__ = [
    "EXCLUDED_FACT",
    "Fired",
    "Pending",
    "Plan",
    "Screen",
    "Step",
    "Strata",
    "messages",
    "plan_of",
    "trace_steps",
]

Strata = Sequence[tuple[int, Sequence[Table]]]
# A note or warning as its rule fired: the rule, its text, and the values of the facts its
# placeholders name at that moment; written out (``messages``) only for the answer's run.
Pending = tuple[str, Text, tuple[object, ...]]
# A trace step as its rule fired: the rule, the values of its stratum's facts as the engine
# matched them (``Fired.read``), what it set, whether it was suppressed; written out
# (``trace_steps``) when the answer's trace is first read.
Step = tuple["Fired", tuple[object, ...], tuple[tuple[str, object], ...], bool]


class Plan:
    """A rule set worked out once for evaluations: each rule's ``Fired`` by rule id, and
    its strata before sizing (``pre``) and after (``post``); its catalog's and price list's
    cache keys (the same key objects in every evaluation: a cache finds them by identity,
    without comparing keys in Python); its ``Screen`` (None when it has none)."""

    __slots__ = ("catalog", "fired", "post", "pre", "prices", "resolutions", "screen")

    def __init__(self, rules: RuleSet) -> None:
        self.catalog = Identity(rules.catalog)
        self.prices = Identity(rules.catalog.prices)
        self.fired: dict[str, Fired] = {}
        for _, tables in rules.by_stratum:
            rules_of = [rule for table in tables for rule in table.rules]
            read = tuple(dict.fromkeys(n for rule in rules_of for n in rule.condition_facts))
            self.fired.update((rule.id, Fired(rule, read)) for rule in rules_of)
        split = rules.sizing_stratum
        self.pre = tuple((s, t) for s, t in rules.by_stratum if s <= split)
        self.post = tuple((s, t) for s, t in rules.by_stratum if s > split)
        self.screen = Screen.of(self.post)
        self.resolutions = Resolutions(self.fired)


class Screen:
    """Which options the rules after sizing exclude, remembered by the only facts that
    decide it, so that an answer need not run them on an option they exclude.

    The facts are those of every rule in a table after sizing that sets ``EXCLUDED_FACT``
    (its tests and the facts it copies), and ``EXCLUDED_FACT`` itself; a rule set has a
    screen only when no rule after sizing sets one of them (but those tables,
    ``EXCLUDED_FACT``): their values before those rules run are then the values the rules
    read, and whether the option ends excluded is a function of them. Typically the
    stage, the GPU's segment and class and whether it is pinned: a few dozen keys.
    ``excluded`` tells whether an earlier run of the same rules excluded an option with the
    same values (each typed: ``1`` and ``True`` reach the engine as different values).
    Only exclusions are kept (nothing else skips a run), at most ``LIMIT`` of them: past
    it (rules that exclude by a continuous fact), the screen starts over."""

    __slots__ = ("_known", "names")

    LIMIT = 4096  # exclusions remembered (past it, the screen forgets them and starts over)

    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = names
        self._known: set[tuple[object, ...]] = set()  # the keys of excluded options

    @classmethod
    def of(cls, post: Strata) -> Screen | None:
        tables = [t for _, ts in post for t in ts]
        deciding = [
            t for t in tables if any(a.fact == EXCLUDED_FACT for r in t.rules for a in r.sets)
        ]
        if not deciding:
            return None
        names = [EXCLUDED_FACT]
        for table in deciding:
            for rule in table.rules:
                names += rule.condition_facts
                names += [a.from_fact for a in rule.sets if a.from_fact]
        key = tuple(dict.fromkeys(names))
        set_after = {
            a.fact
            for table in tables
            for rule in table.rules
            for a in rule.sets
            if not (table in deciding and a.fact == EXCLUDED_FACT)
        }
        return None if set_after.intersection(key) else cls(key)

    def key(self, facts: Mapping[str, object]) -> tuple[object, ...]:
        values = tuple(map(facts.get, self.names))
        return (values, tuple(map(type, values)))

    def excluded(self, key: tuple[object, ...]) -> bool:
        return key in self._known

    def learn(self, key: tuple[object, ...], excluded: bool) -> None:
        if not excluded:
            return
        known = self._known
        if len(known) >= self.LIMIT:
            known.clear()  # one call: a thread reading meanwhile finds nothing, and runs
        known.add(key)  # one call: safe from any thread


_plans: weakref.WeakKeyDictionary[RuleSet, Plan] = weakref.WeakKeyDictionary()
_plans_lock = threading.Lock()


def plan_of(rules: RuleSet) -> Plan:
    """The rule set's ``Plan`` (built once per RuleSet, for its rule objects)."""
    plan = _plans.get(rules)
    if plan is None:
        plan = Plan(rules)
        with _plans_lock:
            plan = _plans.setdefault(rules, plan)
    return plan


def messages(pending: Sequence[Pending]) -> tuple[Message, ...]:
    """The notes or warnings of a run, written out."""
    return tuple([Message(render(text, values), rule_id) for rule_id, text, values in pending])


def trace_steps(pending: Sequence[Step]) -> tuple[TraceStep, ...]:
    """The trace of a run, written out: each rule with the values its condition read."""
    return tuple(
        [
            (
                rule.id,
                tuple(zip(rule.names, [seen[i] for i in rule.positions], strict=True)),
                sets,
                off,
            )
            for rule, seen, sets, off in pending
        ]
    )
