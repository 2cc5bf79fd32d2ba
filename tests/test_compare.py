"""r1rules compare: every option weighed, ranked, as a table or JSON rows."""

from __future__ import annotations

import json
from pathlib import Path

import attrs
import pytest
import tomli

from r1rules import Workload, evaluate
from r1rules.cli._compare_cmd import COLUMNS
from r1rules.cli._main import main
from r1rules.recommend import OPTION_COLUMNS, option_row

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
PROFESSIONAL = EXAMPLES / "professional.toml"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def workload(path: Path) -> Workload:
    return Workload(**tomli.loads(path.read_text(encoding="utf-8")))


def table(out: str) -> list[dict[str, str]]:
    """The table's rows as dicts by header (a cell never holds a space)."""
    lines = out.splitlines()
    header = lines[1].split()
    assert header == [name for name, _, _ in COLUMNS]
    rows = [dict(zip(header, line.split(), strict=True)) for line in lines[2:]]
    return rows


def test_the_table_ranks_every_option_and_marks_the_answer_and_pareto_set(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run(capsys, "compare", str(PROFESSIONAL))
    assert (code, err) == (0, "")
    rec = evaluate(workload(PROFESSIONAL))
    rows = table(out)
    assert out.startswith(f"{len(rec.options)} options, ranked by cost")
    assert [int(r["rank"]) for r in rows] == list(range(1, len(rec.options) + 1))
    answers = [r for r in rows if r["answer"] == ">"]
    assert len(answers) == 1 and answers[0]["gpu"] == rec.gpu.id
    assert answers[0]["prec"] == rec.workload.precision
    assert int(answers[0]["GPUs"].replace(",", "")) == rec.gpu.count
    assert [r["pareto"] == "*" for r in rows] == [o.pareto for o in rec.options]
    assert any(o.pareto for o in rec.options)
    # the trade-offs are among the options that meet the targets (some do here)
    assert any(o.meets_targets for o in rec.options)
    assert all(o.meets_targets for o in rec.options if o.pareto)
    assert any(not o.meets_targets and o.fits and not o.excluded_by for o in rec.options)
    assert [(r["gpu"], r["prec"]) for r in rows] == [o.key for o in rec.options]
    assert [r["meets"] == "yes" for r in rows] == [o.meets_targets for o in rec.options]
    excluded = [r["excluded_by"] for r in rows]
    assert excluded == [",".join(o.excluded_by) or "-" for o in rec.options]
    assert any(e != "-" for e in excluded)


def test_json_rows_are_the_options_flat_rows(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "compare", str(PROFESSIONAL), "--json")
    assert (code, err) == (0, "")
    data = json.loads(out)
    rec = evaluate(workload(PROFESSIONAL))
    assert data == json.loads(json.dumps([option_row(o) for o in rec.options]))
    assert all(list(row) == [name for name, _, _ in OPTION_COLUMNS] for row in data)
    assert [row["gpu"] for row in data if row["chosen"]] == [rec.gpu.id]


def test_top_keeps_the_best_ranked(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "compare", str(PROFESSIONAL), "--top", "3")
    rows = table(out)
    assert code == 0 and [r["rank"] for r in rows] == ["1", "2", "3"]
    assert "the best 3 shown" in out.splitlines()[0]
    code, out, _ = run(capsys, "compare", str(PROFESSIONAL), "--top", "2", "--json")
    assert code == 0 and [row["rank"] for row in json.loads(out)] == [1, 2]
    code, _, err = run(capsys, "compare", str(PROFESSIONAL), "--top", "0")
    assert code == 2 and "--top: expected a whole number of at least 1" in err


def test_field_options_as_evaluate_has(capsys: pytest.CaptureFixture[str]) -> None:
    fields = tomli.loads(PROFESSIONAL.read_text(encoding="utf-8"))
    argv = [f"--{k.replace('_', '-')}={v}" for k, v in fields.items()]
    _, from_file, _ = run(capsys, "compare", str(PROFESSIONAL), "--json")
    code, from_options, _ = run(capsys, "compare", *argv, "--json")
    assert code == 0 and json.loads(from_options) == json.loads(from_file)
    code, out, _ = run(capsys, "compare", str(PROFESSIONAL), "--objective", "latency")
    assert code == 0 and "ranked by latency" in out.splitlines()[0]
    rec = evaluate(attrs.evolve(workload(PROFESSIONAL), objective="latency"))
    assert next(r for r in table(out) if r["answer"] == ">")["gpu"] == rec.gpu.id


def test_bad_input_is_exit_2_without_a_traceback(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("peak_qsp = 3\nlatency_ms = 100\nparams_b = 7\n", encoding="utf-8")
    code, out, err = run(capsys, "compare", str(bad))
    assert (code, out) == (2, "")
    assert err.startswith(f"r1rules: error: {bad}: unknown workload key 'peak_qsp'")
    code, _, err = run(capsys, "compare", "--params-b", "7", "--latency-ms", "100")
    assert code == 2 and "peak_qps: required" in err
