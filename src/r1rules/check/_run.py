"""Static analysis of a rule set: gaps, overlaps, dead and shadowed rules, conflicts, unread
facts and copies of facts that may be unset.

``check_rules`` analyses a loaded RuleSet over its fact space (see ``_check_space``);
``check_paths`` loads rule files first and reports load problems (the same records) too. Every
finding names the file, the rules and the table, and gives a concrete example input where
one exists. Severity: an error is a defect the engine would trip on (a gap in a complete
table, an overlap in a unique one, a rule that can never fire, two rules setting a fact
apart); a warning is a likely mistake that evaluation survives (a shadowed rule, table
order deciding a value, a fact nobody reads).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import attrs

from r1rules._errors import Problem, ProblemKind, RuleError
from r1rules._vocabulary import (
    DECISION_INPUTS,
    OPTION_INPUTS,
    RECOMMENDATION_FIELDS,
    SIZING_INPUTS,
)
from r1rules.check._domain import Domains
from r1rules.check._finding import WARNING, Finding
from r1rules.check._pairs import bits, meeting
from r1rules.check._setting import differing, show_assignment
from r1rules.check._space import Space, intersect, is_empty
from r1rules.check._tables import check_table
from r1rules.engine import capacity_problems
from r1rules.ruleset import Rule, RuleSet, Table, read_rules

__all__ = ["Finding", "capacity_findings", "check_paths", "check_rules", "shown_path"]


def check_rules(rules: RuleSet) -> tuple[Finding, ...]:
    """Every finding about a validated rule set, table by table in evaluation order, then
    conflicts between tables and unread facts.

    Pure and deterministic. Cost: per table, building its space and boxes (near-linear in
    its rules and bounds), finding the pairs of rules that meet with a sweep over each
    column (``_pairs``: near-linear, plus the pairs found), and a gap search that grows with
    the regions the rules carve; 1,920 rules in one table take well under a second (see
    ``benchmarks/bench_check.py``), the shipped rules a few milliseconds.
    """
    domains = Domains(rules)
    findings: list[Finding] = []
    for table in rules.tables:
        findings += check_table(table, domains)
    findings += _cross_table_conflicts(rules, domains)
    findings += _unread_facts(rules)
    findings += _unset_copies(rules, domains)
    return tuple(findings)


def _unset_copies(rules: RuleSet, domains: Domains) -> Iterator[Finding]:
    """Rules that copy a fact which may have no value when they fire (forward-chaining
    hygiene): such an evaluation stops with an EvaluationError instead of deciding."""
    for rule in rules.rules:
        for assignment in rule.sets:
            source = assignment.from_fact
            if source and domains[source].absent:
                yield Finding(
                    WARNING,
                    "unset-copy",
                    rule.file,
                    (rule.id,),
                    rule.table_id,
                    f"set.{assignment.fact} copies {source!r}, which may have no "
                    "value (no complete table sets it in every rule); a workload "
                    "for which it is unset cannot be evaluated",
                )


def _cross_table_conflicts(rules: RuleSet, domains: Domains) -> Iterator[Finding]:
    """Two tables whose rules can fire together and set a fact apart: the later table's
    value wins, by table order alone within a stratum, and always when the later table
    runs in a later stratum (a layered rule that sets what a shipped table decides later,
    ``gpu`` or ``cpu``, is replaced)."""
    tables = sorted(rules.tables, key=lambda t: t.stratum)  # stable: file order within one
    for i, first in enumerate(tables):
        for second in tables[i + 1 :]:
            shared = set(first.set_facts) & set(second.set_facts)
            if shared:
                yield from _table_pair_conflicts(first, second, shared, domains)


def _table_pair_conflicts(
    first: Table, second: Table, shared: set[str], domains: Domains
) -> Iterator[Finding]:
    """The pairs are found in one space of both tables' setters (which pairs meet does not
    depend on where the space is cut); each finding is worded in the space of its own two
    rules, as if the pair were checked alone."""
    a_rules, b_rules = _setters(first, shared), _setters(second, shared)
    both_tables = Space.of((*a_rules, *b_rules), domains)
    boxes = [both_tables.box(rule) for rule in (*a_rules, *b_rules)]
    live = [k for k, box in enumerate(boxes) if not is_empty(box)]
    meets = dict(zip(live, meeting([boxes[k] for k in live], both_tables.full), strict=True))
    for k, a_rule in enumerate(a_rules):
        met = {live[j] - len(a_rules) for j in bits(meets.get(k, 0))}
        for b_rule in (b_rules[m] for m in sorted(met) if m >= 0):
            pairs = [
                (a, b)
                for a in a_rule.sets
                for b in b_rule.sets
                if a.fact == b.fact and a.fact in shared and differing(a, b)
            ]
            if not pairs:
                continue
            space = Space.of((a_rule, b_rule), domains)
            both = intersect(space.box(a_rule), space.box(b_rule))
            if is_empty(both):
                continue
            for a, b in pairs:
                if first.stratum == second.stratum:
                    tables = f"tables {first.id!r} and {second.id!r} (stratum {first.stratum})"
                    order = f"only table order decides: {b_rule.id!r} wins"
                else:
                    tables = (
                        f"table {first.id!r} (stratum {first.stratum}) and table "
                        f"{second.id!r}, which runs after it (stratum {second.stratum}),"
                    )
                    order = f"{b_rule.id!r} replaces the value {a_rule.id!r} set"
                yield Finding(
                    WARNING,
                    "conflict",
                    b_rule.file if first.stratum == second.stratum else a_rule.file,
                    (a_rule.id, b_rule.id),
                    second.id,
                    f"{tables} both fire when {space.describe(both)} and set {a.fact!r} to "
                    f"different values ({show_assignment(a)} and {show_assignment(b)}); "
                    f"{order}",
                    space.example(both),
                )


def _setters(table: Table, facts: set[str]) -> list[Rule]:
    return [rule for rule in table.rules if set(rule.set_facts) & facts]


def _unread_facts(rules: RuleSet) -> Iterator[Finding]:
    """Facts a rule file declares or a rule sets that nothing reads (forward-chaining
    hygiene); recommendation fields and sizing inputs are read by the pipeline itself."""
    read = {name for rule in rules.rules for name in rule.reads}
    read.update(RECOMMENDATION_FIELDS, SIZING_INPUTS, DECISION_INPUTS, OPTION_INPUTS)
    setters: dict[str, list[Rule]] = {}
    for rule in rules.rules:
        for name in rule.set_facts:
            setters.setdefault(name, []).append(rule)
    for name, rules_setting in setters.items():
        if name not in read:
            first = rules_setting[0]
            yield Finding(
                WARNING,
                "unread-fact",
                first.file,
                tuple(dict.fromkeys(r.id for r in rules_setting)),
                first.table_id,
                f"sets {name!r}, which no rule reads and which is neither a "
                "recommendation field nor a sizing input",
            )
    for spec in rules.facts.values():
        if spec.declared_in and spec.name not in read and spec.name not in setters:
            yield Finding(
                WARNING,
                "unread-fact",
                spec.declared_in,
                (),
                "",
                f"fact {spec.name!r} is declared but no rule sets or reads it",
            )


def capacity_findings(rules: RuleSet) -> tuple[Problem, ...]:
    """Why the engine could not hold this rule set, as records (none when it can)."""
    return tuple(
        Problem(kind=ProblemKind.TOO_LARGE, message=message) for message in capacity_problems(rules)
    )


def check_paths(paths: Sequence[str | os.PathLike[str]], layered: bool) -> tuple[Finding, ...]:
    """Load the rule files (the shipped rules for no paths; under them when ``layered``) and
    check them. Returns the findings: the load's problems when the files do not load (kind
    ``unreadable`` when a file or folder cannot be read at all), else the checker's. Files
    inside the current directory are shown relative to it.
    """
    try:
        rules = _load_unchecked(paths, layered)
    except RuleError as exc:
        found = exc.problems
    else:
        found = check_rules(rules)
    return tuple(attrs.evolve(f, file=shown_path(f.file)) for f in found)


def _load_unchecked(paths: Sequence[str | os.PathLike[str]], layered: bool) -> RuleSet:
    """Load without the loader's own run of this checker, so that its findings come back
    as findings, not inside a RuleError."""
    rules = read_rules(*paths, include_shipped=layered)
    too_large = capacity_findings(rules)
    if too_large:
        raise RuleError(too_large)
    return rules


def shown_path(file: str) -> str:
    """A path inside the current directory relative to it; any other text as it is."""
    path = Path(file)
    if not path.is_absolute():
        return file
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return file
