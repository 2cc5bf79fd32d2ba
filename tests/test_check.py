"""Tests of the static rule checker: planted defects with their exact findings, the shipped
rules (no errors, fast), and the laws the fact-space analysis must keep.

Planted defects copy the shipped rule files to a temporary folder and change one thing;
each expected finding is compared as a whole line. The folder is the working directory, so
files show as ``rules/<name>.toml``.
"""

from __future__ import annotations

import time
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import TESTS

from r1rules.check import default_rules
from r1rules.check._cover import uncovered
from r1rules.check._domain import OTHER_MODEL, Domains, satisfies
from r1rules.check._finding import Finding
from r1rules.check._run import check_paths, check_rules
from r1rules.check._space import Space, intersect, is_empty
from r1rules.cli._check_cmd import exit_code
from r1rules.ruleset._model import Rule
from r1rules.ruleset._model import Test as Cond
from r1rules.ruleset._reference import matches

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data" / "check"
EDITION_BASIC_WHEN = (
    "when = { size_class_b = { lte = 7 }, peak_qps = { lte = 10 }, latency_ms = { gte = 500 } }"
)


def plant(file: Path, old: str, new: str) -> None:
    """Replace the one occurrence of ``old`` in ``file`` by ``new``."""
    text = file.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} is not in {file.name} exactly once"
    file.write_text(text.replace(old, new), encoding="utf-8")


def rule_block(file: Path, rule_id: str) -> str:
    """The ``[[tables.rules]]`` block of one rule, up to the next rule or table."""
    text = file.read_text(encoding="utf-8")
    start = text.index(f'  [[tables.rules]]\n  id = "{rule_id}"\n')
    ends = [
        i
        for i in (text.find("  [[tables.rules]]", start + 1), text.find("[[tables]]", start))
        if i != -1
    ]
    return text[start : min(ends, default=len(text))]


def checked(paths: list[str], layered: bool) -> tuple[tuple[Finding, ...], int]:
    """The findings about the rule files and the exit code ``r1rules check`` gives."""
    findings = check_paths(paths, layered)
    return findings, exit_code(findings)


def lines(findings: tuple[Finding, ...], severity: str = "error") -> list[str]:
    return [str(f) for f in findings if f.severity == severity]


# --- planted defects in a copy of the shipped rules -----------------------------------------


def test_typo_in_a_condition_field_names_file_rule_and_suggestion(rules_copy: Path) -> None:
    plant(
        rules_copy / "10-edition.toml",
        EDITION_BASIC_WHEN,
        EDITION_BASIC_WHEN.replace("size_class_b ", "size_class_bb "),
    )
    findings, code = checked(["rules"], layered=False)
    assert code == 1
    assert [str(f) for f in findings] == [
        "error: rules/10-edition.toml: edition-basic: unknown-name: when.size_class_bb: "
        "unknown fact 'size_class_bb' (did you mean 'size_class_b'?)"
    ]


def test_removed_edition_rule_is_a_gap_with_an_example_workload(rules_copy: Path) -> None:
    file = rules_copy / "10-edition.toml"
    plant(file, rule_block(file, "edition-basic"), "")
    findings, code = checked(["rules"], layered=False)
    assert code == 1
    gaps = [str(f) for f in findings if f.kind == "gap"]
    assert gaps == [
        "error: rules/10-edition.toml: table 'edition': gap: no rule matches size_class_b <= 7, "
        "peak_qps <= 10, latency_ms >= 500 in complete table 'edition'; "
        "example: size_class_b=7, peak_qps=10, latency_ms=500"
    ]
    # With no rule setting edition = "basic", every rule that tests for it is dead too.
    dead = [f for f in findings if f.kind == "dead"]
    assert "cpu-basic" in {f.rule_ids[0] for f in dead}
    assert {f.message for f in dead} == {
        "no valid input satisfies its condition: edition == 'basic' is outside the domain "
        "(edition takes only the values rules set: professional, enterprise)"
    }


def test_duplicated_edition_rule_overlaps_naming_both_ids(rules_copy: Path) -> None:
    file = rules_copy / "10-edition.toml"
    block = rule_block(file, "edition-basic")
    copy = block.replace('id = "edition-basic"', 'id = "edition-basic-again"')
    file.write_text(file.read_text(encoding="utf-8") + "\n" + copy, encoding="utf-8")
    findings, code = checked(["rules"], layered=False)
    assert code == 1
    assert lines(findings) == [
        "error: rules/10-edition.toml: edition-basic, edition-basic-again: overlap: both match "
        "size_class_b <= 7, peak_qps <= 10, latency_ms >= 500 in unique table 'edition'; "
        "example: size_class_b=7, peak_qps=10, latency_ms=500"
    ]


def test_contradictory_bounds_make_a_dead_rule_and_the_gap_it_leaves(rules_copy: Path) -> None:
    plant(
        rules_copy / "20-decision-tree.toml",
        "size_class_b = { gt = 13, lt = 65 }",
        "size_class_b = { gt = 65, lt = 13 }",
    )
    findings, code = checked(["rules"], layered=False)
    assert code == 1
    assert lines(findings) == [
        "error: rules/20-decision-tree.toml: gpu-class-datacenter: dead: no valid input "
        "satisfies its condition: size_class_b > 65 and size_class_b < 13 contradict each other",
        "error: rules/20-decision-tree.toml: table 'gpu-class': gap: no rule matches "
        "13 < size_class_b < 65 in complete table 'gpu-class'; example: size_class_b=14",
    ]


# --- planted defects layered on the shipped rules (tests/data/check) -------------------------


def fixture_lines(name: str, monkeypatch: pytest.MonkeyPatch) -> tuple[list[str], int]:
    """Findings about one fixture layered on the shipped rules (the shipped rules' own
    findings are left out)."""
    monkeypatch.chdir(ROOT)
    findings, code = checked([f"tests/data/check/{name}"], layered=True)
    return [str(f) for f in findings if f.file == f"tests/data/check/{name}"], code


def test_first_table_rule_taken_by_earlier_rules_is_shadowed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    found, code = fixture_lines("shadowed.toml", monkeypatch)
    assert code == 1
    assert found == [
        "error: tests/data/check/shadowed.toml: table 'budget-size': gap: no rule matches "
        "budget_usd absent in complete table 'budget-size'; example: budget_usd=absent",
        "warning: tests/data/check/shadowed.toml: candidate-gpu-enterprise-h200: shadowed: "
        "never fires: every input it matches is taken first by 'candidate-gpu-pinned', "
        "'candidate-gpu-enterprise' in first table 'candidate-gpu'; "
        "example: edition=enterprise, stage=production",
    ]


def test_conflicting_values_within_a_collect_table_and_across_tables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    found, code = fixture_lines("conflicts.toml", monkeypatch)
    assert code == 1
    assert found == [
        "error: tests/data/check/conflicts.toml: tier-production, tier-slow: conflict: both "
        "fire when stage = production, latency_ms >= 1000 in collect table 'tier' and set "
        "'tier' to different values ('gold' and 'silver'); "
        "example: stage=production, latency_ms=1000",
        "warning: tests/data/check/conflicts.toml: tier-production, tier-budget: conflict: "
        "tables 'tier' and 'tier-by-budget' (stratum 1) both fire when stage = production, "
        "has_budget = true and set 'tier' to different values ('gold' and 'silver'); only "
        "table order decides: 'tier-budget' wins; example: stage=production, has_budget=true",
    ]


def test_a_layered_rule_replaced_by_a_later_stratum_is_a_conflict(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    found, code = fixture_lines("overridden.toml", monkeypatch)
    assert code == 0  # a warning: the shipped value wins, as the message says
    assert len(found) == 5 and all(
        ": conflict: table 'house-cpu' (stratum 1) and table 'cpu', which runs "
        "after it (stratum 3), both fire when " in line
        for line in found
    )
    enterprise = [line for line in found if ", cpu-enterprise:" in line]
    assert enterprise == [
        "warning: tests/data/check/overridden.toml: house-cpu-enterprise, cpu-enterprise: "
        "conflict: table 'house-cpu' (stratum 1) and table 'cpu', which runs after it "
        "(stratum 3), both fire when stage = production, size_class_b > 65, edition = "
        "enterprise, gpu_nvlink_domain <= 8 and set 'cpu' to different values ('our "
        "standard dual-socket server' and \"2 x AMD EPYC 9004 'Genoa' (64 cores each, PCIe "
        "5.0)\"); 'cpu-enterprise' replaces the value 'house-cpu-enterprise' set; example: "
        "stage=production, size_class_b=66, edition=enterprise, gpu_nvlink_domain=8"
    ]


def test_unsatisfiable_in_the_domain_and_unread_declared_fact(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    found, code = fixture_lines("dead.toml", monkeypatch)
    assert code == 1
    assert found == [
        "error: tests/data/check/dead.toml: lane-idle-note: dead: no valid input satisfies its "
        "condition: lane in ['idle'] is outside the domain (lane takes only the values rules "
        "set: fast, slow)",
        "error: tests/data/check/dead.toml: prompt-between-3-and-4: dead: no valid input "
        "satisfies its condition: prompt_tokens > 3.1 and prompt_tokens < 3.9 leave no value "
        "(prompt_tokens takes whole numbers in [1, 100000000])",
        "warning: tests/data/check/dead.toml: unread-fact: fact 'unused_flag' is declared but "
        "no rule sets or reads it",
    ]


# --- the shipped rules --------------------------------------------------------------------


def test_shipped_rules_have_no_errors() -> None:
    findings, code = checked([], layered=False)
    assert code == 0
    assert lines(findings) == []
    assert {f.kind for f in findings} <= {"unread-fact", "shadowed", "conflict"}


def test_shipped_rules_are_analysed_well_under_a_second() -> None:
    """The whole analysis of the shipped rules (loading excluded) takes < 1 s; it takes a
    few milliseconds, so this bound only fails on a change of complexity."""
    rules = default_rules()
    start = time.perf_counter()
    check_rules(rules)
    assert time.perf_counter() - start < 1.0


def test_check_rules_is_deterministic() -> None:
    rules = default_rules()
    assert check_rules(rules) == check_rules(rules)


# --- load problems as findings --------------------------------------------------------------


def test_missing_path_and_invalid_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.toml").write_text("[[tables]\n", encoding="utf-8")
    findings, code = checked(["missing.toml", "bad.toml"], layered=False)
    assert code == 2
    assert str(findings[0]) == "error: missing.toml: unreadable: no such rule file or folder"
    assert str(findings[1]).startswith("error: bad.toml: unreadable: invalid TOML: ")


# --- Finding ------------------------------------------------------------------------------


def test_finding_is_one_line_with_its_example() -> None:
    finding = Finding(
        "warning",
        "gap",
        "r.toml",
        (),
        "t",
        "m",
        {"a": 7.0, "b": True, "c": None, "d": 0.25, "e": "x"},
    )
    assert (
        str(finding) == "warning: r.toml: table 't': gap: m; example: a=7, b=true, "
        "c=absent, d=0.25, e=x"
    )
    assert finding.to_dict() == {
        "severity": "warning",
        "kind": "gap",
        "file": "r.toml",
        "rule_ids": [],
        "table_id": "t",
        "message": "m",
        "example": {"a": 7.0, "b": True, "c": None, "d": 0.25, "e": "x"},
        "key_path": "",
        "entry": "",
    }
    with pytest.raises(TypeError):
        finding.example["a"] = 1  # type: ignore[index]
    with pytest.raises(ValueError):
        Finding("fatal", "gap", "r.toml", (), "t", "m")


# --- the fact space -----------------------------------------------------------------------


def rule(rule_id: str, *tests: tuple[str, str, object]) -> Rule:
    """A bare rule with these (fact, op, value) tests, for analysing directly."""
    return Rule(
        rule_id,
        rule_id,
        "test",
        "test",
        "t",
        "t.toml",
        0,
        tuple(Cond(f, op, v) for f, op, v in tests),  # type: ignore[arg-type]
        (),
        (),
        (),
        (),
    )


def test_open_interval_example_is_exact_and_simple() -> None:
    """A gap (0.1, 0.2) has the exact midpoint 0.15 as its example, not a float artefact."""
    rules = [rule("low", ("latency_ms", "lte", 0.1)), rule("high", ("latency_ms", "gte", 0.2))]
    space = Space.of(rules, Domains(default_rules()))
    missing, truncated = uncovered(space.full, [space.box(r) for r in rules])
    assert not truncated
    assert [space.describe(m) for m in missing] == ["0.1 < latency_ms < 0.2"]
    assert space.example(missing[0]) == {"latency_ms": 0.15}


def test_decimal_bounds_meet_without_phantom_gaps() -> None:
    rules = [rule("a", ("peak_qps", "lt", 0.3)), rule("b", ("peak_qps", "gte", 0.3))]
    space = Space.of(rules, Domains(default_rules()))
    assert uncovered(space.full, [space.box(r) for r in rules]) == ([], False)


def test_whole_number_fact_has_no_gap_between_consecutive_integers() -> None:
    rules = [rule("a", ("prompt_tokens", "lte", 3)), rule("b", ("prompt_tokens", "gte", 4))]
    space = Space.of(rules, Domains(default_rules()))
    assert uncovered(space.full, [space.box(r) for r in rules]) == ([], False)


def test_domains_of_rule_set_facts_and_catalog_enums() -> None:
    domains = Domains(default_rules())
    assert domains["edition"].members == ("basic", "professional", "enterprise")
    assert not domains["edition"].absent
    assert domains["max_nodes_per_replica"].members == (Fraction(4), Fraction(1))
    assert domains["budget_usd"].absent and domains["budget_usd"].members is None
    assert domains["model"].members is not None and domains["model"].members[-1] == OTHER_MODEL
    assert domains["candidate_gpu"].members == tuple(default_rules().catalog.gpus)


def test_satisfies_treats_absent_as_false() -> None:
    assert not satisfies(Cond("budget_usd", "ne", 5.0), None)
    assert satisfies(Cond("budget_usd", "ne", 5.0), Fraction(4))
    assert satisfies(Cond("stage", "not_in", ("production",)), "development")


@settings(max_examples=150, deadline=None)
@given(st.lists(TESTS, min_size=1, max_size=4))
def test_reported_examples_agree_with_the_reference_evaluator(
    conditions: list[list[tuple[str, float]]],
) -> None:
    """Law: every gap example matches no rule, every overlap example matches both rules,
    and when the checker finds no gap, every probe value matches some rule (checked with
    the reference evaluator, ``_conditions.matches``)."""
    rules = [
        rule(f"r{i}", *[("latency_ms", op, v) for op, v in tests])
        for i, tests in enumerate(conditions)
    ]
    space = Space.of(rules, Domains(default_rules()))
    boxes = [space.box(r) for r in rules]
    missing, _ = uncovered(space.full, boxes)
    for region in missing:
        assert not any(matches(r, space.example(region)) for r in rules)
    for i, a in enumerate(boxes):
        for j in range(i + 1, len(boxes)):
            both = intersect(a, boxes[j])
            if not is_empty(both):
                example = space.example(both)
                assert matches(rules[i], example) and matches(rules[j], example)
    if not missing:
        for probe in (0, 0.05, 0.1, 0.2, 0.3, 5, 7, 8, 10, 10.25, 10.5, 50, 100, 200, 500, 1e9):
            assert any(matches(r, {"latency_ms": probe}) for r in rules), probe


def describe(*tests: tuple[str, str, object], complement: bool = False) -> str:
    """How the checker words the condition of a rule with these tests (or its complement)."""
    subject = rule("a", *tests)
    space = Space.of([subject], Domains(default_rules()))
    box = space.box(subject)
    if complement:
        box = tuple(column.full - atoms for column, atoms in zip(space.columns, box, strict=True))
    return space.describe(box)


@pytest.mark.parametrize(
    ("tests", "complement", "expected"),
    [
        ((("precision", "in", ("fp8", "int4")),), False, "precision in {fp8, int4}"),
        ((("precision", "in", ("fp8", "int4")),), True, "precision not in {fp8, int4}"),
        ((("precision", "eq", "fp8"),), True, "precision != fp8"),
        ((("gpu_pinned", "eq", True),), True, "gpu_pinned = false"),
        ((("latency_ms", "ne", 100),), False, "(latency_ms < 100 or latency_ms > 100)"),
        ((("latency_ms", "gt", 100), ("latency_ms", "lte", 200)), False, "100 < latency_ms <= 200"),
        ((("latency_ms", "gte", 100), ("latency_ms", "lt", 200)), False, "100 <= latency_ms < 200"),
        ((("budget_usd", "gt", 5),), True, "(budget_usd <= 5 or budget_usd absent)"),
        ((("budget_usd", "gte", 0),), False, "budget_usd has a value"),
        ((("max_nodes_per_replica", "eq", 4),), True, "max_nodes_per_replica = 1"),
    ],
)
def test_conditions_are_worded_as_rule_files_write_them(
    tests: tuple[tuple[str, str, object], ...], complement: bool, expected: str
) -> None:
    assert describe(*tests, complement=complement) == expected


def test_gap_regions_that_differ_in_one_column_are_merged() -> None:
    rules = [
        rule("a", ("peak_qps", "lte", 5), ("latency_ms", "lte", 5)),
        rule("b", ("peak_qps", "gt", 5), ("latency_ms", "lte", 5)),
    ]
    space = Space.of(rules, Domains(default_rules()))
    missing, truncated = uncovered(space.full, [space.box(r) for r in rules])
    assert [space.describe(m) for m in missing] == ["latency_ms > 5"]
    assert not truncated


def test_gap_search_stops_at_its_limit() -> None:
    rules = [rule(f"r{i}", ("latency_ms", "eq", i), ("peak_qps", "eq", i)) for i in range(1, 6)]
    space = Space.of(rules, Domains(default_rules()))
    boxes = [space.box(r) for r in rules]
    missing, truncated = uncovered(space.full, boxes, limit=2)
    assert truncated and len(missing) <= 2
    everything, truncated = uncovered(space.full, boxes)
    assert not truncated and len(everything) > 2


def test_assignments_differ_unless_same_literal_or_same_source() -> None:
    from r1rules.check._tables import differing
    from r1rules.ruleset._model import Assignment

    copy, other, literal = (
        Assignment("gpu", None, "deploy_gpu"),
        Assignment("gpu", None, "candidate_gpu"),
        Assignment("gpu", "a40"),
    )
    assert not differing(copy, copy)
    assert differing(copy, other)
    assert differing(copy, literal)
    assert not differing(literal, Assignment("gpu", "a40"))
    assert differing(literal, Assignment("gpu", "h200"))


def test_enum_tests_that_exclude_each_other_contradict() -> None:
    from r1rules.check._tables import check_table
    from r1rules.ruleset._model import Table

    subject = rule("odd", ("precision", "in", ("fp8",)), ("precision", "ne", "fp8"))
    table = Table("t", "t", "collect", False, "t.toml", (subject,), 1)
    assert [str(f) for f in check_table(table, Domains(default_rules()))] == [
        "error: t.toml: odd: dead: no valid input satisfies its condition: precision in "
        "['fp8'] and precision != 'fp8' contradict each other"
    ]


def test_copying_a_fact_that_may_be_unset_is_a_warning(tmp_path: Path) -> None:
    """A fact set only by a collect table may have no value when a later rule copies it."""
    from rulefiles import UNSET_COPY, write_rules

    from r1rules import load_rules

    rules = load_rules(write_rules(tmp_path, UNSET_COPY))
    file = str((tmp_path / "01-extra.toml").resolve())
    assert tuple(str(f) for f in rules.findings) == (
        f"warning: {file}: copy-source-1: unset-copy: set.copy copies 'source', which may have "
        "no value (no complete table sets it in every rule); a workload for which it is unset "
        "cannot be evaluated",
    )
