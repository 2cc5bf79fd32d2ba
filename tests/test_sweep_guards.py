"""Sweeps that cannot collide or run away: the output lock, the row limit, known formats."""

from __future__ import annotations

import fcntl
import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from r1rules.cli._main import main

GRID = """
[workload]
latency_ms = 1000
model = "deepseek-r1-distill-qwen-7b"
[grid]
peak_qps = [1, 2, 3]
"""


def _grid(tmp_path: Path, text: str = GRID) -> Path:
    path = tmp_path / "grid.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_second_sweep_to_the_same_output_refuses_while_the_first_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "plan.csv"
    lock = tmp_path / ".plan.csv.lock"
    with open(lock, "a+b") as held:  # what a running sweep holds
        fcntl.flock(held.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        code = main(["sweep", str(_grid(tmp_path)), "-o", str(output), "--workers", "1"])
    assert code == 2
    err = capsys.readouterr().err
    assert f"another sweep is writing {output}" in err
    assert not output.exists()
    assert not (tmp_path / ".plan.csv.partial").exists()  # the journal was never touched
    # once the first one is done, the same command runs, and leaves no lock behind
    assert main(["sweep", str(_grid(tmp_path)), "-o", str(output), "--workers", "1"]) == 0
    assert len(output.read_text(encoding="utf-8").splitlines()) == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grid.toml", "plan.csv"]


def test_two_processes_sweeping_to_one_output_never_interleave(tmp_path: Path) -> None:
    """Two real sweeps started together: one writes the output, the other refuses or waits
    its turn; the output is whole and the journal never holds a foreign row."""
    grid = _grid(tmp_path, GRID.replace("[1, 2, 3]", str(list(range(1, 200)))))
    output = tmp_path / "plan.csv"
    command = [sys.executable, "-m", "r1rules", "sweep", str(grid), "-o", str(output)]
    command += ["--workers", "1", "--no-progress"]
    first = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    time.sleep(0.05)
    second = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    results = [(p.wait(timeout=120), p.communicate()[1]) for p in (first, second)]
    codes = sorted(code for code, _ in results)
    assert codes in ([0, 0], [0, 2])
    if codes == [0, 2]:
        assert any("another sweep is writing" in err for code, err in results if code == 2)
    lines = output.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 200 and len(set(lines)) == 200


def test_a_grid_above_the_row_limit_is_refused_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    axis = str(list(range(1, 1001)))
    big = GRID.replace("peak_qps = [1, 2, 3]", f"peak_qps = {axis}\nlatency_ms = {axis}")
    big = big.replace("latency_ms = 1000\n", "", 1)
    big += f"prompt_tokens = {axis}\n"
    started = time.monotonic()
    code = main(["sweep", str(_grid(tmp_path, big)), "-o", str(tmp_path / "p.csv")])
    assert time.monotonic() - started < 5
    assert code == 2
    err = capsys.readouterr().err
    assert "the grid has 1,000,000,000 rows, more than --max-rows 10,000,000" in err
    small = main(["sweep", str(_grid(tmp_path)), "-o", str(tmp_path / "q.csv"), "--max-rows", "2"])
    assert small == 2
    assert "the grid has 3 rows, more than --max-rows 2" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["plan.xlsx", "plan", "plan.json"])
def test_an_unknown_output_suffix_names_the_formats(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    assert main(["sweep", str(_grid(tmp_path)), "-o", str(tmp_path / name)]) == 2
    err = capsys.readouterr().err
    assert f"{name!r} has no known format suffix; use .csv, .jsonl or .ndjson" in err
    assert not (tmp_path / name).exists()
    # --format decides where the suffix cannot
    assert main(["sweep", str(_grid(tmp_path)), "-o", str(tmp_path / name), "--format", "csv"]) == 0


# -- where the output goes -----------------------------------------------------------------


def test_a_symbolic_link_is_followed_and_kept(tmp_path: Path) -> None:
    """The file a link names is replaced whole; the link stays a link."""
    real = tmp_path / "real.csv"
    real.write_text("an older output\n", encoding="utf-8")
    link = tmp_path / "link.csv"
    link.symlink_to(real)
    assert main(["sweep", str(_grid(tmp_path)), "-o", str(link), "--workers", "1"]) == 0
    assert link.is_symlink() and link.resolve() == real
    assert len(real.read_text(encoding="utf-8").splitlines()) == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grid.toml", "link.csv", "real.csv"]


def test_a_named_pipe_is_written_into_not_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A FIFO (like a device) is written straight into; its journal and lock are kept in
    the current folder, and gone after."""
    monkeypatch.chdir(tmp_path)
    pipe = tmp_path / "rows.csv"
    os.mkfifo(pipe)
    reader = subprocess.Popen(["cat", str(pipe)], stdout=subprocess.PIPE, text=True)
    assert main(["sweep", str(_grid(tmp_path)), "-o", str(pipe), "--workers", "1"]) == 0
    out, _ = reader.communicate(timeout=60)
    assert len(out.splitlines()) == 4 and out.startswith("model,")
    assert stat.S_ISFIFO(os.stat(pipe).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grid.toml", "rows.csv"]


def test_a_dash_writes_to_standard_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["sweep", str(_grid(tmp_path)), "-o", "-", "--format", "jsonl"]) == 0
    out, err = capfd.readouterr()
    assert [json.loads(line)["peak_qps"] for line in out.splitlines()] == [1, 2, 3]
    assert "sweep wrote 3 rows to -" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grid.toml"]
    assert main(["sweep", str(_grid(tmp_path)), "-o", "-"]) == 2  # which format, then?
    assert "'-' has no known format suffix" in capfd.readouterr().err


def test_a_device_is_written_into_and_never_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    before = os.stat(os.devnull)
    assert main(["sweep", str(_grid(tmp_path)), "-o", os.devnull, "--format", "csv"]) == 0
    after = os.stat(os.devnull)
    assert stat.S_ISCHR(after.st_mode) and (after.st_ino, after.st_rdev) == (
        before.st_ino,
        before.st_rdev,
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grid.toml"]


def test_standard_output_closed_early_ends_quietly_and_leaves_nothing(tmp_path: Path) -> None:
    """``-o - | head -1``: the reader goes away mid-output; the sweep ends without a
    traceback and leaves no journal (there is nothing to resume into a closed pipe)."""
    grid = _grid(tmp_path, GRID.replace("[1, 2, 3]", str(list(range(1, 601)))))
    command = [sys.executable, "-m", "r1rules", "sweep", str(grid), "-o", "-", "--format", "csv"]
    process = subprocess.Popen(
        [*command, "--workers", "1", "--no-progress"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
    )
    assert process.stdout is not None and process.stderr is not None
    first = process.stdout.readline()
    process.stdout.close()  # as ``head -1`` does
    err = process.stderr.read().decode()
    process.stderr.close()
    process.wait(timeout=120)
    assert first.startswith(b"model,")
    assert "Traceback" not in err and "Error" not in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grid.toml"]
