"""One evaluation's state: the facts, the fired rules and their messages, applied table by
table under each table's hit policy."""

from __future__ import annotations

import contextlib
import threading
import weakref
from collections.abc import Mapping, Sequence

from r1rules._errors import EvaluationError
from r1rules._workload import Workload
from r1rules.catalog import Model
from r1rules.engine import CompiledRules, Session
from r1rules.physics import Cost, Sizing
from r1rules.recommend._cache import Identity
from r1rules.recommend._derive import input_facts
from r1rules.recommend._message import Message, TraceStep
from r1rules.ruleset import Alternative, HitPolicy, Rule, RuleSet, Table
from r1rules.ruleset._placeholders import Text, compile_text, render

__all__ = [
    "EXCLUDED_FACT",
    "Pending",
    "Plan",
    "Run",
    "Screen",
    "Sessions",
    "Strata",
    "messages",
    "plan_of",
]

EXCLUDED_FACT = "option_excluded"  # a rule that sets it to true excludes the option

Strata = Sequence[tuple[int, Sequence[Table]]]
# A note or warning as its rule fired: the rule, its text, and the values of the facts its
# placeholders name at that moment; written out (``messages``) only for the answer's run.
Pending = tuple[str, Text, tuple[object, ...]]


class _Fired:
    """What firing one rule needs, worked out once per rule set: the facts its condition
    reads, its assignments (as pairs when none copies a fact), its texts parsed."""

    __slots__ = (
        "alternatives",
        "constant",
        "excludes",
        "id",
        "more",
        "names",
        "notes",
        "rule",
        "table_id",
        "texts",
        "warnings",
    )

    def __init__(self, rule: Rule) -> None:
        self.rule = rule
        self.id = rule.id
        self.table_id = rule.table_id
        self.names = rule.condition_facts
        self.excludes = any(a.fact == EXCLUDED_FACT for a in rule.sets)
        self.constant: tuple[tuple[str, object], ...] | None = (
            None
            if any(a.from_fact for a in rule.sets)
            else tuple((a.fact, a.value) for a in rule.sets)
        )
        self.notes = tuple(compile_text(text) for text in rule.notes)
        self.warnings = tuple(compile_text(text) for text in rule.warnings)
        self.texts = bool(self.notes or self.warnings)
        self.alternatives = rule.alternatives
        # anything to do beyond the trace and the sets (a warning is a text)
        self.more = bool(self.excludes or self.texts or self.alternatives)


class Plan:
    """A rule set worked out once for evaluations: each rule's ``_Fired`` by rule id, and
    its strata before sizing (``pre``) and after (``post``); its catalog's and price list's
    cache keys (the same key objects in every evaluation: a cache finds them by identity,
    without comparing keys in Python); its ``Screen`` (None when it has none)."""

    __slots__ = ("catalog", "fired", "post", "pre", "prices", "screen")

    def __init__(self, rules: RuleSet) -> None:
        self.catalog = Identity(rules.catalog)
        self.prices = Identity(rules.catalog.prices)
        self.fired = {rule_id: _Fired(rule) for rule_id, rule in rules.rules_by_id.items()}
        split = rules.sizing_stratum
        self.pre = tuple((s, t) for s, t in rules.by_stratum if s <= split)
        self.post = tuple((s, t) for s, t in rules.by_stratum if s > split)
        self.screen = Screen.of(self.post)


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


class Sessions:
    """The engine sessions of one evaluation: one, shared by its runs and forks (each
    asserting facts of its own), replaced after a run the rules could not decide (``drop``);
    every one is deleted on exit."""

    def __init__(self, engine: CompiledRules) -> None:
        self.engine = engine
        self._opened: list[Session] = []
        self._session: Session | None = None

    def __enter__(self) -> Sessions:
        return self

    def __exit__(self, *exc: object) -> None:
        self._session = None
        opened, self._opened = self._opened, []
        if len(opened) == 1:  # the usual case: no run failed
            opened[0].__exit__(None, None, None)
            return
        with contextlib.ExitStack() as stack:  # each one deleted, even if one fails
            for session in opened:
                stack.push(session)

    def current(self) -> Session:
        """The shared session (opened on first use)."""
        session = self._session
        if session is None:
            session = self._session = self.engine.session()
            self._opened.append(session)
        return session

    def drop(self) -> None:
        """The next run starts a fresh session, whatever the last one left in this one."""
        self._session = None


class Run:
    """The mutable state of one evaluation (or one option's branch of it); never outlives
    the call. ``fork`` copies it before sizing, so that every option is decided by the
    same rules from the same facts."""

    def __init__(
        self, workload: Workload, rules: RuleSet, model: Model, plan: Plan | None = None
    ) -> None:
        self.workload = workload
        self.rules = rules
        self.model = model
        self.plan = (plan_of(rules) if plan is None else plan).fired
        self.facts: dict[str, object] = input_facts(workload, model)
        self.trace: list[TraceStep] = []
        self.notes: list[Pending] = []
        self.warnings: list[Pending] = []
        self.alternatives: list[Alternative] = []
        self.sizing: Sizing | None = None
        self.cost: Cost | None = None
        # False for a branch that only lists an option: neither its trace nor its rules'
        # texts are kept (only which rules warned and which excluded it).
        self.messages = True
        self.warned_by: list[str] = []
        # the rules that set ``EXCLUDED_FACT`` to true (not suppressed), in firing order
        self.excluded_by: list[str] = []
        self.error: EvaluationError | None = None  # the rules could not decide this branch

    def fork(self) -> Run:
        """A copy to decide one option from (shares nothing mutable with this run)."""
        other = Run.__new__(Run)
        other.workload, other.rules, other.model = self.workload, self.rules, self.model
        other.plan = self.plan
        other.facts = self.facts.copy()
        other.trace = self.trace.copy()
        other.notes = self.notes.copy()
        other.warnings = self.warnings.copy()
        other.alternatives = self.alternatives.copy()
        other.sizing, other.cost = self.sizing, self.cost
        other.messages = self.messages
        other.warned_by = self.warned_by.copy()
        other.excluded_by = self.excluded_by.copy()
        other.error = self.error
        return other

    def run_strata(self, strata: Strata, session: Session) -> None:
        """Run ``strata`` in ``session`` (which the caller deletes), applying each one's
        firings."""
        for stratum, tables in strata:
            self.apply(tables, session.run_stratum(stratum, self.facts))

    def apply(self, tables: Sequence[Table], fired: Sequence[str]) -> None:
        """Apply one stratum's firings table by table, enforcing each hit policy: each
        fired rule's consequences (``assigned`` catches conflicting sets within a table
        whose policy lets several rules fire: any, collect)."""
        by_table: dict[str, list[_Fired]] = {}
        plan = self.plan
        for rule_id in fired:
            rule = plan[rule_id]
            matched = by_table.get(rule.table_id)
            if matched is None:
                by_table[rule.table_id] = [rule]
            else:
                matched.append(rule)
        facts = self.facts
        get = facts.get
        trace = self.trace
        texts = self.messages
        for table in tables:
            matched = by_table.get(table.id)
            if matched is None:
                if table.complete:
                    raise EvaluationError(
                        f"{table.file}: table {table.id!r} is complete but no rule matched "
                        f"this workload (a gap in the rules); facts: {_facts_read(table, facts)}"
                    )
                continue
            policy = table.hit_policy
            assigned: dict[str, tuple[object, str]] | None = None
            if len(matched) == 1:  # the usual case: one rule, nothing to conflict with
                firing = matched
            elif policy is HitPolicy.FIRST:
                firing = matched[:1]
            elif policy is HitPolicy.UNIQUE:
                raise EvaluationError(
                    f"{table.file}: table {table.id!r} is unique but rules "
                    f"{', '.join(repr(r.id) for r in matched)} all matched this workload"
                )
            else:  # any, collect: several may fire
                firing = matched
                assigned = {}
            for rule in firing:
                values = tuple([(name, get(name)) for name in rule.names]) if texts else ()
                sets = rule.constant
                if sets is None:  # a value copied from a fact
                    sets = self._set(rule.rule, assigned, policy)
                else:
                    if assigned is not None:
                        self._assigned(rule.rule, sets, assigned, policy)
                    facts.update(sets)
                if texts:
                    trace.append((rule.id, values, sets, False))
                if not rule.more:
                    continue
                if rule.excludes:
                    for name, value in sets:
                        if name == EXCLUDED_FACT and value is True:
                            self.excluded_by.append(rule.id)
                            break
                if rule.warnings:
                    self.warned_by.append(rule.id)
                if texts and rule.texts:
                    for text in rule.notes:
                        self.notes.append((rule.id, text, tuple([get(n) for n in text.names])))
                    for text in rule.warnings:
                        self.warnings.append((rule.id, text, tuple([get(n) for n in text.names])))
                if rule.alternatives:
                    self.alternatives.extend(rule.alternatives)
            if texts and len(firing) < len(matched):  # first: later matches are suppressed
                for other in matched[1:]:
                    names = other.names
                    trace.append((other.id, tuple([(name, get(name)) for name in names]), (), True))

    def _assigned(
        self,
        rule: Rule,
        sets: tuple[tuple[str, object], ...],
        assigned: dict[str, tuple[object, str]],
        policy: HitPolicy,
    ) -> None:
        """Record constant ``sets`` in ``assigned``: EvaluationError (``_set``'s) when an
        earlier rule of the table set one of the facts to another value."""
        for name, value in sets:
            earlier = assigned.get(name)
            if earlier is not None and earlier[0] != value:
                self._set(rule, assigned, policy)  # raises
            assigned[name] = (value, rule.id)

    def _set(
        self, rule: Rule, assigned: dict[str, tuple[object, str]] | None, policy: HitPolicy
    ) -> tuple[tuple[str, object], ...]:
        facts = self.facts
        done = []
        for assignment in rule.sets:
            name = assignment.fact
            if assignment.from_fact:
                if assignment.from_fact not in facts:
                    raise EvaluationError(
                        f"{rule.file}: rule {rule.id!r}: set.{name}: fact "
                        f"{assignment.from_fact!r} has no value for this workload"
                    )
                value = facts[assignment.from_fact]
            else:
                value = assignment.value
            if assigned is not None:
                earlier = assigned.get(name)
                if earlier is not None and earlier[0] != value:
                    raise EvaluationError(
                        f"{rule.file}: table {rule.table_id!r} ({policy}): rules "
                        f"{earlier[1]!r} and {rule.id!r} set {name!r} to different values "
                        f"({earlier[0]!r} and {value!r})"
                    )
                assigned[name] = (value, rule.id)
            facts[name] = value
            done.append((name, value))
        return tuple(done)


def _facts_read(table: Table, facts: Mapping[str, object]) -> str:
    names = dict.fromkeys(n for r in table.rules for n in r.condition_facts)
    return ", ".join(f"{n}={facts.get(n)!r}" for n in names)
