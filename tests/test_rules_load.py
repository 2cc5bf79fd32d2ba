"""Rule files: every problem reported at once, each naming file, rule id and key path."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
from rulefiles import ONLY_EDITION, write_rules

import r1rules
from r1rules import RuleError, load_rules


def lines(error: RuleError) -> tuple[str, ...]:
    """The error's problems as the lines its message lists."""
    return tuple(p.line for p in error.problems)


BAD_RULE = """
[[facts]]
name = "tier"
type = "enum"
values = ["a", "b"]
description = "a tier"

[[tables]]
id = "t1"
title = "bad table"
hit_policy = "uniqe"

  [[tables.rules]]
  id = "r-one"
  title = "typo field"
  source = "test"
  why = "test"
  when = { param_b = { lte = 13 }, peak_qps = { lessthan = 3 }, stage = "prod", gpu_pinned = 1 }
  set = { edition = "basic", peak_qps = 3, tier = "c" }

  [[tables.rules]]
  id = "r-one"
  title = "dup"
  source = "test"
  why = "test"
  set = { gpu_count = 0.5 }

  [[tables.rules]]
  id = "r-two"
  title = "text"
  source = "test"
  why = ""
  warn = "{weights_gbb} and {weights_gb:.1q}"
  setx = 1
"""


def test_every_problem_is_reported_together_with_file_rule_and_key(tmp_path: Path) -> None:
    folder = write_rules(tmp_path / "rules", BAD_RULE)
    with pytest.raises(RuleError) as caught:
        load_rules(folder)
    f = str((folder / "01-extra.toml").resolve())
    assert lines(caught.value) == (
        f"{f}: table 't1': hit_policy: 'uniqe' is not a hit policy (did you mean 'unique'?); "
        "allowed: unique, first, any, collect",
        f"{f}: rule 'r-one': when.param_b: unknown fact 'param_b' (did you mean 'params_b'?)",
        f"{f}: rule 'r-one': when.peak_qps.lessthan: unknown operator 'lessthan'; allowed: eq, "
        "ne, in, not_in, lt, lte, gt, gte",
        f"{f}: rule 'r-one': when.stage: 'prod' is not a value of 'stage' (did you mean "
        "'production'?); allowed: development, production",
        f"{f}: rule 'r-one': when.gpu_pinned: expected true or false, got 1",
        f"{f}: rule 'r-one': set.peak_qps: fact 'peak_qps' comes from the workload and cannot "
        "be set by a rule",
        f"{f}: rule 'r-one': set.tier: 'c' is not a value of 'tier'; allowed: a, b",
        f"{f}: rule 'r-one': set.gpu_count: 0.5 is outside the range of 'gpu_count': [1, inf]",
        f"{f}: rule 'r-one': id: duplicate rule id (first defined in {f})",
        f"{f}: rule 'r-two': setx: unknown key (did you mean 'set'?); allowed: id, title, "
        "source, why, when, set, note, warn, alternatives",
        f"{f}: rule 'r-two': why: must be a non-empty string, not ''",
        f"{f}: rule 'r-two': warn.{{weights_gbb}}: unknown fact 'weights_gbb' (did you mean "
        "'weights_gb'?)",
        f"{f}: rule 'r-two': warn.{{weights_gb}}: bad format '.1q' for number fact: Unknown "
        "format code 'q' for object of type 'float'",
    )
    assert str(caught.value).startswith("13 problems in the rule set:\n  ")


def test_malformed_toml_names_the_file_and_position(tmp_path: Path) -> None:
    bad = tmp_path / "broken.toml"
    bad.write_text("x = [1,\n", encoding="utf-8")
    with pytest.raises(RuleError) as caught:
        load_rules(bad)
    assert lines(caught.value) == (
        f"{bad.resolve()}: invalid TOML: Invalid value (at end of document)",
    )


def test_missing_path_and_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(RuleError) as caught:
        load_rules(tmp_path / "nothere.toml")
    assert lines(caught.value) == (f"{tmp_path / 'nothere.toml'}: no such rule file or folder",)
    with pytest.raises(RuleError) as caught:
        load_rules(tmp_path)
    assert lines(caught.value) == (f"{tmp_path}: no rule files (*.toml) found",)


def test_a_policy_must_set_every_recommendation_field(tmp_path: Path) -> None:
    folder = write_rules(tmp_path, ONLY_EDITION, minimal=False)
    with pytest.raises(RuleError) as caught:
        load_rules(folder)
    assert lines(caught.value)[0] == (
        "rule set: no rule sets 'gpu', which every recommendation needs"
    )
    assert lines(caught.value)[-2:] == (
        "rule set: no rule sets 'max_nodes_per_replica', which the sizing physics needs",
        "rule set: no rule sets 'max_nodes_per_ep_replica', which the sizing physics needs",
    )


def test_reading_a_fact_nobody_sets_and_circular_tables(tmp_path: Path) -> None:
    text = """
[[facts]]
name = "flag"
type = "bool"
description = "a flag"

[[facts]]
name = "other"
type = "bool"
description = "another"

[[tables]]
id = "loop-a"
title = "a"
hit_policy = "collect"
  [[tables.rules]]
  id = "a1"
  title = "a"
  source = "test"
  why = "test"
  when = { other = true }
  set = { flag = true }

[[tables]]
id = "loop-b"
title = "b"
hit_policy = "collect"
  [[tables.rules]]
  id = "b1"
  title = "b"
  source = "test"
  why = "test"
  when = { flag = true }
  set = { other = true }
"""
    folder = write_rules(tmp_path, text)
    with pytest.raises(RuleError) as caught:
        load_rules(folder)
    f = (folder / "01-extra.toml").resolve()
    assert (
        f"{f}: table 'loop-a': circular: it depends on a fact that it (through other tables)"
        " sets itself" in lines(caught.value)
    )


def test_layering_extends_and_replaces_tables(tmp_path: Path) -> None:
    extra = """
[[tables]]
id = "topology"
title = "more topology notes"
hit_policy = "collect"
extends = true
  [[tables.rules]]
  id = "cpu-never"
  title = "never"
  source = "test"
  why = "test"
  when = { edition = "basic", peak_qps = { gt = 1e8 } }
  note = "rare"
"""
    folder = write_rules(tmp_path, extra, minimal=False)
    rules = load_rules(folder, include_shipped=True)
    assert rules.rule("cpu-never").table_id == "topology"
    assert rules.findings == ()  # the checker ran and found nothing to warn about
    assert [r.id for r in rules.table("topology").rules][-1] == "cpu-never"
    clash = extra.replace("extends = true\n", "")
    folder2 = write_rules(tmp_path / "b", clash, minimal=False)
    with pytest.raises(RuleError, match=r"duplicate table id .*set extends = true or replace"):
        load_rules(folder2, include_shipped=True)


def test_shipped_rules_cite_sources_and_are_stratified() -> None:
    rules = r1rules.default_rules()
    assert rules is r1rules.default_rules()  # loaded once
    assert all(rule.source and rule.why for rule in rules.rules)
    position = {t.id: t.stratum for t in rules.tables}
    assert position["edition"] < position["candidate-gpu"] <= rules.sizing_stratum < position["gpu"]
    assert len(rules.version) == 64


def test_version_is_a_content_hash(tmp_path: Path) -> None:
    a = load_rules(write_rules(tmp_path / "a"))
    b = load_rules(write_rules(tmp_path / "b"))
    assert a.version == b.version
    changed = write_rules(tmp_path / "c")
    text = (
        (changed / "00-minimal.toml")
        .read_text(encoding="utf-8")
        .replace("memory_gb = 64", "memory_gb = 128")
    )
    (changed / "00-minimal.toml").write_text(text, encoding="utf-8")
    assert load_rules(changed).version != a.version


def test_rule_sets_pickle_as_their_files(tmp_path: Path) -> None:
    shipped = r1rules.default_rules()
    assert pickle.loads(pickle.dumps(shipped)) is shipped
    custom = load_rules(write_rules(tmp_path))
    again = pickle.loads(pickle.dumps(custom))
    assert again.version == custom.version
    (tmp_path / "00-minimal.toml").write_text(
        (tmp_path / "00-minimal.toml").read_text(encoding="utf-8").replace("64", "65"),
        encoding="utf-8",
    )
    with pytest.raises(RuleError, match="rule files changed since this rule set was pickled"):
        pickle.loads(pickle.dumps(custom))


def test_unknown_rule_id_lookup_suggests() -> None:
    with pytest.raises(
        KeyError,
        match="no rule 'edition-basik' in this rule set "
        r"\(did you mean 'edition-basic'\?\)",
    ):
        r1rules.default_rules().rule("edition-basik")


def test_copying_an_optional_fact_is_refused(tmp_path: Path) -> None:
    """budget_usd has no value when the workload gives none: copying it would fail later."""
    text = """
[[facts]]
name = "spend"
type = "number"
description = "copied budget"

[[tables]]
id = "copy"
title = "copy"
hit_policy = "collect"
  [[tables.rules]]
  id = "copy-budget"
  title = "copy"
  source = "test"
  why = "test"
  set = { spend = { fact = "budget_usd" } }
"""
    folder = write_rules(tmp_path, text)
    with pytest.raises(RuleError) as caught:
        load_rules(folder)
    assert lines(caught.value) == (
        f"{(folder / '01-extra.toml').resolve()}: rule 'copy-budget': set.spend.fact: fact "
        "'budget_usd' may have no value (it is optional), so it cannot be copied; test it in "
        "`when` and set a literal",
    )


CONTROL_TEXTS = r"""
[[facts]]
name = "tier"
type = "enum"
values = ["a\n"]
description = "a tier"

[[facts]]
name = "lane"
type = "bool"
description = "a lane\u0007"

[[tables]]
id = "t1"
title = "bell \u0007 title"
hit_policy = "collect"
  [[tables.rules]]
  id = "t1-a"
  title = "a"
  source = "test"
  why = "test"
  note = "noted"
"""


def test_control_characters_in_values_descriptions_and_titles_are_refused(
    tmp_path: Path,
) -> None:
    """An enum value ending in a newline ($ would let it through), a bell in a fact's
    description and in a table's title: each a problem naming file, place and key."""
    folder = write_rules(tmp_path, CONTROL_TEXTS)
    with pytest.raises(RuleError) as caught:
        load_rules(folder)
    file = str((folder / "01-extra.toml").resolve())
    found = {(p.file, p.entry, p.table_id, p.key_path): p.message for p in caught.value.problems}
    assert found == {
        (file, "fact 'tier'", "", "values"): "'a\\n': contains the control character U+000A; "
        "write plain text",
        (file, "fact 'lane'", "", "description"): "'a lane\\x07': contains the control "
        "character U+0007; write plain text",
        (file, "", "t1", "title"): "'bell \\x07 title': contains the control character "
        "U+0007; write plain text",
    }


@pytest.mark.parametrize("value", ["a\n", "b\r", "c\t", "d\x00", "e\u2028"])
def test_enum_values_with_a_control_character_are_refused(tmp_path: Path, value: str) -> None:
    text = CONTROL_TEXTS.split("[[facts]]")[1].replace('"a\\n"', json.dumps(value))
    with pytest.raises(RuleError) as caught:
        load_rules(write_rules(tmp_path, "[[facts]]" + text))
    (problem,) = caught.value.problems
    assert (problem.entry, problem.key_path) == ("fact 'tier'", "values")
    assert problem.message.startswith(repr(value))
