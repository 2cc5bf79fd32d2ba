"""The r1rules command: readable table, --json, options, exit codes, no tracebacks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import tomli

import r1rules
from r1rules.cli._main import main

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_evaluate_prints_each_field_with_its_justification(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run(
        capsys, "evaluate", str(EXAMPLES / "basic.toml"), "--objective", "article", "--verbose"
    )
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].startswith("r1rules recommendation: ") and "RTX 4090" in lines[0]
    assert lines[2].split() == ["edition", "basic"]  # in the answer block
    details = lines.index("details")
    field = next(i for i, line in enumerate(lines) if i > details and line.startswith("edition "))
    assert lines[field].split() == ["edition", "basic"]
    assert lines[field + 1].strip() == "<- edition-basic [seed §1.1]"
    assert any(line.startswith("gpu        NVIDIA GeForce RTX 4090") for line in lines)
    assert "fired rules, in order:" in lines


def test_json_output_is_to_dict(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "evaluate", str(EXAMPLES / "enterprise.toml"), "--json")
    data = json.loads(out)
    rec = r1rules.evaluate(
        r1rules.Workload(**tomli.loads((EXAMPLES / "enterprise.toml").read_text()))
    )
    assert code == 0 and data == json.loads(json.dumps(rec.to_dict()))
    assert data["edition"] == "enterprise" and data["objective"] == "cost"
    assert data["chosen"]["chosen"] and data["article"]["gpu"] == "h100-sxm"


def test_sensitivity_prints_each_boundary_with_its_rule(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "evaluate", str(EXAMPLES / "r1-full.toml"), "--sensitivity")
    assert (code, err) == (0, "")
    block = out[out.index("what would change the answer") :].splitlines()[1:]
    inputs = {line.split()[0] for line in block}
    assert inputs == {
        "peak_qps",
        "latency_ms",
        "prompt_tokens",
        "output_tokens",
        "budget_usd",
        "request_overhead_ms",  # unstated: from the engine profile's figure
    }
    rules = r1rules.default_rules().rules_by_id
    changed = [line for line in block if " -> " in line]
    assert changed and all(line.rsplit("[", 1)[1].split(",")[0] in rules for line in changed)
    code, out, _ = run(
        capsys, "evaluate", str(EXAMPLES / "r1-full.toml"), "--sensitivity", "--json"
    )
    found = json.loads(out)["boundaries"]
    assert code == 0 and len(found) == 12 and all(b["rule_id"] or b["value"] is None for b in found)


def test_fields_as_options_override_the_file(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "evaluate", str(EXAMPLES / "basic.toml"), "--peak-qps", "500", "--json"
    )
    assert code == 0 and json.loads(out)["edition"] == "enterprise"
    code, out, _ = run(
        capsys, "evaluate", "--params-b", "13", "--peak-qps", "2", "--latency-ms", "300", "--json"
    )
    assert code == 0 and json.loads(out)["edition"] == "professional"


def test_why_not(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "evaluate", str(EXAMPLES / "professional.toml"), "--why-not", "edition-basic"
    )
    assert code == 0
    assert (
        "edition-basic did not fire (seed §1.1):\n"
        "  needs size_class_b <= 7, but size_class_b is 33, 26 above the bound\n"
        "  needs peak_qps <= 10, but peak_qps is 28, 18 above the bound\n"
        "  needs latency_ms >= 500, but latency_ms is 200, 300 below the bound"
    ) in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["evaluate", "--peak-qps", "-1", "--latency-ms", "5", "--params-b", "7"],
            "r1rules: error: peak_qps: must be greater than 0; got -1.0\n",
        ),
        (
            ["evaluate", "--peak-qps", "abc", "--latency-ms", "5", "--params-b", "7"],
            "r1rules: error: peak_qps: expected a number; got 'abc'\n",
        ),
        (
            ["evaluate", "--latency-ms", "5", "--params-b", "7"],
            "r1rules: error: peak_qps: required (peak requests per second), or give "
            "concurrent_requests (requests in flight at peak), or gpu_count with gpu for a "
            "fleet you have\n",
        ),
        (
            ["evaluate", "/nonexistent/w.toml"],
            "r1rules: error: cannot read workload file /nonexistent/w.toml: No such file or directory\n",  # noqa: E501
        ),
        (
            [
                "evaluate",
                "--params-b",
                "7",
                "--peak-qps",
                "1",
                "--latency-ms",
                "5",
                "--rules",
                "/nonexistent",
            ],
            "r1rules: error: 1 problem in the rule set:\n  /nonexistent: no such rule file or folder\n",  # noqa: E501
        ),
        (
            [
                "evaluate",
                "--params-b",
                "7",
                "--peak-qps",
                "1",
                "--latency-ms",
                "5",
                "--why-not",
                "edition-basik",
            ],
            "r1rules: error: no rule 'edition-basik' in this rule set (did you mean "
            "'edition-basic'?)\n",
        ),
    ],
)
def test_bad_input_exits_2_with_the_message(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, out, err = run(capsys, *argv)
    assert (code, out, err) == (2, "", message)


def test_unknown_workload_key_and_bad_toml(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad_key = tmp_path / "w.toml"
    bad_key.write_text("peak_qsp = 3\n", encoding="utf-8")
    code, _, err = run(capsys, "evaluate", str(bad_key))
    assert code == 2
    assert err.startswith(
        f"r1rules: error: {bad_key}: unknown workload key 'peak_qsp' "
        "(did you mean 'peak_qps'?); allowed: peak_qps, latency_ms, model,"
    )
    bad_key.write_text("peak_qps = [\n", encoding="utf-8")
    code, _, err = run(capsys, "evaluate", str(bad_key))
    assert code == 2 and err.startswith(f"r1rules: error: {bad_key}: invalid TOML: ")


def test_usage_errors_exit_2_without_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "evaluat")
    assert code == 2 and "Traceback" not in err and "invalid choice: 'evaluat'" in err


def test_sweep_of_the_shipped_example(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out_file = tmp_path / "plan.csv"
    code, _, err = run(
        capsys, "sweep", str(EXAMPLES / "sweep.toml"), "-o", str(out_file), "--workers", "1"
    )
    assert code == 0 and err.startswith(f"r1rules: sweep wrote 432 rows to {out_file} ")
    rows = out_file.read_text(encoding="utf-8").splitlines()
    assert len(rows) == 433 and "edition" in rows[0].split(",")
