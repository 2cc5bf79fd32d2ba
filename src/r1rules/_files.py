"""Reading the files r1rules is given, bounded: every input file (workloads, sweep grids, rule
files, catalogs, Hugging Face configs) is read through here, so none can exhaust memory
(``/dev/zero``), and every way a file can be unreadable becomes one message.

The low-level readers raise :class:`UnreadableFile`; each caller turns it into its own error
type (a workload file's into ``WorkloadError``, a rule file's into a ``RuleError`` problem,
a catalog's into ``CatalogError``), with the file named.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import tomli

from r1rules._errors import WorkloadError

__all__ = ["MAX_FILE_BYTES", "UnreadableFile", "read_json", "read_text", "read_toml", "toml_of"]

# The largest input file read: the shipped rules and catalogs are about 100 KB in all, a
# Hugging Face config.json a few KB; 8 MiB leaves room for generated rule sets at the
# engine's limits (4,096 rules) with long texts.
MAX_FILE_BYTES = 8 * 2**20


class UnreadableFile(Exception):
    """Why a file could not be read or parsed; ``reason`` is a short phrase for a message."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    @property
    def message(self) -> str:
        """The problem as a file's loader reports it: "invalid TOML: ..." as it is, any other
        reason after "cannot read: "."""
        return self.reason if self.reason.startswith("invalid") else f"cannot read: {self.reason}"


def read_text(path: str | os.PathLike[str], limit: int = MAX_FILE_BYTES) -> str:
    """The file's text (UTF-8), reading at most ``limit`` + 1 bytes whatever the file is."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except IsADirectoryError:
        raise UnreadableFile("is a folder, not a file") from None
    except OSError as exc:
        raise UnreadableFile(exc.strerror or type(exc).__name__) from None
    except ValueError as exc:  # a NUL byte in the name
        raise UnreadableFile(str(exc)) from None
    if len(data) > limit:
        raise UnreadableFile(f"larger than {limit:,} bytes")
    try:
        return data.decode("utf-8-sig")  # a leading byte-order mark is a signature, not text
    except UnicodeDecodeError as exc:
        raise UnreadableFile(f"not UTF-8 text (byte {exc.start})") from None


def toml_of(text: str) -> dict[str, Any]:
    """Parsed TOML; UnreadableFile("invalid TOML: ...") for anything tomli or Python refuse
    (syntax, nesting deeper than the interpreter allows, integers of over 4,300 digits)."""
    try:
        return tomli.loads(text)
    except tomli.TOMLDecodeError as exc:
        raise UnreadableFile(f"invalid TOML: {exc}") from None
    except RecursionError:
        raise UnreadableFile("invalid TOML: nested too deeply") from None
    except ValueError as exc:  # int digits beyond sys.get_int_max_str_digits()
        raise UnreadableFile(f"invalid TOML: {_digits(exc)}") from None


def read_json(path: str | os.PathLike[str], limit: int = MAX_FILE_BYTES) -> object:
    """Parsed JSON from a bounded read; UnreadableFile("invalid JSON: ...") when it is not."""
    text = read_text(path, limit)
    try:
        return json.loads(text)
    except RecursionError:
        raise UnreadableFile("invalid JSON: nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, or integer digits beyond the limit
        raise UnreadableFile(f"invalid JSON: {_digits(exc)}") from None


def _digits(exc: ValueError) -> str:
    """Python's refusal of a huge integer in our words (its advice is not the user's to take)."""
    if "integer string conversion" in str(exc):
        return f"a whole number has more than {sys.get_int_max_str_digits():,} digits"
    return str(exc)


def read_toml(path: str | os.PathLike[str], what: str) -> dict[str, Any]:
    """A command input file (``what``: "workload", "grid") parsed; WorkloadError naming the
    file when it cannot be read or parsed."""
    try:
        return toml_of(read_text(path))
    except UnreadableFile as exc:
        if exc.reason.startswith("invalid"):
            raise WorkloadError(f"{path}: {exc.reason}") from None
        raise WorkloadError(f"cannot read {what} file {path}: {exc.reason}") from None
