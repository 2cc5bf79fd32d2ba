"""The command's text output: plain on a pipe or a file, laid out and coloured on a terminal.

Plain text is the text the library gives (``Recommendation.report()``, the ``compare``
table), byte for byte, so that scripts and ``grep`` read what they always read. On a
terminal (stdout is a tty, ``NO_COLOR`` unset, ``TERM`` not ``dumb``) the same words are
printed with rich: the answer block first and emphasised (the headline bold, a met target
green, a missed one red, its warnings yellow), section titles bold, rule citations dimmed,
and ``compare``'s options as a table. ``--color always|never`` overrides the choice.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Mapping, Sequence
from typing import TextIO

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

__all__ = [
    "COLOR_CHOICES",
    "OptionsTable",
    "add_color_argument",
    "print_options",
    "print_report",
    "wants_color",
]

COLOR_CHOICES = ("auto", "always", "never")

_LABEL = re.compile(r"^(\s+)(\S+)(\s+)(.*)$")  # an answer line: "  label   value"
_FIELD = re.compile(r"^(\S.*?)(\s{2,}|: )(.*)$")  # a details line: "label   value"
_CITATION = re.compile(r"\[[^\[\]]+\]$")  # "... [rule-id]", "... [rule-id, source]"
_DEFAULT = re.compile(r"\(default: [^()]*\)")
_MISSED = re.compile(r"\bMISSED\b.*$")
_MET = re.compile(r"\bmet$")
_TARGETS = re.compile(r", ((meets|misses) the targets)\b")  # a verdict, after its figures


def add_color_argument(parser: argparse.ArgumentParser) -> None:
    """The ``--color`` option: auto (the default), always, never."""
    parser.add_argument(
        "--color",
        choices=COLOR_CHOICES,
        default="auto",
        help="lay out and colour the output: auto (on a terminal, unless NO_COLOR is set or "
        "TERM=dumb), always, or never (the plain text a pipe gets)",
    )


def wants_color(
    choice: str = "auto", stream: TextIO | None = None, environ: Mapping[str, str] | None = None
) -> bool:
    """Whether to lay out and colour: ``always``, ``never``, or (``auto``) when ``stream``
    (stdout) is a terminal and neither ``NO_COLOR`` (https://no-color.org) nor
    ``TERM=dumb`` asks for plain text."""
    if choice == "always":
        return True
    if choice == "never":
        return False
    env = os.environ if environ is None else environ
    if env.get("NO_COLOR", "") != "" or env.get("TERM", "") in ("dumb", "unknown"):
        return False
    out = sys.stdout if stream is None else stream
    try:
        return out.isatty()
    except (AttributeError, ValueError, OSError):  # no file behind it, or closed
        return False


class _Console(Console):
    """rich's Console, but a closed stdout is left to the command (``main`` ends quietly
    with 141); rich's own handling would exit with 1."""

    def on_broken_pipe(self) -> None:
        self.quiet = True  # nothing more is written
        raise BrokenPipeError(32, "Broken pipe")


def _console() -> Console:
    # Only built for colour: a forced terminal, whatever NO_COLOR says (--color always wins).
    return _Console(
        file=sys.stdout,
        force_terminal=True,
        no_color=False,
        highlight=False,
        markup=False,
        emoji=False,
    )


# -- the report ----------------------------------------------------------------------------


def print_report(text: str, *, color: bool) -> None:
    """Print a report (``Recommendation.report()`` and what follows it): ``text`` as it
    is, or on a terminal the same words styled: the answer block (up to the first empty
    line) emphasised, each of its values wrapped under itself, every other line styled
    in place (and left to the terminal to wrap)."""
    if not color:
        print(text)
        return
    console = _console()
    lines = text.split("\n")
    end = lines.index("") if "" in lines else len(lines)
    answer, rest = lines[:end], lines[end:]
    if answer:
        console.print(Text(answer[0], style="bold"), soft_wrap=True)
        for line in answer[1:]:
            _print_answer_line(console, line)
    section = ""
    for line in rest:
        if line and not line[0].isspace() and (line.endswith(":") or " " not in line):
            section = line
        console.print(_styled(line, section), soft_wrap=True)


def _print_answer_line(console: Console, line: str) -> None:
    """An answer line ("  label   value"), its value styled and wrapped under itself."""
    match = _LABEL.match(line)
    if match is None:
        console.print(Text(line), soft_wrap=True)
        return
    indent, label, gap, value = match.groups()
    prefix = len(indent) + len(label) + len(gap)
    head = Text(indent) + Text(label, style=_label_style(label)) + Text(gap)
    width = max(console.width - prefix, 24)
    for i, part in enumerate(_answer_value(label, value).wrap(console, width)):
        part.rstrip()
        console.print((head if i == 0 else Text(" " * prefix)) + part, soft_wrap=True)


def _label_style(label: str) -> str:
    return "bold yellow" if label == "warning" else "bold cyan"


def _answer_value(label: str, value: str) -> Text:
    text = Text(value)
    if label == "warning":
        text.stylize("yellow")
        _dim_citation(text)
    elif label == "edition":
        text.stylize("bold")
    else:
        _verdicts(text)
    return text


def _verdicts(text: Text) -> None:
    """A target met in green, a missed one in bold red."""
    missed = _MISSED.search(text.plain)
    if missed is not None:
        text.stylize("bold red", missed.start(), missed.end())
    else:
        met = _MET.search(text.plain)
        if met is not None:
            text.stylize("bold green", met.start(), met.end())
    for found in _TARGETS.finditer(text.plain):
        text.stylize("green" if found.group(2) == "meets" else "red", *found.span(1))


def _dim_citation(text: Text) -> None:
    found = _CITATION.search(text.plain)
    if found is not None:
        text.stylize("dim", found.start(), found.end())


def _styled(line: str, section: str) -> Text:
    """One line after the answer block, styled by what it is and the section it is in."""
    text = Text(line)
    if not line:
        return text
    stripped = line.lstrip()
    if not line[0].isspace():
        if line == section:  # a section title
            text.stylize("bold underline")
            return text
        field = _FIELD.match(line)  # "edition    basic", "objective: cost"
        if field is not None:
            text.stylize("bold cyan", 0, len(field.group(1)))
    elif stripped.startswith("<- "):  # the rule that set the field above
        text.stylize("dim")
        return text
    elif section.startswith("options") and stripped.startswith(">"):  # the answer's row
        text.stylize("bold green")
    elif section.startswith("options") and stripped.startswith("rank"):
        text.stylize("bold")
    elif section == "warnings:" and stripped.startswith("- "):
        text.stylize("yellow")
    for found in _DEFAULT.finditer(line):
        text.stylize("dim", found.start(), found.end())
    _dim_citation(text)
    _verdicts(text)
    return text


# -- the options table ---------------------------------------------------------------------

# compare's columns that the terminal table shows as one mark column, as the report does
_MARKED = ("answer", "pareto")
# the columns a terminal too narrow for the whole table goes without, first dropped first
_NARROW_DROPS = ("layout", "nodes", "TPOT_ms", "tok/s", "prec")
_WRAPPED_WIDTH = 16  # the last column (the excluding rules) wraps, down to this width
_GAP = 2  # between two columns


class OptionsTable:
    """``compare``'s table: a title line, column headers ``(name, right-aligned)``, one
    row of cells per option, and for each row whether it is the answer, on the Pareto set,
    and meets the targets (the plain form is printed by the caller's own lines)."""

    def __init__(self, title: str, columns: Sequence[tuple[str, bool]]) -> None:
        self.title = title
        self.columns = tuple(columns)
        self.rows: list[tuple[tuple[str, ...], bool, bool, bool]] = []

    def add(self, cells: Sequence[str], *, answer: bool, pareto: bool, meets: bool) -> None:
        self.rows.append((tuple(cells), answer, pareto, meets))


def print_options(table: OptionsTable, plain: Sequence[str], *, color: bool) -> None:
    """Print the options: ``plain`` lines as they are, or on a terminal as a rich table,
    compacted to fit (the answer and Pareto columns as one mark column, ``>`` and ``*``;
    the excluding rules wrapped): the answer's row bold green, targets met or missed in
    green or red, options that miss the targets dimmed, excluding rules yellow."""
    if not color:
        print("\n".join(plain))
        return
    grid = Table(
        title=table.title,
        title_justify="left",
        title_style="bold",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        padding=(0, 1),
        collapse_padding=True,
        header_style="bold cyan",
    )
    console = _console()
    kept, hidden = _fitting(table, console.width)
    if hidden:
        grid.caption = f"(hidden to fit the terminal: {', '.join(hidden)}; --json has them all)"
        grid.caption_justify = "left"
        grid.caption_style = "dim"
    grid.add_column("", no_wrap=True)
    for i in kept:
        name, right = table.columns[i]
        last = i == len(table.columns) - 1
        grid.add_column(
            name,
            justify="right" if right else "left",
            no_wrap=not last,
            min_width=_WRAPPED_WIDTH if last else None,
            overflow="fold" if last else "ellipsis",
        )
    for cells, answer, pareto, meets in table.rows:
        mark = Text(">" if answer else " ") + Text("*" if pareto else " ", style="bold cyan")
        styled = [mark]
        for i in kept:
            name, text = table.columns[i][0], Text(cells[i])
            if name == "meets":
                text.stylize("green" if meets else "red")
            elif name == "excluded_by" and cells[i] != "-":
                text = Text(cells[i].replace(",", ", "), style="yellow")
            styled.append(text)
        grid.add_row(*styled, style="bold green" if answer else ("" if meets else "dim"))
    console.print(grid)


def _fitting(table: OptionsTable, width: int) -> tuple[list[int], list[str]]:
    """The columns (indexes) that fit ``width`` and the names of those left out."""
    widths = [len(name) for name, _ in table.columns]
    for cells, *_flags in table.rows:
        widths = [max(w, len(c)) for w, c in zip(widths, cells, strict=True)]
    widths[-1] = min(widths[-1], _WRAPPED_WIDTH)
    kept = [i for i, (name, _) in enumerate(table.columns) if name not in _MARKED]
    hidden: list[str] = []
    drops = [name for name in _NARROW_DROPS if any(n == name for n, _ in table.columns)]
    while drops and 2 + sum(widths[i] + _GAP for i in kept) > width:
        name = drops.pop(0)
        kept = [i for i in kept if table.columns[i][0] != name]
        hidden.append(name)
    return kept, hidden
