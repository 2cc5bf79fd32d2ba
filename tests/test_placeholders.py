"""Note and warning placeholders, and the characters a rule's words may hold: everything a
text could do wrong is refused when the rules load, never found at evaluation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rulefiles import write_rules

from r1rules import RuleError, Workload, evaluate, load_rules
from r1rules.check import check_paths
from r1rules.ruleset._placeholders import (
    MAX_FORMAT_NUMBER,
    control_problem,
    fill,
    format_problem,
    placeholders,
)

W = Workload(model="deepseek-r1-distill-qwen-7b", peak_qps=8, latency_ms=500, stage="development")


def rule_file(**fields: str) -> str:
    """A collect table of one rule; ``fields`` replace or add its keys (TOML strings)."""
    keys = {"id": "r", "title": "t", "source": "test", "why": "test", "note": "n"} | fields
    body = "\n".join(f"  {key} = {json.dumps(value)}" for key, value in keys.items())
    return (
        f'[[tables]]\nid = "t"\ntitle = "t"\nhit_policy = "collect"\n  [[tables.rules]]\n{body}\n'
    )


def refused(tmp_path: Path, text: str) -> str:
    """The one RuleError line loading ``text`` gives; ``r1rules check`` reports it too."""
    folder = write_rules(tmp_path, text)
    with pytest.raises(RuleError) as caught:
        load_rules(folder, check=False)
    assert len(caught.value.problems) == 1, caught.value
    found = check_paths([folder], False)
    assert [f.severity for f in found] == ["error"], found
    return str(caught.value).splitlines()[1].strip()


@pytest.mark.parametrize(
    ("note", "why"),
    [
        ("{0}", "placeholder {0}: only plain fact names are allowed"),
        ("{}", "placeholder {}: only plain fact names are allowed"),
        ("{peak_qps!r}", "placeholder {peak_qps!r}: conversions are not allowed"),
        ("{peak_qps[0]}", "placeholder {peak_qps[0]}: only plain fact names are allowed"),
        ("{peak_qps.real}", "placeholder {peak_qps.real}: only plain fact names are allowed"),
        ("a {peak_qps", "expected '}' before end of string (write {{ and }} for literal braces)"),
        ("a } b", "Single '}' encountered in format string"),
        ("{prompt_tokens:.2}", "bad format '.2' for number fact: Precision not allowed"),
        (
            "{params_b:,.999999999f}",
            "bad format ',.999999999f': precision 999999999 is more than 50",
        ),
        ("{params_b:>9e18}", "bad format '>9e18' for number fact: Invalid format specifier"),
        ("{params_b:>51}", "bad format '>51': width 51 is more than 50"),
        ("{params_b:{latency_ms}}", "bad format '{latency_ms}' for number fact"),
        ("{params_b:d}", "bad format 'd' for number fact: Unknown format code 'd'"),
        ("{stage:,}", "bad format ',' for enum fact: Cannot specify ','"),
        ("{candidate_feasible:s}", "bad format 's' for bool fact"),
        # 'c' formats a bool as the character U+0001 or U+0000 (found by the grammar fuzz)
        ("{gpu_pinned:c}", "bad format 'c' for bool fact: it writes True as '\\x01', a control"),
        ("{has_budget:>3c}", "bad format '>3c' for bool fact: it writes True as '  \\x01'"),
    ],
)
def test_a_bad_placeholder_is_refused_at_load_naming_file_rule_and_text(
    tmp_path: Path, note: str, why: str
) -> None:
    line = refused(tmp_path, rule_file(note=note))
    assert line.startswith(f"{tmp_path / '01-extra.toml'}: rule 'r': note"), line
    assert why in line, line
    assert repr(note) in line or "{" + note.split("{")[1].split(":")[0] in line, line


@pytest.mark.parametrize(
    "note",
    [
        "{weights_gb:,.0f} GB",
        "{peak_qps:g} QPS, {gpu_budget_share:.0%}",
        "{output_tokens:,} tokens",
        "{params_b:>50.50f}|{stage:^12}|{candidate_feasible}|{model!s:}".replace("!s:", ""),
        "{{literal}} braces",
        "{params_b:=+10,.3f} {params_b:z.1f} {params_b:_.2e}",
    ],
)
def test_good_placeholders_load_and_fill(tmp_path: Path, note: str) -> None:
    rules = load_rules(write_rules(tmp_path, rule_file(note=note)), check=False)
    assert len(evaluate(W, rules).notes) == 1


@pytest.mark.parametrize(
    ("fields", "key"),
    [
        ({"id": "r\n"}, "rules[0].id: must be lower-case letters"),
        ({"title": "a\nb"}, "rule 'r': title: 'a\\nb': contains the control character U+000A"),
        ({"title": "red\x1b[31m"}, "rule 'r': title: 'red\\x1b[31m': contains the control"),
        ({"source": "s\r"}, "rule 'r': source: 's\\r': contains the control character U+000D"),
        ({"why": "w\x00"}, "rule 'r': why: 'w\\x00': contains the control character U+0000"),
        ({"note": "n\x07"}, "rule 'r': note: 'n\\x07': contains the control character U+0007"),
        ({"warn": "a\u202eb"}, "rule 'r': warn: 'a\\u202eb': contains the control character"),
    ],
)
def test_control_characters_in_ids_titles_and_texts_are_refused_at_load(
    tmp_path: Path, fields: dict[str, str], key: str
) -> None:
    assert key in refused(tmp_path, rule_file(**fields))


def test_alternative_texts_are_checked_for_control_characters(tmp_path: Path) -> None:
    text = rule_file() + '  alternatives = [{ part = "gpu", text = "x\\u001b" }]\n'
    assert "alternatives[0].text: 'x\\x1b': contains the control character U+001B" in refused(
        tmp_path, text
    )


def test_a_table_id_with_a_trailing_newline_is_refused(tmp_path: Path) -> None:
    text = rule_file().replace('id = "t"', 'id = "t\\n"', 1)
    assert "id" in refused(tmp_path, text)


def test_multiline_texts_may_hold_newlines_and_tabs(tmp_path: Path) -> None:
    text = rule_file(why="line one\n\tline two", note="a\nb")
    rules = load_rules(write_rules(tmp_path, text), check=False)
    assert [m.text for m in evaluate(W, rules).notes] == ["a\nb"]


def test_format_problem_tries_every_kind_of_value_a_fact_takes() -> None:
    assert format_problem("number", ",.0f") == ""
    assert "integer" in format_problem("number", ".2")  # fine for 1.5, not for 7
    assert "float" in format_problem("number", "x")  # fine for 7, not for 1.5
    assert format_problem("enum", ">10") == ""
    assert format_problem("gpu-list", "") == ""
    assert format_problem("number", f".{MAX_FORMAT_NUMBER}f") == ""
    assert "more than 50" in format_problem("number", f".{MAX_FORMAT_NUMBER + 1}f")
    assert "of 5000 digits is more than 50" in format_problem("number", "9" * 5000)


def test_format_problem_refuses_a_spec_that_writes_a_control_character() -> None:
    """``{flag:c}`` passed (a bool formats as a number, and 'c' as that character) and
    wrote U+0000 into a note: a spec must write no control character for any sample, nor
    hold one as its fill (newlines and tabs, which texts may hold, are allowed)."""
    assert format_problem("bool", "c") == (
        "bad format 'c' for bool fact: it writes True as '\\x01', a control character"
    )
    assert "writes True as '     \\x01'" in format_problem("bool", "6c")
    assert format_problem("enum", "\x00>9") == (
        "bad format '\\x00>9': contains the control character U+0000; write plain text"
    )
    assert "U+202E" in format_problem("number", "\u202e^9")
    assert format_problem("number", "\n>3") == format_problem("bool", "\t<5") == ""
    assert format_problem("bool", "d") == format_problem("bool", "+x") == ""


def test_placeholders_and_fill() -> None:
    assert placeholders("{a} and {b:.1f} {{c}}") == (("a", ""), ("b", ".1f"))
    assert fill("{a} and {b:.1f} {{c}} {d}", {"a": "x", "b": 2}) == "x and 2.0 {c} n/a"
    assert control_problem("a\tb") != ""
    assert control_problem("a\tb", multiline=True) == ""


def test_a_text_with_a_control_character_and_stray_braces_is_one_problem(tmp_path: Path) -> None:
    assert "contains the control character U+0007" in refused(tmp_path, rule_file(note="\x07 }"))
