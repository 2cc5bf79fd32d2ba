"""The command's text on a terminal (laid out and coloured with rich) and on a pipe (the
library's plain text, byte for byte): run under a real pseudo-terminal and piped."""

from __future__ import annotations

import io
import os
import pty
import re
import select
import struct
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import pytest
import tomli

import r1rules
from r1rules.cli._compare_cmd import COLUMNS
from r1rules.cli._main import main
from r1rules.cli._render import OptionsTable, print_options, print_report, wants_color

ROOT = Path(__file__).resolve().parents[1]
BASIC = str(ROOT / "examples" / "basic.toml")
PROFESSIONAL = str(ROOT / "examples" / "professional.toml")
COMMAND = [sys.executable, "-m", "r1rules"]
WIDTH = 200  # the terminal's columns: wide enough that no line of these outputs wraps

ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
# an SGR sequence that sets a foreground colour (standard, bright or 256-colour)
COLOUR = re.compile(r"\x1b\[(?:[0-9]+;)*(?:3[0-7]|9[0-7]|38;5;[0-9]+)(?:;[0-9]+)*m")


def environment(**changes: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    env.update(TERM="xterm-256color", COLUMNS=str(WIDTH), LINES="50")
    env.update(changes)
    return env


def on_a_terminal(argv: list[str], env: Mapping[str, str]) -> tuple[int, str, str]:
    """Run the command with a pseudo-terminal as stdout (and stdin), reading all it writes
    until it ends; its stderr is a pipe. Returns (exit code, stdout, stderr)."""
    import fcntl
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, WIDTH, 0, 0))
    try:
        process = subprocess.Popen(
            [*COMMAND, *argv], stdin=slave, stdout=slave, stderr=subprocess.PIPE, env=dict(env)
        )
    finally:
        os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 1.0)
            if not ready:
                if process.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal's last slave end
                break
            if not chunk:
                break
            chunks.append(chunk)
        code = process.wait(timeout=60)
        assert process.stderr is not None
        err = process.stderr.read().decode()
    finally:
        os.close(master)
        if process.poll() is None:
            process.kill()
        if process.stderr is not None:
            process.stderr.close()
    # the terminal turns each "\n" into "\r\n"
    return code, b"".join(chunks).decode().replace("\r\n", "\n"), err


def piped(argv: list[str], env: Mapping[str, str]) -> tuple[int, str, str]:
    done = subprocess.run(
        [*COMMAND, *argv], capture_output=True, text=True, env=dict(env), timeout=120
    )
    return done.returncode, done.stdout, done.stderr


def plain(text: str) -> str:
    return ESCAPE.sub("", text)


def report_of(path: str) -> str:
    with open(path, "rb") as file:
        return r1rules.evaluate(r1rules.Workload(**tomli.load(file))).report()


# -- evaluate ------------------------------------------------------------------------------


def test_evaluate_on_a_terminal_is_coloured_and_piped_is_the_plain_report() -> None:
    code, tty, err = on_a_terminal(["evaluate", BASIC], environment())
    assert (code, err) == (0, "")
    assert COLOUR.search(tty), "no colour on a terminal"
    lines = tty.splitlines()
    # the answer leads, in bold; a met target is green
    assert lines[0].startswith("\x1b[1m") and "r1rules recommendation: " in lines[0]
    assert "\x1b[1;32mmet\x1b[0m" in tty
    assert plain(lines[2]).split() == ["edition", "basic"]

    code, out, err = piped(["evaluate", BASIC], environment())
    assert (code, err) == (0, "")
    assert "\x1b" not in out
    assert out == report_of(BASIC) + "\n"  # the library's report, byte for byte
    first = out.splitlines()[0]
    assert first.startswith("r1rules recommendation: ") and " x " in first
    assert plain(lines[0]) == first
    # the same words, in the same order, whichever the layout
    assert plain(tty).split() == out.split()


def test_no_color_and_the_color_option() -> None:
    """NO_COLOR on a terminal gives the plain text; --color always colours a pipe and
    --color never keeps a terminal plain."""
    _, out, _ = piped(["evaluate", BASIC], environment())
    code, tty, err = on_a_terminal(["evaluate", BASIC], environment(NO_COLOR="1"))
    assert (code, err) == (0, "")
    assert "\x1b" not in tty and tty == out
    code, tty, err = on_a_terminal(["evaluate", BASIC, "--color", "never"], environment())
    assert (code, err) == (0, "")
    assert "\x1b" not in tty and tty == out
    code, forced, err = piped(["evaluate", BASIC, "--color", "always"], environment(NO_COLOR="1"))
    assert (code, err) == (0, "") and COLOUR.search(forced)
    assert plain(forced).split() == out.split()
    code, dumb, err = on_a_terminal(["evaluate", BASIC], environment(TERM="dumb"))
    assert (code, err) == (0, "") and "\x1b" not in dumb


def test_the_json_form_is_never_coloured() -> None:
    code, tty, _ = on_a_terminal(["evaluate", BASIC, "--json"], environment())
    assert code == 0 and "\x1b" not in tty and tty.lstrip().startswith("{")


# -- compare -------------------------------------------------------------------------------


def _row(cells: list[str]) -> list[str]:
    """A plain row's cells as the terminal table shows them: no pareto and answer columns
    (they are the row's marks) and the excluding rules joined by ", "."""
    names = [name for name, _, _ in COLUMNS]
    return [c for n, c in zip(names, cells, strict=True) if n not in ("pareto", "answer")]


def test_compare_on_a_terminal_is_a_coloured_table_and_piped_the_plain_one() -> None:
    code, out, err = piped(["compare", PROFESSIONAL], environment())
    assert (code, err) == (0, "")
    assert "\x1b" not in out
    lines = out.splitlines()
    assert " options, ranked by cost " in lines[0]
    assert lines[1].split() == [name for name, _, _ in COLUMNS]
    rows = [line.split() for line in lines[2:]]

    code, tty, err = on_a_terminal(["compare", PROFESSIONAL], environment())
    assert (code, err) == (0, "")
    assert COLOUR.search(tty)
    shown = plain(tty).splitlines()
    assert shown[0].strip() == lines[0]
    header = next(i for i, line in enumerate(shown) if line.split()[:2] == ["rank", "gpu"])
    expected = [name for name, _, _ in COLUMNS if name not in ("pareto", "answer")]
    assert shown[header].split() == expected
    body = [line for line in shown[header + 2 :] if line.strip()]
    assert len(body) == len(rows)
    for line, row in zip(body, rows, strict=True):
        marks = (">" if row[12] == ">" else "") + ("*" if row[11] == "*" else "")
        cells = line.replace(", ", ",").split()
        if marks:
            assert cells[0] == marks
            cells = cells[1:]
        assert cells == _row(row)
    # the answer's row is bold green
    answer = next(line for line in tty.splitlines() if plain(line).lstrip().startswith(">"))
    assert "\x1b[1;32m" in answer


def test_a_narrow_terminal_hides_columns_and_says_which() -> None:
    code, tty, _ = on_a_terminal(["compare", PROFESSIONAL], environment(COLUMNS="90"))
    assert code == 0
    shown = plain(tty)
    assert "hidden to fit the terminal: layout" in shown
    assert all(len(line) <= 90 for line in shown.splitlines())


# -- the renderer in-process ---------------------------------------------------------------


class _Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


class _Closed(io.StringIO):
    def isatty(self) -> bool:
        raise ValueError("I/O operation on closed file")


def test_wants_color_decides_by_option_terminal_and_environment() -> None:
    tty, pipe = _Stream(True), _Stream(False)
    assert wants_color("auto", tty, {}) is True
    assert wants_color("auto", pipe, {}) is False
    assert wants_color("auto", tty, {"NO_COLOR": "1"}) is False
    assert wants_color("auto", tty, {"NO_COLOR": ""}) is True  # empty: not set
    assert wants_color("auto", tty, {"TERM": "dumb"}) is False
    assert wants_color("always", pipe, {"NO_COLOR": "1"}) is True
    assert wants_color("never", tty, {}) is False
    assert wants_color("auto", _Closed(), {}) is False


def test_forced_colour_keeps_every_word(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "60")  # narrow: the answer block wraps under its values
    text = report_of(BASIC) + "\n\nan unlabelled line\n  - a bullet [some-rule]"
    print_report(text, color=True)
    out = capsys.readouterr().out
    assert COLOUR.search(out)
    assert plain(out).split() == text.split()
    answer = plain(out).split("\n\n")[0].splitlines()[1:]  # the headline is one line
    assert len(answer) > 7 and all(len(line) <= 60 for line in answer)
    print_report("one line\n  odd", color=True)  # no blank line; a line without a value
    assert plain(capsys.readouterr().out).split() == ["one", "line", "odd"]
    table = OptionsTable("title", [("rank", True), ("excluded_by", False)])
    table.add(["1", "a,b"], answer=True, pareto=True, meets=False)
    print_options(table, ["plain"], color=False)
    assert capsys.readouterr().out == "plain\n"


def test_a_closed_pipe_under_colour_is_quiet(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    class Closed(io.StringIO):
        def write(self, _text: str) -> int:
            raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(sys, "stdout", Closed())
    assert main(["evaluate", BASIC, "--color", "always"]) == 141
    assert main(["compare", PROFESSIONAL, "--color", "always"]) == 141
    assert capsys.readouterr().err == ""


def test_a_reader_that_leaves_early_under_colour_ends_it_quietly() -> None:
    """`r1rules evaluate ... --color always | head -1`, with more than a pipe buffer left."""
    argv = [*COMMAND, "evaluate", BASIC, "--color", "always"]
    argv += ["--why-not", "edition-enterprise-by-size"] * 400
    with subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=environment()
    ) as process:
        assert process.stdout is not None and process.stderr is not None
        assert b"r1rules recommendation" in process.stdout.readline()
        process.stdout.close()
        code = process.wait(timeout=120)
        err = process.stderr.read()
    assert (code, err) in ((0, b""), (141, b""))
