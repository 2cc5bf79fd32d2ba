"""The command when its output cannot be written, its journal is damaged, a sweep's grid
holds a non-finite number, or its options make no sense: one line, the documented code."""

from __future__ import annotations

import errno
import io
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

import r1rules.cli._main as cli_main
from r1rules.cli._main import main
from r1rules.cli._sweep import json_line, read_rows

ROOT = Path(__file__).resolve().parents[1]
BASIC = str(ROOT / "examples" / "basic.toml")
COMMAND = [sys.executable, "-m", "r1rules"]
SWEEP = ["sweep", "--model", "deepseek-r1-distill-qwen-7b", "--latency-ms", "1000"]
FULL = "No space left on device"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


class _FullDisk(io.StringIO):
    def write(self, _text: str) -> int:
        raise OSError(errno.ENOSPC, FULL)


class _ClosedPipe(io.StringIO):
    def write(self, _text: str) -> int:
        raise BrokenPipeError(errno.EPIPE, "Broken pipe")


# -- output that cannot be written: exit 74, one line -------------------------------------


@pytest.mark.parametrize(
    "argv",
    [["evaluate", BASIC], ["evaluate", BASIC, "--json"], ["compare", BASIC], ["gpus"], ["check"]],
)
def test_a_full_disk_under_stdout_is_exit_74_naming_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    monkeypatch.setattr(sys, "stdout", _FullDisk())
    code = main(argv)
    assert code == 74
    assert capsys.readouterr().err == f"r1rules: error: cannot write to standard output: {FULL}\n"


@pytest.mark.parametrize("argv", [["--version"], ["--help"], ["evaluate", "--help"]])
def test_help_and_version_report_the_write_argparse_swallows(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    monkeypatch.setattr(sys, "stdout", _FullDisk())
    assert main(argv) == 74
    assert FULL in capsys.readouterr().err
    monkeypatch.setattr(sys, "stdout", _ClosedPipe())
    assert main(argv) == 141
    assert capsys.readouterr().err == ""


def test_a_closed_stdout_is_exit_74_unless_nothing_is_written_there(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """`r1rules ... >&-`: Python's sys.stdout is None, and print() would drop the report."""
    monkeypatch.setattr(sys, "stdout", None)
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "evaluate", BASIC)
    assert code == 74 and err == "r1rules: error: cannot write to standard output: it is closed\n"
    # a sweep to standard output keeps its rows for --resume
    code, _, err = run(capsys, *SWEEP, "--peak-qps", "1,2", "-o", "-", "--format", "csv")
    assert code == 74 and "cannot write to standard output: it is closed; the rows are kept" in err
    assert len([p for p in tmp_path.iterdir() if p.name.endswith(".partial")]) == 1
    # a sweep to a file never needs stdout
    code, _, err = run(capsys, *SWEEP, "--peak-qps", "1,2", "-o", "plan.csv", "--workers", "1")
    assert code == 0 and "sweep wrote 2 rows" in err


def test_a_closed_stdout_in_a_real_process() -> None:
    done = subprocess.run(
        ["sh", "-c", 'exec "$@" >&-', "sh", *COMMAND, "evaluate", BASIC],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 74
    assert done.stderr == "r1rules: error: cannot write to standard output: it is closed\n"


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full")
@pytest.mark.parametrize(
    ("argv", "what"),
    [
        (["evaluate", BASIC], "to standard output"),
        (["--version"], "to standard output"),
        ([*SWEEP, "--peak-qps", "1,2", "-o", "-", "--format", "csv"], "to standard output"),
        ([*SWEEP, "--peak-qps", "1,2", "-o", "/dev/full", "--format", "csv"], "/dev/full"),
    ],
)
def test_dev_full_in_a_real_process(tmp_path: Path, argv: list[str], what: str) -> None:
    with open("/dev/full", "w", encoding="utf-8") as full:
        done = subprocess.run(
            [*COMMAND, *argv], stdout=full, stderr=subprocess.PIPE, text=True, cwd=tmp_path
        )
    assert done.returncode == 74
    assert done.stderr.startswith(f"r1rules: error: cannot write {what}: {FULL}")
    assert len(done.stderr.splitlines()) == 1


def test_help_into_a_closed_pipe_ends_quietly() -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(
            [*COMMAND, "--help"], stdout=write_end, stderr=subprocess.PIPE, timeout=120
        )
    finally:
        os.close(write_end)
    assert (done.returncode, done.stderr) == (141, b"")


def test_an_output_file_that_cannot_be_written_keeps_the_rows_for_resume(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "plan.csv"

    def refuse(*_args: object) -> None:
        raise OSError(errno.EACCES, "Permission denied")

    with monkeypatch.context() as patch:
        patch.setattr(os, "replace", refuse)
        code, _, err = run(capsys, *SWEEP, "--peak-qps", "1,2", "-o", str(out), "--workers", "1")
    assert code == 74
    journal = tmp_path / ".plan.csv.partial"
    assert err == (
        f"r1rules: error: cannot write {out}: Permission denied; the rows are kept in "
        f"{journal}: run the same command with --resume\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == [".plan.csv.partial"]  # no temporary
    code, _, err = run(capsys, *SWEEP, "--peak-qps", "1,2", "-o", str(out), "--resume")
    assert code == 0 and "(0 evaluated, 2 reused" in err


def test_a_journal_that_cannot_be_written_is_exit_74(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    def full(_descriptor: int) -> None:
        raise OSError(errno.ENOSPC, FULL)

    monkeypatch.setattr(os, "fsync", full)
    code, _, err = run(capsys, *SWEEP, "--peak-qps", "1,2", "-o", str(tmp_path / "p.csv"))
    assert code == 74
    assert (
        err == f"r1rules: error: cannot write the journal {tmp_path / '.p.csv.partial'}: {FULL}\n"
    )


# -- non-finite numbers in a grid: error rows, as any invalid value -----------------------


def test_non_finite_options_are_error_rows_that_resume_finds(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "plan.jsonl"
    argv = [*SWEEP, "--peak-qps", "1,inf,-inf,nan", "--budget-usd", "none,inf", "-o", str(out)]
    code, _, err = run(capsys, *argv, "--workers", "1")
    assert code == 0 and "8 rows" in err and "7 with errors" in err
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["peak_qps"] for r in rows[::2]] == [1.0, "inf", "-inf", "nan"]
    assert rows[1]["budget_usd"] == "inf"
    assert rows[0]["error"] is None
    assert "budget_usd: must be a finite number; got inf" in rows[1]["error"]
    assert "peak_qps: must be a finite number; got nan" in rows[6]["error"]
    code, _, err = run(capsys, *argv, "--resume")
    assert code == 0 and "(0 evaluated, 8 reused, 7 with errors)" in err


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e400"])
def test_non_finite_grid_values_are_error_rows(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, value: str
) -> None:
    grid = tmp_path / "grid.toml"
    grid.write_text(
        f'[workload]\nmodel = "deepseek-r1"\nlatency_ms = 500\n[grid]\npeak_qps = [1, {value}]\n',
        encoding="utf-8",
    )
    for name in ("plan.csv", "plan.jsonl"):
        code, _, err = run(capsys, "sweep", str(grid), "-o", str(tmp_path / name))
        assert code == 0 and "1 with errors" in err
    text = (tmp_path / "plan.jsonl").read_text(encoding="utf-8")
    assert "must be a finite number" in text.splitlines()[1]


def test_a_json_line_names_a_non_finite_number() -> None:
    assert json_line({"a": math.inf, "b": -math.inf, "c": 1.5}, "abc") == (
        '{"a": "inf", "b": "-inf", "c": 1.5}\n'
    )


# -- a damaged journal or output is not reused: --resume carries on -----------------------


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('{"a": NaN}', "line 1: NaN is not JSON"),
        ('{"a": -Infinity}', "line 1: -Infinity is not JSON"),
        ('{"a": 1e400}', "line 1: 1e400 is not a finite number"),
        ("[" * 100_000 + "]" * 100_000, "line 1 is nested too deeply"),
    ],
)
def test_read_rows_refuses_what_a_sweep_never_writes(line: str, reason: str) -> None:
    with pytest.raises(ValueError, match=f"^{reason}$"):
        read_rows(line + "\n", "jsonl", ["a"])


@pytest.mark.parametrize("damage", ["NaN", "1e400", "nest"])
def test_resume_past_a_damaged_journal(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, damage: str
) -> None:
    out = tmp_path / "plan.jsonl"
    argv = [*SWEEP, "--peak-qps", "1,2", "-o", str(out), "--workers", "1"]
    assert run(capsys, *argv)[0] == 0
    first = out.read_text(encoding="utf-8").splitlines()[0]
    row = json.loads(first)
    text = "[" * 100_000 + "]" * 100_000
    if damage != "nest":
        text = first.replace(f'"ttft_ms": {row["ttft_ms"]}', f'"ttft_ms": {damage}')
        assert text != first
    out.unlink()
    (tmp_path / ".plan.jsonl.partial").write_text(text + "\n", encoding="utf-8")
    code, _, err = run(capsys, *argv, "--resume")
    assert code == 0 and "not reusing" in err and "(2 evaluated, 0 reused" in err
    assert len(out.read_text(encoding="utf-8").splitlines()) == 2


def test_resume_past_an_output_with_a_field_beyond_the_csv_limit(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "plan.csv"
    argv = [*SWEEP, "--peak-qps", "1,2", "-o", str(out), "--workers", "1"]
    assert run(capsys, *argv)[0] == 0
    header = out.read_text(encoding="utf-8").splitlines()[0]
    out.write_text(header + "\n" + "x" * 200_000 + "\n", encoding="utf-8")
    code, _, err = run(capsys, *argv, "--resume")
    assert code == 0 and "field larger than field limit" in err
    assert "(2 evaluated, 0 reused" in err


# -- options that make no sense ------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["evaluate", BASIC],
        ["compare", BASIC],
        [*SWEEP, "--peak-qps", "1", "-o", "plan.csv"],
        ["gpus"],
    ],
)
def test_no_shipped_without_rules_is_refused(
    capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    code, out, err = run(capsys, *argv, "--no-shipped")
    assert (code, out) == (2, "")
    assert err == (
        "r1rules: error: --no-shipped needs --rules DIR: the rule files to use instead of the "
        "shipped rules\n"
    )


@pytest.mark.parametrize("rows", ["-1", "0"])
def test_max_rows_below_one_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, rows: str
) -> None:
    argv = [*SWEEP, "--peak-qps", "1", "-o", str(tmp_path / "p.csv"), "--max-rows", rows]
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert (
        err
        == f"r1rules: error: --max-rows: expected a whole number of rows (1 or more); got {rows}\n"
    )


def test_an_empty_output_path_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, *SWEEP, "--peak-qps", "1", "-o", "")
    assert code == 2 and err == (
        "r1rules: error: --output: the path is empty; give a file (.csv, .jsonl) or - for stdout\n"
    )


def test_ctrl_c_outside_a_sweep_is_exit_130_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(_args: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_main, "_run", interrupted)
    assert run(capsys, "evaluate", BASIC) == (130, "", "\nr1rules: interrupted\n")
