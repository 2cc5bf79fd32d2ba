"""One evaluation's state: the facts, the fired rules and their messages, applied table by
table under each table's hit policy."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence

from r1rules._errors import EvaluationError
from r1rules._workload import Workload
from r1rules.catalog import Model
from r1rules.engine import CompiledRules, Session
from r1rules.physics import Cost, Sizing
from r1rules.recommend._derive import input_facts
from r1rules.recommend._fired import excludes
from r1rules.recommend._plan import Fired, Pending, Plan, Step, Strata, plan_of
from r1rules.recommend._resolve import Resolution
from r1rules.ruleset import Alternative, HitPolicy, RuleSet, Table

__all__ = ["Run", "Sessions"]


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
        worked_out = plan_of(rules) if plan is None else plan
        self.plan = worked_out.fired
        self.resolutions = worked_out.resolutions
        self.facts: dict[str, object] = input_facts(workload, model)
        self.trace: list[Step] = []
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

    def fork(self, messages: bool = True) -> Run:
        """A copy to decide one option from (shares nothing mutable with this run);
        ``messages=False``: one that keeps neither trace nor texts, and starts without
        this run's."""
        other = Run.__new__(Run)
        other.workload, other.rules, other.model = self.workload, self.rules, self.model
        other.plan, other.resolutions = self.plan, self.resolutions
        other.facts = self.facts.copy()
        if messages:
            other.trace = self.trace.copy()
            other.notes = self.notes.copy()
            other.warnings = self.warnings.copy()
        else:
            other.trace, other.notes, other.warnings = [], [], []
        other.alternatives = self.alternatives.copy()
        other.sizing, other.cost = self.sizing, self.cost
        other.messages = self.messages and messages
        other.warned_by = self.warned_by.copy()
        other.excluded_by = self.excluded_by.copy()
        other.error = self.error
        return other

    def run_strata(self, strata: Strata, session: Session) -> None:
        """Run ``strata`` in ``session`` (which the caller deletes), applying each one's
        firings."""
        resolutions = self.resolutions
        for stratum, tables in strata:
            fired = session.run_stratum(stratum, self.facts)
            self.apply(resolutions.of(stratum, tables, fired), fired)

    def apply(self, resolution: Resolution, fired: Sequence[str]) -> None:
        """Apply one stratum's firings (``fired``, in any order, a rule named any number of
        times), as ``resolution`` resolved them under each table's hit policy: each fired
        rule's consequences, in the rule set's order (``assigned`` catches conflicting
        sets within a table whose policy lets several rules fire: any, collect)."""
        texts = self.messages
        facts = self.facts
        if (
            resolution.plain
            and not texts
            and (not resolution.sources or all(map(facts.__contains__, resolution.sources)))
        ):  # neither trace nor texts, and nothing to check: the assignments, in order
            for name, source, value in resolution.assignments:
                facts[name] = facts[source] if source else value
            if resolution.excluded:
                self.excluded_by += resolution.excluded
            if resolution.warned:
                self.warned_by += resolution.warned
            if resolution.alternatives:
                self.alternatives += resolution.alternatives
            return
        get = facts.get
        trace = self.trace
        # The values the engine matched: a rule reads only facts set in earlier strata (or
        # by its own table), so they are the facts as this stratum starts.
        seen: tuple[object, ...] = ()
        if texts and fired:
            seen = tuple(map(get, self.plan[fired[0]].read))
        for group in resolution.groups:
            if group.fault:
                table = group.table
                if group.fault == "gap":
                    raise EvaluationError(
                        f"{table.file}: table {table.id!r} is complete but no rule matched "
                        f"this workload (a gap in the rules); facts: {_facts_read(table, facts)}"
                    )
                raise EvaluationError(
                    f"{table.file}: table {table.id!r} is unique but rules "
                    f"{', '.join(repr(r.id) for r in group.matched)} all matched this workload"
                )
            policy = group.policy
            assigned: dict[str, tuple[object, str]] | None = {} if group.collect else None
            for rule in group.firing:
                sets = rule.constant
                if sets is None:  # a value copied from a fact
                    sets = self._set(rule, assigned, policy)
                else:
                    if assigned is not None:
                        self._assigned(rule, sets, assigned, policy)
                    facts.update(sets)
                if texts:
                    trace.append((rule, seen, sets, False))
                if not rule.more:
                    continue
                if rule.excludes and excludes(sets):
                    self.excluded_by.append(rule.id)
                if rule.warnings:
                    self.warned_by.append(rule.id)
                if texts and rule.texts:
                    for text in rule.notes:
                        self.notes.append((rule.id, text, tuple([get(n) for n in text.names])))
                    for text in rule.warnings:
                        self.warnings.append((rule.id, text, tuple([get(n) for n in text.names])))
                if rule.alternatives:
                    self.alternatives.extend(rule.alternatives)
            if texts:  # first: later matches are suppressed
                for other in group.suppressed:
                    trace.append((other, seen, (), True))

    def _assigned(
        self,
        fired: Fired,
        sets: tuple[tuple[str, object], ...],
        assigned: dict[str, tuple[object, str]],
        policy: HitPolicy,
    ) -> None:
        """Record constant ``sets`` in ``assigned``: EvaluationError (``_set``'s) when an
        earlier rule of the table set one of the facts to another value."""
        for name, value in sets:
            earlier = assigned.get(name)
            if earlier is not None and earlier[0] != value:
                self._set(fired, assigned, policy)  # raises
            assigned[name] = (value, fired.id)

    def _set(
        self, fired: Fired, assigned: dict[str, tuple[object, str]] | None, policy: HitPolicy
    ) -> tuple[tuple[str, object], ...]:
        facts = self.facts
        done = []
        for name, source, value in fired.assignments:
            if source:
                if source not in facts:
                    rule = fired.rule
                    raise EvaluationError(
                        f"{rule.file}: rule {rule.id!r}: set.{name}: fact "
                        f"{source!r} has no value for this workload"
                    )
                value = facts[source]
            if assigned is not None:
                earlier = assigned.get(name)
                if earlier is not None and earlier[0] != value:
                    rule = fired.rule
                    raise EvaluationError(
                        f"{rule.file}: table {rule.table_id!r} ({policy}): rules "
                        f"{earlier[1]!r} and {rule.id!r} set {name!r} to different values "
                        f"({earlier[0]!r} and {value!r})"
                    )
                assigned[name] = (value, fired.id)
            facts[name] = value
            done.append((name, value))
        return tuple(done)


def _facts_read(table: Table, facts: Mapping[str, object]) -> str:
    names = dict.fromkeys(n for r in table.rules for n in r.condition_facts)
    return ", ".join(f"{n}={facts.get(n)!r}" for n in names)
