"""One evaluation's state: the facts, the fired rules and their messages, applied table by
table under each table's hit policy."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from r1rules._errors import EvaluationError
from r1rules._workload import Workload
from r1rules.catalog import Model
from r1rules.engine import CompiledRules, Session
from r1rules.physics import Cost, Sizing
from r1rules.recommend._derive import input_facts
from r1rules.recommend._message import Message, TraceStep
from r1rules.ruleset import Alternative, HitPolicy, Rule, RuleSet, Table, fill

__all__ = ["Run", "Strata"]

Strata = Sequence[tuple[int, Sequence[Table]]]


class Run:
    """The mutable state of one evaluation (or one option's branch of it); never outlives
    the call. ``fork`` copies it before sizing, so that every option is decided by the
    same rules from the same facts."""

    def __init__(self, workload: Workload, rules: RuleSet, model: Model) -> None:
        self.workload = workload
        self.rules = rules
        self.model = model
        self.facts: dict[str, object] = input_facts(workload, model)
        self.trace: list[TraceStep] = []
        self.notes: list[Message] = []
        self.warnings: list[Message] = []
        self.alternatives: list[Alternative] = []
        self.sizing: Sizing | None = None
        self.cost: Cost | None = None
        # False for a branch that only lists an option: its rules' texts are not written
        # (only which rules warned), which is most of a branch's cost.
        self.messages = True
        self.warned_by: list[str] = []
        self.error: EvaluationError | None = None  # the rules could not decide this branch

    def fork(self) -> Run:
        """A copy to decide one option from (shares nothing mutable with this run)."""
        other = Run.__new__(Run)
        other.workload, other.rules, other.model = self.workload, self.rules, self.model
        other.facts = dict(self.facts)
        other.trace = list(self.trace)
        other.notes = list(self.notes)
        other.warnings = list(self.warnings)
        other.alternatives = list(self.alternatives)
        other.sizing, other.cost = self.sizing, self.cost
        other.messages = self.messages
        other.warned_by = list(self.warned_by)
        other.error = self.error
        return other

    def run_strata(
        self, engine: CompiledRules, strata: Strata, session: Session | None = None
    ) -> None:
        """Run ``strata`` in a fresh engine session (or in ``session``, which the caller
        deletes), applying each one's firings."""
        if session is None:
            with engine.session() as fresh:
                self.run_strata(engine, strata, fresh)
            return
        for stratum, tables in strata:
            self.apply(tables, session.run_stratum(stratum, self.facts))

    def apply(self, tables: Sequence[Table], fired: Sequence[str]) -> None:
        """Apply one stratum's firings table by table, enforcing each hit policy."""
        by_table: dict[str, list[Rule]] = {}
        rules_by_id = self.rules.rules_by_id
        for rule_id in fired:
            rule = rules_by_id[rule_id]
            by_table.setdefault(rule.table_id, []).append(rule)
        for table in tables:
            matched = by_table.get(table.id)
            if matched:
                self.apply_table(table, matched)
            elif table.complete:
                raise EvaluationError(
                    f"{table.file}: table {table.id!r} is complete but no rule matched this "
                    f"workload (a gap in the rules); facts: {_facts_read(table, self.facts)}"
                )

    def apply_table(self, table: Table, matched: Sequence[Rule]) -> None:
        policy = table.hit_policy
        if policy == HitPolicy.UNIQUE and len(matched) > 1:
            raise EvaluationError(
                f"{table.file}: table {table.id!r} is unique but rules "
                f"{', '.join(repr(r.id) for r in matched)} all matched this workload"
            )
        assigned: dict[str, tuple[object, str]] = {}
        if policy == HitPolicy.FIRST:
            self._fire(matched[0], assigned, policy)
            for rule in matched[1:]:
                self.trace.append((rule.id, self._read(rule), (), True))
            return
        for rule in matched:
            self._fire(rule, assigned, policy)

    def _read(self, rule: Rule) -> tuple[tuple[str, object], ...]:
        facts = self.facts
        return tuple([(name, facts.get(name)) for name in rule.condition_facts])

    def _fire(self, rule: Rule, assigned: dict[str, tuple[object, str]], policy: str) -> None:
        """Apply one rule's consequences; ``assigned`` catches conflicting sets within a
        table whose policy lets several rules fire (any, collect)."""
        facts = self.facts
        values = tuple([(name, facts.get(name)) for name in rule.condition_facts])
        sets: tuple[tuple[str, object], ...] = ()
        if rule.sets:
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
                if policy in _SEVERAL:
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
            sets = tuple(done)
        self.trace.append((rule.id, values, sets, False))
        if not self.messages:
            if rule.warnings:
                self.warned_by.append(rule.id)
        else:
            if rule.notes:
                self.notes.extend(Message(fill(text, facts), rule.id) for text in rule.notes)
            if rule.warnings:
                self.warned_by.append(rule.id)
                self.warnings.extend(Message(fill(text, facts), rule.id) for text in rule.warnings)
        if rule.alternatives:
            self.alternatives.extend(rule.alternatives)


_SEVERAL = frozenset({HitPolicy.ANY, HitPolicy.COLLECT})


def _facts_read(table: Table, facts: Mapping[str, object]) -> str:
    names = dict.fromkeys(n for r in table.rules for n in r.condition_facts)
    return ", ".join(f"{n}={facts.get(n)!r}" for n in names)
