"""r1rules sweep: grids, rows, formats, and output that is never half-written."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

import r1rules
from r1rules import R1RulesError, Workload, WorkloadError, evaluate
from r1rules.cli import _sweep_cmd as _sweep_cli
from r1rules.cli._sweep import FIELDS, RESULT_COLUMNS, Grid, load_grid, parse_option, row_key
from r1rules.cli._sweep_cmd import add_sweep_parser, run_sweep

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "sweep.toml"
SMALL = """
[workload]
latency_ms = 1000
[grid]
model = ["deepseek-r1-distill-qwen-7b", "deepseek-r1-distill-llama-70b"]
gpu = ["none", "h100"]
peak_qps = [1, 20]
prompt_tokens = [1024, 130000]
"""


def sweep(*argv: str) -> int:
    """Run ``r1rules sweep ARGV`` through the sub-command's own parser."""
    parser = argparse.ArgumentParser(prog="r1rules")
    add_sweep_parser(parser.add_subparsers(dest="command", required=True))
    return run_sweep(parser.parse_args(["sweep", *argv]))


@pytest.fixture()
def small(tmp_path: Path) -> Path:
    path = tmp_path / "grid.toml"
    path.write_text(SMALL, encoding="utf-8")
    return path


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def leftovers(folder: Path, keep: Sequence[str]) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name not in keep)


# -- grids ---------------------------------------------------------------------------------


def test_the_example_grid() -> None:
    grid = load_grid(EXAMPLE)
    assert grid.size == 3 * 3 * 4 * 3 * 2 * 2
    assert grid.columns == (
        "model",
        "precision",
        "gpu",
        "peak_qps",
        "latency_ms",
        "prompt_tokens",
        "output_tokens",
        "stage",
    )
    points = list(grid.points())
    assert len(points) == grid.size
    assert points[0] == {
        "stage": "production",
        "output_tokens": 4096,
        "model": "deepseek-r1",
        "precision": "fp8",
        "gpu": None,
        "peak_qps": 1,
        "latency_ms": 500,
        "prompt_tokens": 1024,
    }
    assert points[1]["prompt_tokens"] == 131072  # the last axis varies fastest
    # every field but a fleet's gpu_count (a sweep sizes purchases)
    assert set(FIELDS) == {a for a in Workload.__annotations__} - {"gpu_count"}


def test_the_example_sweep_runs(tmp_path: Path) -> None:
    """examples/sweep.toml: 432 rows; the 128k-window distills refuse the 131,072-token
    prompts (144 error rows), R1's 160k window takes them."""
    out = tmp_path / "plan.csv"
    assert sweep(str(EXAMPLE), "-o", str(out)) == 0
    rows = read_csv(out)
    errors = [r for r in rows if r["error"]]
    assert len(rows) == 432 and len(errors) == 144
    assert {(r["model"], r["prompt_tokens"]) for r in errors} == {
        ("deepseek-r1-distill-llama-70b", "131072"),
        ("deepseek-r1-distill-qwen-7b", "131072"),
    }


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "[grid]\nmodle = ['deepseek-r1']",
            "grid.modle: unknown workload field 'modle' (did you mean 'model'?)",
        ),
        (
            "[workloads]\nmodel = 'x'",
            "unknown section 'workloads' (did you mean 'workload'?); allowed: workload, grid",
        ),
        (
            "[workload]\nmodel = 'deepseek-r1'\n[grid]\nmodel = ['deepseek-r1']",
            "grid.model: also given in [workload]; give it in one place",
        ),
        ("[grid]\npeak_qps = []", "grid.peak_qps: needs at least one value"),
        (
            "[grid]\npeak_qps = [[1, 2]]",
            "grid.peak_qps[0]: expected a string or a number, not list",
        ),
        (
            "[workload]\npeak_qps = { a = 1 }",
            "workload.peak_qps: expected a string or a number, not dict",
        ),
        ("grid = 3", "[grid] must be a table"),
        ("[grid\n", "invalid TOML: "),
    ],
)
def test_grid_file_errors_name_the_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "g.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(WorkloadError) as caught:
        load_grid(path)
    assert str(caught.value).startswith(f"{path}: {message}")


def test_options_parse_as_the_field_s_type() -> None:
    assert parse_option("peak_qps", "1, 2.5,none") == [1.0, 2.5, None]
    assert parse_option("prompt_tokens", "1024,4096") == [1024, 4096]
    assert parse_option("gpu", "h100,none,") == ["h100", None, None]
    with pytest.raises(
        WorkloadError,
        match=r"^--prompt-tokens: expected a whole number of "
        r"tokens; got '1e3'$",
    ):
        parse_option("prompt_tokens", "1e3")
    with pytest.raises(WorkloadError, match=r"^--peak-qps: expected a number; got 'fast'$"):
        parse_option("peak_qps", "fast")
    grid = Grid().with_values("peak_qps", [1.0]).with_values("model", ["a", "b"])
    assert grid.fixed == {"peak_qps": 1.0} and grid.axes == (("model", ("a", "b")),)


def test_row_keys_agree_across_formats() -> None:
    columns = ("model", "gpu", "peak_qps")
    point = {"model": "deepseek-r1", "gpu": None, "peak_qps": 10}
    from_csv = {"model": "deepseek-r1", "gpu": "", "peak_qps": "10.0"}
    from_json = {"model": "deepseek-r1", "gpu": None, "peak_qps": 10.0}
    assert row_key(point, columns) == row_key(from_csv, columns) == row_key(from_json, columns)


# -- running -------------------------------------------------------------------------------


def test_csv_rows_match_evaluate_and_invalid_points_are_error_rows(
    small: Path, tmp_path: Path
) -> None:
    out = tmp_path / "plan.csv"
    assert sweep(str(small), "-o", str(out), "--workers", "1") == 0
    rows = read_csv(out)
    assert list(rows[0]) == [
        "model",
        "gpu",
        "peak_qps",
        "latency_ms",
        "prompt_tokens",
        *RESULT_COLUMNS,
    ]
    assert len(rows) == 16
    errors = [r for r in rows if r["error"]]
    assert len(errors) == 8 and all(r["prompt_tokens"] == "130000" for r in errors)
    assert errors[0]["error"].startswith("WorkloadError: prompt_tokens + output_tokens")
    assert errors[0]["edition"] == ""
    first = rows[0]
    rec = evaluate(Workload(model="deepseek-r1-distill-qwen-7b", peak_qps=1, latency_ms=1000))
    assert (
        first["edition"],
        first["gpu_id"],
        int(first["gpu_count"]),
        int(first["nodes"]),
        float(first["tpot_ms"]),
        int(first["warnings"]),
    ) == (
        rec.edition,
        rec.gpu.id,
        rec.gpu.count,
        rec.nodes,
        rec.estimates.tpot_ms,
        len(rec.warnings),
    )
    assert first["ruleset_version"] == r1rules.default_rules().version[:16]
    assert leftovers(tmp_path, ["grid.toml", "plan.csv"]) == []


def test_rows_carry_the_cost_and_warning_columns_of_to_row(small: Path, tmp_path: Path) -> None:
    """The cost and warning columns are Recommendation.to_row()'s (one flat row)."""
    out = tmp_path / "plan.jsonl"
    assert sweep(str(small), "-o", str(out), "--workers", "1") == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    first = rows[0]
    flat = evaluate(
        Workload(model="deepseek-r1-distill-qwen-7b", peak_qps=1, latency_ms=1000),
        options=False,
    ).to_row()
    shared = (
        "edition",
        "gpu_count",
        "nodes",
        "ttft_ms",
        "tpot_ms",
        "capital_usd",
        "onprem_usd_per_hour",
        "usd_per_million_tokens",
        "meets_targets",
        "within_budget",
        "warning_rules",
    )
    assert {c: first[c] for c in shared} == {c: flat[c] for c in shared}
    assert isinstance(first["capital_usd"], float) and first["capital_usd"] > 0
    errors = [r for r in rows if r["error"]]
    assert errors and all(r["capital_usd"] is None and r["warning_rules"] is None for r in errors)


def test_json_lines_from_options_only(tmp_path: Path) -> None:
    out = tmp_path / "plan.jsonl"
    assert (
        sweep(
            "--model",
            "deepseek-r1,llama-70b",
            "--peak-qps",
            "1,10",
            "--latency-ms",
            "2000",
            "--gpu",
            "none,h200",
            "-o",
            str(out),
        )
        == 0
    )
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 8
    assert rows[0]["gpu"] is None and rows[2]["gpu"] == "h200"  # peak_qps varies fastest
    assert all(isinstance(r["gpu_count"], int) and r["error"] is None for r in rows)
    assert rows[0]["ttft_ms"] > 0


def test_an_option_replaces_the_file_s_values(small: Path, tmp_path: Path) -> None:
    out = tmp_path / "p.csv"
    assert sweep(str(small), "--peak-qps", "5", "--prompt-tokens", "512", "-o", str(out)) == 0
    rows = read_csv(out)
    assert len(rows) == 4 and {r["peak_qps"] for r in rows} == {"5.0"}


@pytest.mark.parametrize(
    "argv, message",
    [
        ([], "sweep: no workload fields"),
        (["--peak-qps", "x"], "--peak-qps: expected a number; got 'x'"),
        (["--peak-qps", "1", "--workers", "0"], "workers: expected None or a whole number"),
    ],
)
def test_bad_input_is_an_r1rules_error(tmp_path: Path, argv: list[str], message: str) -> None:
    with pytest.raises(R1RulesError) as caught:
        sweep(*argv, "-o", str(tmp_path / "o.csv"))
    assert str(caught.value).startswith(message)


def test_output_folder_must_exist(tmp_path: Path) -> None:
    with pytest.raises(WorkloadError, match=r"^--output: no such folder"):
        sweep(
            "--model",
            "deepseek-r1",
            "--peak-qps",
            "1",
            "--latency-ms",
            "500",
            "-o",
            str(tmp_path / "missing" / "o.csv"),
        )


def test_progress_line_on_a_terminal(
    small: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert sweep(str(small), "-o", str(tmp_path / "p.csv"), "--workers", "1") == 0
    err = capsys.readouterr().err
    assert "\rsweep: 16/16 rows (100%)" in err
    assert "sweep wrote 16 rows" in err and "8 with errors" in err


def test_two_processes_write_what_one_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from r1rules.recommend._batch import Batch

    pools: list[int] = []
    real = Batch._pool_for

    def counting(self: Batch[object], extra: int) -> object:
        pools.append(extra)
        return real(self, extra)

    monkeypatch.setattr(Batch, "_pool_for", counting)
    argv = [
        "--model",
        "deepseek-r1-distill-qwen-7b,deepseek-r1-distill-llama-70b,deepseek-r1",
        "--gpu",
        "none,h100,l40s,mi300x",
        "--latency-ms",
        "200,500,1000,3000,10000",
        "--peak-qps",
        ",".join(str(q) for q in (0.5, 1, 2, 5, 10, 20, 50, 100, 150, 300)),
        "--prompt-tokens",
        "1024,2048,160000",
    ]
    one, two = tmp_path / "one.csv", tmp_path / "two.csv"
    assert sweep(*argv, "-o", str(one), "--workers", "1") == 0
    assert sweep(*argv, "-o", str(two), "--workers", "2") == 0
    assert len(read_csv(one)) == 1800
    assert pools  # the second really used a worker process
    assert one.read_bytes() == two.read_bytes()


# -- interruption and resume ---------------------------------------------------------------


class Interrupt:
    """Patches Sweep._rows to raise KeyboardInterrupt on its n-th block; counts rows made."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, at_block: int | None) -> None:
        self.rows = 0
        self.blocks = 0
        real = _sweep_cli.Sweep._rows

        def rows(
            sweep: _sweep_cli.Sweep,
            block: list[dict[str, object]],
            *rest: object,
        ) -> list[dict[str, object]]:
            self.blocks += 1
            if self.blocks == at_block:
                raise KeyboardInterrupt
            made = real(sweep, block, *rest)  # type: ignore[arg-type]
            self.rows += len(made)
            return made

        monkeypatch.setattr(_sweep_cli.Sweep, "_rows", rows)
        monkeypatch.setattr(_sweep_cli, "BLOCK_PER_PROCESS", 5)


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_an_interrupted_sweep_resumes_to_the_same_output(
    small: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    reference = tmp_path / f"reference.{fmt}"
    assert sweep(str(small), "-o", str(reference), "--workers", "1") == 0
    out = tmp_path / f"plan.{fmt}"
    out.write_text("an older output\n", encoding="utf-8")
    Interrupt(monkeypatch, at_block=3)
    assert sweep(str(small), "-o", str(out), "--workers", "1") == 130
    assert out.read_text(encoding="utf-8") == "an older output\n"  # never half-written
    journal = tmp_path / f".plan.{fmt}.partial"
    assert len(journal.read_text(encoding="utf-8").splitlines()) == 10
    with journal.open("a", encoding="utf-8") as handle:  # a write cut short by the crash
        handle.write('{"model": "deepseek-r1-distill-qw')
    resumed = Interrupt(monkeypatch, at_block=None)
    assert sweep(str(small), "-o", str(out), "--workers", "1", "--resume") == 0
    assert resumed.rows == 6
    assert out.read_bytes() == reference.read_bytes()
    assert leftovers(tmp_path, ["grid.toml", f"reference.{fmt}", f"plan.{fmt}"]) == []


def test_resume_reuses_a_complete_output_for_a_grown_grid(
    small: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "plan.csv"
    assert sweep(str(small), "-o", str(out), "--workers", "1") == 0
    counted = Interrupt(monkeypatch, at_block=None)
    assert sweep(str(small), "--peak-qps", "1,20,40", "-o", str(out), "--resume") == 0
    assert counted.rows == 8  # only the new peak_qps = 40 points
    fresh = tmp_path / "fresh.csv"
    assert sweep(str(small), "--peak-qps", "1,20,40", "-o", str(fresh)) == 0
    assert out.read_bytes() == fresh.read_bytes()


def test_resume_does_not_reuse_rows_of_other_rules_or_columns(
    small: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "plan.csv"
    assert sweep(str(small), "-o", str(out), "--workers", "1") == 0
    text = out.read_text(encoding="utf-8")
    version = r1rules.default_rules().version[:16]
    out.write_text(text.replace(version, "0" * 16), encoding="utf-8")
    counted = Interrupt(monkeypatch, at_block=None)
    assert sweep(str(small), "-o", str(out), "--resume") == 0
    assert counted.rows == 16
    assert sweep(str(small), "--stage", "production", "-o", str(out), "--resume") == 0
    assert counted.rows == 32
    err = capsys.readouterr().err
    assert f"not reusing {out}: its columns differ from this sweep's" in err


def test_an_interruption_inside_a_block_keeps_every_row_finished_by_then(
    small: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C part-way through a block (one block of 16 rows): the 4 rows evaluated
    before it reach the journal, as the full run writes them, and ``--resume`` evaluates
    only the other 12."""
    from r1rules.recommend import _batch

    reference = tmp_path / "reference.csv"
    assert sweep(str(small), "-o", str(reference), "--workers", "1") == 0
    real = _batch._outcome
    calls = [0]

    def outcome(*args: object) -> object:
        calls[0] += 1
        if calls[0] == 5:
            raise KeyboardInterrupt
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(_batch, "_outcome", outcome)
    out = tmp_path / "plan.csv"
    assert sweep(str(small), "-o", str(out), "--workers", "1") == 130
    text = (tmp_path / ".plan.csv.partial").read_text(encoding="utf-8")
    journal = [json.loads(line) for line in text.splitlines()]
    with reference.open(encoding="utf-8", newline="") as handle:
        full = list(csv.DictReader(handle))
    assert [row["peak_qps"] for row in journal] == [float(r["peak_qps"]) for r in full[:4]]
    assert [row["gpu_count"] for row in journal] == [
        int(r["gpu_count"]) if r["gpu_count"] else None for r in full[:4]
    ]
    monkeypatch.setattr(_batch, "_outcome", real)
    counted = Interrupt(monkeypatch, at_block=None)
    assert sweep(str(small), "-o", str(out), "--workers", "1", "--resume") == 0
    assert counted.rows == 12
    assert out.read_bytes() == reference.read_bytes()
