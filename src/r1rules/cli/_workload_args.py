"""The workload a command reads: a TOML file of Workload fields, and ``--field`` options
that override it (``evaluate`` and ``compare`` share these)."""

from __future__ import annotations

import argparse
from typing import Any

from r1rules._errors import WorkloadError, suggest
from r1rules._files import read_toml
from r1rules._workload import FIELD_NAMES, Workload
from r1rules.cli._sweep import parse_value

__all__ = ["add_workload_arguments", "read_workload_file", "workload_of_args"]


def add_workload_arguments(parser: argparse.ArgumentParser) -> None:
    """The positional workload file and one ``--field`` option per Workload field."""
    parser.add_argument("workload", nargs="?", help="workload TOML file (keys: Workload fields)")
    for name in FIELD_NAMES:
        parser.add_argument(
            f"--{name.replace('_', '-')}",
            dest=f"field_{name}",
            metavar="VALUE",
            help=f"Workload.{name} (overrides the file)",
        )


def read_workload_file(path: str) -> dict[str, Any]:
    """A workload file's fields (top level, or under ``[workload]``); WorkloadError for an
    unknown key."""
    data = read_toml(path, "workload")
    data = data.get("workload", data) if set(data) <= {"workload"} else data
    for key in data:
        if key not in FIELD_NAMES:
            raise WorkloadError(
                f"{path}: unknown workload key {key!r}{suggest(key, FIELD_NAMES)}; "
                f"allowed: {', '.join(FIELD_NAMES)}"
            )
    return dict(data)


def option_value(name: str, text: str) -> object:
    """A command-line string as the type the Workload field takes ("null" too is None)."""
    return None if text.lower() == "null" else parse_value(name, text, name)


def workload_of_args(args: argparse.Namespace) -> Workload:
    """The Workload of a command's file and field options (an option wins)."""
    fields: dict[str, Any] = read_workload_file(args.workload) if args.workload else {}
    for name in FIELD_NAMES:
        text = getattr(args, f"field_{name}")
        if text is not None:
            fields[name] = option_value(name, text)
    return Workload(**fields)
