"""Tests of ``r1rules check``: exact text output, JSON, and exit codes (0, 1, 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from r1rules.check._finding import Finding
from r1rules.cli._check_cmd import summary
from r1rules.cli._main import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str], str]:
    code = main(["check", *argv])
    out, err = capsys.readouterr()
    return code, out.splitlines(), err


def test_typo_prints_the_finding_and_the_summary(
    rules_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = rules_copy / "10-edition.toml"
    text = file.read_text(encoding="utf-8")
    old = (
        "when = { size_class_b = { lte = 7 }, peak_qps = { lte = 10 }, latency_ms = { gte = 500 } }"
    )
    assert text.count(old) == 1
    file.write_text(
        text.replace(old, old.replace("size_class_b ", "size_class_bb ")), encoding="utf-8"
    )
    assert run(capsys, "rules") == (
        1,
        [
            "error: rules/10-edition.toml: edition-basic: unknown-name: when.size_class_bb: "
            "unknown fact 'size_class_bb' (did you mean 'size_class_b'?)",
            "1 error, 0 warnings",
        ],
        "",
    )


def test_shipped_rules_exit_0_and_end_with_the_summary(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys) == (0, ["no findings"], "")


def test_json_output_parses_and_counts(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--json")
    document = json.loads("\n".join(out))
    assert code == 0
    assert set(document) == {"findings", "errors", "warnings"}
    assert document["errors"] == 0
    assert document["warnings"] == len(document["findings"])
    for finding in document["findings"]:
        assert set(finding) == {
            "severity",
            "kind",
            "file",
            "rule_ids",
            "table_id",
            "message",
            "example",
            "key_path",
            "entry",
        }


def test_json_output_of_a_gap_carries_its_example(
    rules_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = rules_copy / "20-decision-tree.toml"
    text = file.read_text(encoding="utf-8")
    assert text.count("latency_ms = { gt = 200 }") == 1
    file.write_text(
        text.replace("latency_ms = { gt = 200 }", "latency_ms = { gt = 300 }"), encoding="utf-8"
    )
    code, out, _ = run(capsys, "rules", "--json")
    document = json.loads("\n".join(out))
    assert code == 1
    gaps = [f for f in document["findings"] if f["kind"] == "gap"]
    assert gaps == [
        {
            "severity": "error",
            "kind": "gap",
            "file": "rules/20-decision-tree.toml",
            "rule_ids": [],
            "table_id": "network-class",
            "message": "no rule matches 200 < latency_ms <= 300 in complete table 'network-class'",
            "example": {"latency_ms": 300},
            "key_path": "",
            "entry": "",
        }
    ]


def test_layered_check_reads_shipped_rules_under_the_file(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(Path(__file__).resolve().parents[1])
    code, out, _ = run(capsys, "--layered", "tests/data/check/conflicts.toml")
    assert code == 1
    assert out[-1].startswith("1 error, ")
    assert out[0].startswith(
        "error: tests/data/check/conflicts.toml: tier-production, tier-slow: conflict: "
    )


def test_missing_path_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert run(capsys, "nowhere") == (
        2,
        ["error: nowhere: unreadable: no such rule file or folder", "1 error, 0 warnings"],
        "",
    )


def test_invalid_toml_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.toml").write_text("id = \n", encoding="utf-8")
    code, out, _ = run(capsys, "bad.toml")
    assert code == 2
    assert out[0].startswith("error: bad.toml: unreadable: invalid TOML: ")


def test_folder_without_rule_files_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty").mkdir()
    assert run(capsys, "empty") == (
        2,
        ["error: empty: unreadable: no rule files (*.toml) found", "1 error, 0 warnings"],
        "",
    )


def test_summary_counts_and_plurals() -> None:
    def finding(severity: str) -> Finding:
        return Finding(severity, "gap", "f", (), "t", "m")

    assert summary(()) == "no findings"
    assert summary((finding("error"),)) == "1 error, 0 warnings"
    assert (
        summary((finding("error"), finding("error"), finding("warning"))) == "2 errors, 1 warning"
    )
