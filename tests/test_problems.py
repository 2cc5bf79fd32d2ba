"""Problems as data: load problems and checker findings are one record type, carrying file,
rule, table and key path; ``r1rules check`` decides its exit code from their ``kind`` and
``severity``, never from a message's words."""

from __future__ import annotations

import ast
import json
import pickle
from pathlib import Path
from typing import Any

import attrs
import pytest
from rulefiles import ONLY_EDITION, write_rules

import r1rules
from r1rules import CatalogError, RuleError, load_rules
from r1rules._errors import Problem, ProblemKind, safe_repr
from r1rules.check import check_paths
from r1rules.cli import _check_cmd, _exit
from r1rules.cli._check_cmd import exit_code
from r1rules.cli._main import main
from r1rules.ruleset._load import catalog_problems

SRC = Path(r1rules.__file__).resolve().parent

BAD = """
[[facts]]
name = "Tier"
type = "enum"
values = ["a"]
description = "a tier"

[[tables]]
id = "t1"
title = "bad table"
hit_policy = "uniqe"

  [[tables.rules]]
  id = "r-one"
  title = "typos"
  source = "test"
  why = "test"
  when = { param_b = { lte = 13 }, stage = "prod", gpu_pinned = 1 }
  set = { gpu_count = 0.5 }
"""


def place(p: Problem) -> tuple[str, str, tuple[str, ...], str, str, str]:
    return (p.kind, p.file, p.rule_ids, p.table_id, p.entry, p.key_path)


# --- load problems are records ---------------------------------------------------------------


def test_load_problems_carry_file_rule_table_and_key_path(tmp_path: Path) -> None:
    folder = write_rules(tmp_path, BAD)
    with pytest.raises(RuleError) as caught:
        load_rules(folder)
    file = str((folder / "01-extra.toml").resolve())
    problems = caught.value.problems
    assert all(isinstance(p, Problem) and p.severity == "error" for p in problems)
    assert [place(p) for p in problems] == [
        ("load", file, (), "", "facts[0]", "name"),
        ("unknown-name", file, (), "t1", "", "hit_policy"),
        ("unknown-name", file, ("r-one",), "t1", "", "when.param_b"),
        ("unknown-name", file, ("r-one",), "t1", "", "when.stage"),
        ("load", file, ("r-one",), "t1", "", "when.gpu_pinned"),
        ("load", file, ("r-one",), "t1", "", "set.gpu_count"),
    ]
    assert problems[2].rule_id == "r-one"
    # The message holds only the words; the place is in the fields, and in the line.
    assert problems[2].message == "unknown fact 'param_b' (did you mean 'params_b'?)"
    assert problems[2].line == f"{file}: rule 'r-one': when.param_b: {problems[2].message}"
    assert str(caught.value).splitlines()[1:] == [f"  {p.line}" for p in problems]


def test_rule_set_wide_problems_name_no_file(tmp_path: Path) -> None:
    with pytest.raises(RuleError) as caught:
        load_rules(write_rules(tmp_path, ONLY_EDITION, minimal=False))
    first = caught.value.problems[0]
    assert place(first) == ("load", "", (), "", "rule set", "")
    assert first.line == "rule set: no rule sets 'gpu', which every recommendation needs"


def test_unreadable_inputs_are_of_kind_unreadable(tmp_path: Path) -> None:
    (tmp_path / "bad.toml").write_text("x = [1,\n", encoding="utf-8")
    (tmp_path / "empty").mkdir()
    for path in (tmp_path / "bad.toml", tmp_path / "nothere", tmp_path / "empty"):
        with pytest.raises(RuleError) as caught:
            load_rules(path)
        assert [p.kind for p in caught.value.problems] == ["unreadable"]


def test_checker_errors_refusing_a_load_are_the_checkers_records(rules_copy: Path) -> None:
    file = rules_copy / "20-decision-tree.toml"
    text = file.read_text(encoding="utf-8")
    file.write_text(text.replace("latency_ms = { gt = 200 }", "latency_ms = { gt = 300 }"))
    with pytest.raises(RuleError) as caught:
        load_rules(rules_copy)
    (gap,) = caught.value.problems
    assert place(gap) == ("gap", str(file.resolve()), (), "network-class", "", "")
    assert gap.example == {"latency_ms": 300}


def test_a_catalog_error_inside_rule_loading_becomes_records(tmp_path: Path) -> None:
    listed = (
        Problem(kind="invalid", file="g.toml", entry="gpu 'z'", key_path="memory_gb", message="m"),
    )
    assert catalog_problems(CatalogError(problems=listed)) == listed
    unlisted = CatalogError("2 problems in the catalog:\n  a.toml: x: bad\n  b.toml: y: bad")
    assert [p.line for p in catalog_problems(unlisted)] == ["a.toml: x: bad", "b.toml: y: bad"]
    catalog = write_rules(tmp_path, "") / "catalog"
    catalog.mkdir()
    (catalog / "extra.toml").write_text("[gpus.z]\nname = 1\n", encoding="utf-8")
    with pytest.raises(RuleError) as caught:
        load_rules(tmp_path)
    assert caught.value.problems
    assert all(isinstance(p, Problem) for p in caught.value.problems)
    assert "extra.toml" in str(caught.value)


def test_rule_error_pickles_with_its_records() -> None:
    error = RuleError(
        [Problem(kind="gap", file="a.toml", table_id="t", message="m", example={"x": 1}), "b"]
    )
    back = pickle.loads(pickle.dumps(error))
    assert back.problems == error.problems and str(back) == str(error)
    assert back.problems[0].example == {"x": 1}
    assert back.problems[1] == Problem(message="b")


@pytest.mark.parametrize(
    "fields",
    [{"severity": "fatal"}, {"kind": "typo"}, {"message": ""}],
)
def test_a_problem_is_validated(fields: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        attrs.evolve(Problem(message="m"), **fields)


# --- exit codes come from kind and severity --------------------------------------------------


@pytest.mark.parametrize(
    "message",
    ["no such rule file or folder", "invalid TOML: x", "cannot read: denied", "all is well"],
)
def test_exit_code_reads_kind_and_severity_never_the_words(message: str) -> None:
    assert exit_code([Problem(kind="unreadable", message=message)]) == 2
    assert exit_code([Problem(kind="load", message=message)]) == 1
    assert exit_code([Problem(kind="unknown-name", message=message)]) == 1
    assert exit_code([Problem(severity="warning", kind="shadowed", message=message)]) == 0
    assert exit_code([]) == 0


def test_rewording_every_message_keeps_the_exit_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.toml").write_text("id = \n", encoding="utf-8")
    write_rules(tmp_path / "typo", BAD)
    for paths, code in ((["bad.toml"], 2), (["nowhere"], 2), (["typo"], 1), ([], 0)):
        findings = check_paths(paths, layered=False)
        assert exit_code(findings) == code
        reworded = [attrs.evolve(f, message=f"reworded {i}") for i, f in enumerate(findings)]
        assert exit_code(reworded) == code


def test_the_command_exit_code_follows_the_records(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def returning(*found: Problem) -> None:
        monkeypatch.setattr(_check_cmd, "check_paths", lambda paths, layered: found)

    returning(Problem(kind="unreadable", file="x.toml", message="something new"))
    assert main(["check"]) == 2
    returning(Problem(kind="load", file="x.toml", message="invalid TOML, says the text"))
    assert main(["check"]) == 1
    returning(Problem(severity="warning", kind="unread-fact", message="cannot read"))
    assert main(["check"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-2:] == ["warning: unread-fact: cannot read", "0 errors, 1 warning"]


def test_json_emits_every_field_of_a_load_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    write_rules(tmp_path / "typo", BAD)
    assert main(["check", "typo", "--json"]) == 1
    document = json.loads(capsys.readouterr().out)
    assert document["errors"] == len(document["findings"]) == 6
    assert document["findings"][2] == {
        "severity": "error",
        "kind": "unknown-name",
        "file": "typo/01-extra.toml",
        "rule_ids": ["r-one"],
        "table_id": "t1",
        "message": "unknown fact 'param_b' (did you mean 'params_b'?)",
        "example": None,
        "key_path": "when.param_b",
        "entry": "",
    }


# --- one home for the exit codes -----------------------------------------------------------


def test_exit_codes_are_defined_once() -> None:
    """Only cli/_exit.py binds an EXIT_* name to a number; the others import it."""
    bound = []
    for path in sorted((SRC / "cli").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Assign):
                names = [n.id for t in node.targets for n in ast.walk(t) if isinstance(n, ast.Name)]
                if any(name.startswith("EXIT_") for name in names):
                    bound.append(path.name)
    assert sorted(set(bound)) == ["_exit.py"]


def test_exit_code_constants() -> None:
    assert (
        _exit.EXIT_OK,
        _exit.EXIT_ERRORS,
        _exit.EXIT_BAD_INPUT,
        _exit.EXIT_INTERNAL,
        _exit.EXIT_INTERRUPTED,
    ) == (0, 1, 2, 70, 130)
    assert ProblemKind.UNREADABLE == "unreadable"


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (10**5000, "an integer of 5001 digits"),
        (-(10**60), "an integer of 61 digits"),
        (10**60 - 1, "9" * 60),  # 60 characters: printed whole
        (10**59, "1" + "0" * 59),
        ("x" * 61, repr("x" * 57 + "...")),
        ([1] * 30, repr([1] * 30)[:57] + "..."),
        ([10**5000], "a list"),  # its repr cannot be written
        (1e308, "1e+308"),
    ],
    ids=lambda value: type(value).__name__,  # (pytest would print the huge integers)
)
def test_safe_repr_quotes_any_value_in_a_line(value: object, shown: str) -> None:
    assert safe_repr(value) == shown
