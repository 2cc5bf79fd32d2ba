"""The r1rules command: evaluate a workload file, check rule files, sweep, list catalogs.

Exit codes (``_exit``): 0 ok; 1 `check` found errors; 2 bad input (the message says which);
70 an internal error (a bug: please report it); 74 the output could not be written (the
message says which and why); 130 interrupted (Ctrl-C), 143 a sweep terminated (a sweep is
resumable); 141 stdout closed early (``r1rules ... | head -1``), said nowhere.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

import attrs

import r1rules
from r1rules._errors import R1RulesError
from r1rules.cli._catalog_cmd import add_catalog_parsers, run_catalog
from r1rules.cli._check_cmd import run_check
from r1rules.cli._compare_cmd import add_compare_parser, run_compare
from r1rules.cli._exit import (
    EXIT_BAD_INPUT,
    EXIT_BROKEN_PIPE,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_IO_ERROR,
    EXIT_OK,
)
from r1rules.cli._limits import check_deployable, rules_option
from r1rules.cli._output import OutputError, guarded_stdout, silence_stdout
from r1rules.cli._plot_cmd import add_plot_parser, run_plot
from r1rules.cli._render import add_color_argument, print_report, wants_color
from r1rules.cli._sweep_cmd import add_sweep_parser, run_sweep
from r1rules.cli._workload_args import add_workload_arguments, workload_of_args
from r1rules.recommend import evaluate

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse's own usage errors: exit 2, no traceback
        self.print_usage(sys.stderr)
        raise _BadInput(message)


class _BadInput(Exception):
    pass


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="r1rules",
        description="Hardware for serving DeepSeek-R1-family models, justified rule by rule.",
    )
    parser.add_argument("--version", action="version", version=f"r1rules {r1rules.__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run = commands.add_parser("evaluate", help="recommend hardware for a workload")
    add_workload_arguments(run)
    run.add_argument("--json", action="store_true", help="print the recommendation as JSON")
    run.add_argument("--rules", help="rule file or folder, layered on the shipped rules")
    run.add_argument("--no-shipped", action="store_true", help="use only the --rules files")
    run.add_argument(
        "--why-not",
        metavar="RULE_ID",
        action="append",
        default=[],
        help="explain why a rule did not fire (repeatable)",
    )
    run.add_argument(
        "--sensitivity",
        action="store_true",
        help="also show what would change the answer: for each input, the nearest value up "
        "and down where the edition, GPU or GPU count changes, and the rule that changes it",
    )
    run.add_argument(
        "--verbose", action="store_true", help="end the report with every fired rule, in order"
    )
    add_color_argument(run)
    check = commands.add_parser("check", help="check rule files for gaps, overlaps, dead rules")
    check.add_argument("paths", nargs="*", help="rule files or folders (default: shipped rules)")
    check.add_argument(
        "--layered", action="store_true", help="check the given files layered on the shipped rules"
    )
    check.add_argument("--json", action="store_true", help="print findings as JSON")
    add_compare_parser(commands)
    add_plot_parser(commands)
    add_sweep_parser(commands)
    add_catalog_parsers(commands)
    return parser


def _fleet(args: argparse.Namespace, workload: r1rules.Workload, rules: Any) -> int:
    """A fleet the user has (``--gpu-count``): what it carries, not what to buy."""
    if args.why_not or args.sensitivity:
        raise _BadInput("--why-not and --sensitivity explain a purchase; not with --gpu-count")
    found = r1rules.fleet(workload, rules)
    if args.json:
        print(json.dumps(found.to_dict(), indent=2, ensure_ascii=False, allow_nan=False))
    else:
        print(found.report())
    return EXIT_OK


def _evaluate(args: argparse.Namespace) -> int:
    rules = rules_option(args.rules, no_shipped=args.no_shipped)
    workload = workload_of_args(args)
    if workload.gpu_count is not None:
        return _fleet(args, workload, rules)
    rec = check_deployable(evaluate(workload, rules))
    for rule_id in args.why_not:
        try:
            rec.rules.rule(rule_id)
        except KeyError as exc:
            raise _BadInput(str(exc.args[0])) from None
    found = rec.boundaries() if args.sensitivity else ()
    if args.json:
        out = rec.to_dict()
        if args.why_not:
            out["why_not"] = {r: rec.why_not(r) for r in args.why_not}
        if args.sensitivity:
            out["boundaries"] = [attrs.asdict(b) for b in found]
        print(json.dumps(out, indent=2, ensure_ascii=False, allow_nan=False))
    else:
        parts = [rec.report(verbose=args.verbose)]
        for rule_id in args.why_not:
            parts += ["", rec.why_not(rule_id)]
        if args.sensitivity:
            parts += ["", "what would change the answer (edition, GPU, GPU count):"]
            parts.append("\n".join(f"  {b}" for b in found))
        print_report("\n".join(parts), color=wants_color(args.color))
    return EXIT_OK


def _check(args: argparse.Namespace) -> int:
    return run_check(args.paths, layered=args.layered, as_json=args.json)


def _run(args: argparse.Namespace) -> int:
    if args.command == "evaluate":
        return _evaluate(args)
    if args.command == "compare":
        return run_compare(args)
    if args.command == "plot":
        return run_plot(args)
    if args.command == "sweep":
        return run_sweep(args)
    if args.command in ("models", "gpus"):
        return run_catalog(args)
    return _check(args)


def _command(argv: Sequence[str] | None) -> int:
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # --version and --help print, then argparse exits
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    return _run(args)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit code (the console script exits with it)."""
    try:
        with guarded_stdout():
            code = _command(argv)
            sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's last flush
        return code
    except BrokenPipeError:  # what the reader wanted (``| head -1``) it has: end quietly
        silence_stdout()
        return EXIT_BROKEN_PIPE
    except OutputError as exc:
        silence_stdout()
        print(f"r1rules: error: {exc}", file=sys.stderr)
        return EXIT_IO_ERROR
    except (R1RulesError, _BadInput) as exc:
        print(f"r1rules: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:  # Ctrl-C before a sweep's rows (it says what it kept) or elsewhere
        print("\nr1rules: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - a bug; say so plainly, never a traceback
        print(
            f"r1rules: internal error ({type(exc).__name__}: {exc}); please report it",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


def console() -> None:
    sys.exit(main())


if __name__ == "__main__":
    console()
