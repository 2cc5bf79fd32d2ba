"""``r1rules compare``: every option weighed for a workload, ranked, as a table or JSON.

One line per option (each GPU in the workload's precision, and in each lower precision the
model could be quantized to), in rank order by the workload's objective: its size, layout,
speed, capital cost, whether it meets the targets, whether it is on the Pareto front
(capital cost, TTFT, GPU count), whether it is the answer, and the rules that rule it out.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Sequence
from typing import Any

from r1rules._errors import WorkloadError
from r1rules.cli._exit import EXIT_OK
from r1rules.cli._limits import check_deployable, rules_option
from r1rules.cli._render import OptionsTable, add_color_argument, print_options, wants_color
from r1rules.cli._workload_args import add_workload_arguments, workload_of_args
from r1rules.recommend import Option, evaluate, option_row

__all__ = ["COLUMNS", "add_compare_parser", "options_table", "run_compare"]

# (header, width, right-aligned): the table's columns; a cell never holds a space, so a
# line splits on whitespace into exactly these cells.
COLUMNS = (
    ("rank", 4, True),
    ("gpu", 16, False),
    ("prec", 5, False),
    ("GPUs", 6, True),
    ("nodes", 5, True),
    ("layout", 12, False),
    ("TTFT_ms", 8, True),
    ("TPOT_ms", 8, True),
    ("tok/s", 9, True),
    ("capital", 10, True),
    ("meets", 5, False),
    ("pareto", 6, False),
    ("answer", 6, False),
    ("excluded_by", 0, False),
)


def add_compare_parser(subparsers: Any) -> None:
    """Add the ``compare`` command to the r1rules command's sub-parsers."""
    compare = subparsers.add_parser(
        "compare",
        help="list every option weighed for a workload, ranked, with its cost",
        description="Size and price every GPU (and every lower precision the model could be "
        "quantized to) for a workload, ranked by its objective: '*' marks the Pareto set "
        "(capital cost, TTFT, GPU count), '>' the answer, and excluded_by names the rules "
        "that rule an option out as an answer.",
    )
    add_workload_arguments(compare)
    compare.add_argument("--json", action="store_true", help="print the options as JSON rows")
    compare.add_argument(
        "--top", type=int, metavar="N", help="only the N best-ranked options (default: all)"
    )
    compare.add_argument("--rules", help="rule file or folder, layered on the shipped rules")
    compare.add_argument("--no-shipped", action="store_true", help="use only the --rules files")
    add_color_argument(compare)


def _figure(value: float, digits: int = 0) -> str:
    return f"{value:,.{digits}f}" if math.isfinite(value) else "-"


def _usd(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "-"
    if value >= 1e6:
        return f"${value / 1e6:,.2f}M"
    return f"${value:,.0f}"


def _cells(option: Option) -> tuple[str, ...]:
    return (
        str(option.rank),
        option.gpu,
        option.precision,
        f"{option.gpu_count:,}",
        f"{option.nodes:,}",
        option.layout,
        _figure(option.ttft_ms),
        _figure(option.tpot_ms, 1),
        _figure(option.output_tokens_per_s),
        _usd(option.capital_usd),
        "yes" if option.meets_targets else "no",
        "*" if option.pareto else "-",
        ">" if option.chosen else "-",
        ",".join(option.excluded_by) or "-",
    )


def _line(cells: Sequence[str]) -> str:
    return "  ".join(
        cell.rjust(width) if right else cell.ljust(width)
        for (_, width, right), cell in zip(COLUMNS, cells, strict=True)
    ).rstrip()


def options_table(options: Sequence[Option]) -> list[str]:
    """The options as table lines: a header, then one line per option."""
    return [_line([name for name, _, _ in COLUMNS]), *(_line(_cells(o)) for o in options)]


def run_compare(args: argparse.Namespace) -> int:
    """Evaluate the workload and print its options, ranked (a table, or JSON rows)."""
    rules = rules_option(args.rules, no_shipped=args.no_shipped)
    rec = check_deployable(evaluate(workload_of_args(args), rules))
    if args.top is not None and args.top < 1:
        raise WorkloadError(f"--top: expected a whole number of at least 1; got {args.top}")
    shown = rec.options[: args.top] if args.top is not None else rec.options
    if args.json:
        rows = [option_row(o) for o in shown]
        print(json.dumps(rows, indent=2, ensure_ascii=False, allow_nan=False))
        return EXIT_OK
    title = (
        f"{len(rec.options)} options, ranked by {rec.objective} ('*' Pareto set of capital "
        "cost, TTFT and GPU count; '>' the answer)"
        + (f"; the best {len(shown)} shown" if len(shown) < len(rec.options) else "")
    )
    table = OptionsTable(title, [(name, right) for name, _, right in COLUMNS])
    for option in shown:
        table.add(
            _cells(option),
            answer=option.chosen,
            pareto=option.pareto,
            meets=option.meets_targets,
        )
    print_options(table, [title, *options_table(shown)], color=wants_color(args.color))
    return EXIT_OK
