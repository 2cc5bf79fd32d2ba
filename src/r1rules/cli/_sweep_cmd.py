"""``r1rules sweep``: evaluate a grid of workloads into CSV or JSON Lines, restartably.

Rows are appended, block by block, to a journal beside the output
(``.<output name>.partial``, JSON Lines; an interruption adds the rows finished so far);
the output itself is only ever written whole: to a temporary file in its folder, flushed
to disk, then renamed over the output (a stream, such as ``-`` for standard output, is
written into at the end: ``_sweep_target``). So an interrupted sweep never leaves a
half-written output, and ``--resume`` carries on from the journal (and reuses the rows of
a complete previous output made by the same rules).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from r1rules._errors import R1RulesError, WorkloadError
from r1rules.cli._exit import EXIT_BAD_INPUT, EXIT_INTERRUPTED, EXIT_OK, EXIT_TERMINATED
from r1rules.cli._limits import rules_option
from r1rules.cli._output import writing
from r1rules.cli._sweep import (
    FIELDS,
    RESULT_COLUMNS,
    Grid,
    error_row,
    json_line,
    load_grid,
    parse_option,
    point_row,
    read_rows,
    row_key,
    summarise,
    workload_of,
)
from r1rules.cli._sweep_support import Progress, Terminated, output_lock, terminate_as_exception
from r1rules.cli._sweep_target import Target, target_of
from r1rules.recommend import Batch, Outcome, worker_count
from r1rules.ruleset import RuleSet

__all__ = ["add_sweep_parser", "run_sweep"]

# Rows evaluated between two journal writes (per process): a block lost to an interruption
# is redone; a larger block keeps the worker processes busier between writes.
BLOCK_PER_PROCESS = 8_192
# A grid above this many rows is refused unless --max-rows allows it: 10 million rows take
# about an hour on two cores and some GB of output, so a bigger one is more likely a typo.
MAX_ROWS = 10_000_000
FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}


def add_sweep_parser(subparsers: Any) -> None:
    """Add the ``sweep`` command to the r1rules command's sub-parsers."""
    sweep = subparsers.add_parser(
        "sweep",
        help="evaluate every combination of a grid of workloads into CSV or JSON Lines",
        description="Evaluate every combination of workload field values. Give the grid in a "
        "TOML file ([workload] fixed fields, [grid] arrays of values) and/or as options with "
        "comma-separated values (--model deepseek-r1,llama-70b --peak-qps 1,10,100); an "
        "option replaces the file's values for that field. 'none' means no value (an "
        "unpinned GPU). One row per combination; a combination that is not a valid workload "
        "gets a row with an error.",
    )
    sweep.add_argument("grid", nargs="?", help="grid TOML file")
    sweep.add_argument(
        "-o",
        "--output",
        required=True,
        help="file to write: .csv, or .jsonl / .ndjson for JSON Lines",
    )
    sweep.add_argument(
        "--format",
        choices=("csv", "jsonl"),
        help="output format (default: from the output's suffix, else csv)",
    )
    sweep.add_argument(
        "--rules", help="rule file or folder, layered on the shipped rules (see --no-shipped)"
    )
    sweep.add_argument(
        "--no-shipped", action="store_true", help="use only the --rules files, not the shipped"
    )
    sweep.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="processes evaluating, this one included (default: CPU count)",
    )
    sweep.add_argument(
        "--resume",
        action="store_true",
        help="keep the rows of an interrupted run, or of a complete previous "
        "output made with the same rules, and evaluate only the rest",
    )
    sweep.add_argument(
        "--max-rows",
        type=int,
        default=MAX_ROWS,
        metavar="N",
        help=f"refuse a grid of more than N rows (default {MAX_ROWS:,})",
    )
    sweep.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress line (it is shown only when stderr is a terminal)",
    )
    for name in FIELDS:
        sweep.add_argument(
            f"--{name.replace('_', '-')}",
            dest=f"sweep_{name}",
            metavar="VALUES",
            help=f"Workload.{name} value(s), comma-separated",
        )


def run_sweep(args: argparse.Namespace) -> int:
    """Run the sweep the parsed options describe; the exit code. Bad input raises an
    R1RulesError (the caller prints it and exits 2); so does a sweep whose every row failed
    (2); an interruption returns 130, SIGTERM 143 (both resumable)."""
    grid = load_grid(args.grid) if args.grid else Grid()
    for name in FIELDS:
        text = getattr(args, f"sweep_{name}", None)
        if text is not None:
            grid = grid.with_values(name, parse_option(name, text))
    if not grid.columns:
        raise WorkloadError(
            "sweep: no workload fields: give a grid file or options such as --model and --peak-qps"
        )
    output = target_of(args.output)
    fmt = args.format or _format_of(output.shown)
    if args.max_rows < 1:
        raise WorkloadError(
            f"--max-rows: expected a whole number of rows (1 or more); got {args.max_rows}"
        )
    if grid.size > args.max_rows:
        raise WorkloadError(
            f"sweep: the grid has {grid.size:,} rows, more than --max-rows {args.max_rows:,}; "
            "narrow an axis, or raise --max-rows to run it anyway"
        )
    rules = rules_option(args.rules, no_shipped=args.no_shipped)
    show = not args.no_progress and sys.stderr.isatty()
    sweep = Sweep(grid, rules, output, fmt, worker_count(args.workers), Progress(show))
    try:
        with terminate_as_exception(), output_lock(output.file, output.shown):
            return sweep.run(resume=args.resume)
    except (KeyboardInterrupt, Terminated) as exc:
        how = "interrupted" if isinstance(exc, KeyboardInterrupt) else "terminated (SIGTERM)"
        print(
            f"\nr1rules: sweep {how}; the rows done so far are kept in "
            f"{sweep.journal}: run the same command with --resume to carry on",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED if isinstance(exc, KeyboardInterrupt) else EXIT_TERMINATED


def _format_of(output: str) -> str:
    """The output format its suffix names; an unknown suffix is an error naming the formats."""
    fmt = FORMATS.get(Path(output).suffix.lower())
    if fmt is None:
        raise WorkloadError(
            f"--output: {Path(output).name!r} has no known format suffix; use .csv, .jsonl or "
            ".ndjson, or give --format csv|jsonl"
        )
    return fmt


class Sweep:
    """One sweep of ``grid`` into ``output``; ``run`` evaluates and writes it."""

    def __init__(
        self,
        grid: Grid,
        rules: RuleSet,
        output: Target,
        fmt: str,
        processes: int,
        progress: Progress,
    ) -> None:
        self.grid, self.rules, self.output, self.fmt = grid, rules, output, fmt
        self.processes, self.progress = processes, progress
        self.inputs = grid.columns
        self.columns = self.inputs + RESULT_COLUMNS
        self.version = rules.version[:16]
        self.journal = output.journal

    def run(self, *, resume: bool) -> int:
        """Evaluate what is missing, then write the whole output; cost O(grid size) rows,
        plus the rows reused from a previous run, which are held in memory."""
        started = time.monotonic()
        previous = self._previous() if resume else {}
        todo = (
            sum(1 for p in self.grid.points() if row_key(point_row(p), self.inputs) not in previous)
            if previous
            else self.grid.size
        )
        journal = self._journal(resume)
        try:
            offset = journal.tell()
            evaluated, errors = self._evaluate(previous, todo, journal)
        finally:  # closing flushes again what a full disk refused
            with writing(f"the journal {self.journal}"):
                journal.close()
        errors += sum(1 for row in previous.values() if row.get("error"))
        self._write_output(previous, offset)
        self.journal.unlink()
        total = self.grid.size
        print(
            f"r1rules: sweep wrote {total:,} rows to {self.output.shown} ({evaluated:,} evaluated, "
            f"{total - evaluated:,} reused, {errors:,} with errors) in "
            f"{time.monotonic() - started:.1f} s",
            file=sys.stderr,
        )
        return _all_failed(errors, total)

    def _previous(self) -> dict[tuple[str, ...], dict[str, Any]]:
        """Rows already made by these rules: the complete output (a file: a stream cannot
        be read back), then the journal."""
        rows: dict[tuple[str, ...], dict[str, Any]] = {}
        sources = [(self.journal, "jsonl")]
        if not self.output.stream:
            sources.insert(0, (self.output.file, self.fmt))
        for path, fmt in sources:
            try:
                text = path.read_text(encoding="utf-8")
            except FileNotFoundError:
                continue
            except (OSError, UnicodeDecodeError) as exc:
                print(f"r1rules: not reusing {path}: {exc}", file=sys.stderr)
                continue
            try:
                found = read_rows(text, fmt, self.columns)
            except ValueError as exc:
                print(f"r1rules: not reusing {path}: {exc}", file=sys.stderr)
                continue
            for row in found:
                if row.get("ruleset_version") == self.version:
                    rows[row_key(row, self.inputs)] = row
        return rows

    def _journal(self, resume: bool) -> IO[str]:
        """The journal, opened for appending: kept (its cut last line dropped) on resume."""
        kept = b""
        if resume and self.journal.exists():
            data = self.journal.read_bytes()
            kept = data[: data.rfind(b"\n") + 1]
        with writing(f"the journal {self.journal}"):
            handle = open(self.journal, "w", encoding="utf-8", newline="")
            handle.write(kept.decode("utf-8", errors="replace"))
            handle.flush()
        return handle

    def _evaluate(
        self, previous: Mapping[tuple[str, ...], object], todo: int, journal: IO[str]
    ) -> tuple[int, int]:
        block_size = BLOCK_PER_PROCESS * self.processes
        evaluated = errors = 0
        self.progress.start(todo)
        with Batch(self.rules, self.processes, summarise) as batch:
            for block in _blocks(self.grid, previous, self.inputs, block_size):
                rows = self._rows(block, batch, evaluated, journal)
                self._append(journal, rows)
                errors += sum(row["error"] is not None for row in rows)
                evaluated += len(rows)
                self.progress.show(evaluated)
        self.progress.finish()
        return evaluated, errors

    def _append(self, journal: IO[str], rows: list[dict[str, object]]) -> None:
        """Rows to the journal, on disk when this returns."""
        with writing(f"the journal {self.journal}"):
            for row in rows:
                journal.write(json_line(row, self.columns))
            journal.flush()
            os.fsync(journal.fileno())

    def _rows(
        self,
        block: list[dict[str, object]],
        batch: Batch[dict[str, object]],
        before: int,
        journal: IO[str],
    ) -> list[dict[str, object]]:
        """The block's rows, in grid order. Interrupted, the rows finished by then go to
        the journal (in grid order, with gaps: ``--resume`` finds them by their inputs)
        before the interruption propagates, so that no finished row is lost."""
        results: list[dict[str, object] | None] = [None] * len(block)
        valid, where = [], []
        for index, point in enumerate(block):
            try:
                valid.append(workload_of(point))
                where.append(index)
            except R1RulesError as exc:
                results[index] = error_row(exc)
        invalid = len(block) - len(valid)

        def fill(outcomes: list[Outcome[dict[str, object]] | None]) -> None:
            for index, outcome in zip(where, outcomes, strict=True):
                if outcome is not None:
                    results[index] = (
                        error_row(outcome) if isinstance(outcome, R1RulesError) else outcome
                    )

        def keep(outcomes: list[Outcome[dict[str, object]] | None]) -> None:
            fill(outcomes)
            self._append(journal, self._finished(block, results))

        outcomes = batch.run(
            valid,
            progress=lambda done, _total: self.progress.show(before + invalid + done),
            keep=keep,
        )
        fill(outcomes)
        rows = self._finished(block, results)
        assert len(rows) == len(block), "an outcome is missing"
        return rows

    def _finished(
        self, block: list[dict[str, object]], results: list[dict[str, object] | None]
    ) -> list[dict[str, object]]:
        """The rows of the block's finished points, in grid order."""
        rows = []
        for point, result in zip(block, results, strict=True):
            if result is None:
                continue
            given = point_row(point)
            row: dict[str, object] = {c: given.get(c) for c in self.inputs}
            row.update(result)
            row["ruleset_version"] = self.version
            rows.append(row)
        return rows

    def _write_output(
        self, previous: Mapping[tuple[str, ...], Mapping[str, object]], offset: int
    ) -> None:
        """The whole output, in grid order (``Target.write``)."""
        with open(self.journal, encoding="utf-8", newline="") as journal:
            journal.seek(offset)
            self.output.write(self._in_order(journal, previous), self.fmt, self.columns)

    def _in_order(
        self, journal: IO[str], previous: Mapping[tuple[str, ...], Mapping[str, object]]
    ) -> Iterator[Mapping[str, object]]:
        """Every row, in grid order: reused from ``previous``, else the journal's next."""
        for point in self.grid.points():
            given = point_row(point)
            key = row_key(given, self.inputs)
            row = previous.get(key)
            if row is None:
                row = json.loads(journal.readline())
                assert row_key(row, self.inputs) == key, "journal out of order"
            # inputs as this grid gives them (a reused row may say 1 for 1.0)
            yield {**row, **{c: given.get(c) for c in self.inputs}}


def _all_failed(errors: int, total: int) -> int:
    """Bad input (2) when every row of the sweep is an error row, saying so; else 0."""
    if errors == 0 or errors < total:
        return EXIT_OK
    print(
        f"r1rules: error: every row of the sweep failed ({errors:,} rows): see the error "
        "column; no grid point is a workload the rules can size",
        file=sys.stderr,
    )
    return EXIT_BAD_INPUT


def _blocks(
    grid: Grid, previous: Mapping[tuple[str, ...], object], inputs: tuple[str, ...], size: int
) -> Iterator[list[dict[str, object]]]:
    block: list[dict[str, object]] = []
    for point in grid.points():
        if row_key(point_row(point), inputs) in previous:
            continue
        block.append(point)
        if len(block) == size:
            yield block
            block = []
    if block:
        yield block
