"""``r1rules plot``: a workload's options as a chart, to PNG or SVG.

``--kind load`` (the default): capital cost and GPU count against peak load (requests/s,
log-log), one line per GPU in the workload's precision, the answer the rules give at each
load drawn under them, the edition bands and their boundaries, and the answer at the
workload's own load marked. ``--kind pareto``: every option at the workload's load,
capital cost against one request's decode speed (tokens/s per user = 1000 / TPOT), the
options no other beats on both joined as the front, and the answer marked.

``_plot_data`` gathers the numbers (no plotting library needed); ``_plot`` draws them
with matplotlib, an optional extra (``pip install 'r1rules[plot]'``), imported only when
a chart is drawn.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from r1rules._errors import WorkloadError
from r1rules.cli._exit import EXIT_OK
from r1rules.cli._limits import check_deployable, rules_option
from r1rules.cli._plot import draw_load, draw_pareto, require_matplotlib
from r1rules.cli._plot_data import load_chart, pareto_chart
from r1rules.cli._workload_args import add_workload_arguments, workload_of_args
from r1rules.recommend import evaluate

__all__ = ["FORMATS", "KINDS", "add_plot_parser", "format_of", "run_plot"]

FORMATS = {".png": "png", ".svg": "svg"}
KINDS = ("load", "pareto")
DEFAULT_POINTS = 25
MAX_POINTS = 200
# The default load range: this many times below and above the workload's own peak load.
DEFAULT_SPAN = 100.0


def add_plot_parser(subparsers: Any) -> None:
    """Add the ``plot`` command to the r1rules command's sub-parsers."""
    plot = subparsers.add_parser(
        "plot",
        help="chart cost and GPU count against load, or cost against speed, to PNG or SVG",
        description="Draw a workload's options to a PNG or SVG image (needs matplotlib: pip "
        "install 'r1rules[plot]'). --kind load: capital cost and GPU count against peak "
        "requests/s for every GPU in the workload's precision, with the edition boundaries, "
        "the answer at each load and the workload's own answer marked. --kind pareto: every "
        "option's capital cost against tokens/s per user (1000 / TPOT), the cheapest for "
        "their speed joined as the Pareto front, the answer marked.",
    )
    add_workload_arguments(plot)
    plot.add_argument(
        "-o", "--output", required=True, help="image to write: .png or .svg (from its suffix)"
    )
    plot.add_argument("--kind", choices=KINDS, default="load", help="which chart (default: load)")
    plot.add_argument(
        "--qps-min",
        type=float,
        metavar="N",
        help=f"load chart: lowest peak_qps (default: the workload's / {DEFAULT_SPAN:g})",
    )
    plot.add_argument(
        "--qps-max",
        type=float,
        metavar="N",
        help=f"load chart: highest peak_qps (default: the workload's x {DEFAULT_SPAN:g})",
    )
    plot.add_argument(
        "--points",
        type=int,
        metavar="N",
        default=DEFAULT_POINTS,
        help=f"load chart: loads evaluated, evenly on a log scale (default {DEFAULT_POINTS})",
    )
    plot.add_argument("--rules", help="rule file or folder, layered on the shipped rules")
    plot.add_argument("--no-shipped", action="store_true", help="use only the --rules files")


def format_of(output: Path) -> str:
    """The image format its suffix names; another suffix is an error naming the formats."""
    fmt = FORMATS.get(output.suffix.lower())
    if fmt is None:
        raise WorkloadError(
            f"--output: {output.name!r} has no image format suffix; use " + " or ".join(FORMATS)
        )
    return fmt


def _range(args: argparse.Namespace, qps: float) -> tuple[float, float, int]:
    low = args.qps_min if args.qps_min is not None else qps / DEFAULT_SPAN
    high = args.qps_max if args.qps_max is not None else qps * DEFAULT_SPAN
    for name, value in (("--qps-min", low), ("--qps-max", high)):
        if not (math.isfinite(value) and value > 0):
            raise WorkloadError(f"{name}: expected a positive number of requests/s; got {value}")
    if low >= high:
        raise WorkloadError(f"--qps-min {low:g} must be below --qps-max {high:g}")
    if not 2 <= args.points <= MAX_POINTS:
        raise WorkloadError(
            f"--points: expected a whole number from 2 to {MAX_POINTS}; got {args.points}"
        )
    return low, high, args.points


def run_plot(args: argparse.Namespace) -> int:
    """Evaluate the workload and draw the chart ``--kind`` names to ``--output``."""
    output = Path(args.output)
    fmt = format_of(output)
    require_matplotlib()
    rules = rules_option(args.rules, no_shipped=args.no_shipped)
    rec = check_deployable(evaluate(workload_of_args(args), rules))
    if args.kind == "pareto":
        draw_pareto(pareto_chart(rec), output, fmt)
    else:
        low, high, points = _range(args, float(rec.workload.peak_qps))
        draw_load(load_chart(rec, rules, low, high, points), output, fmt)
    print(f"r1rules: wrote {output}")
    return EXIT_OK
