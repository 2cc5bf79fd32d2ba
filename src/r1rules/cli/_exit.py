"""The command's exit codes, defined once for every subcommand."""

from __future__ import annotations

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_BROKEN_PIPE",
    "EXIT_ERRORS",
    "EXIT_INTERNAL",
    "EXIT_INTERRUPTED",
    "EXIT_IO_ERROR",
    "EXIT_OK",
    "EXIT_TERMINATED",
]

EXIT_OK = 0  # done; `check` found no errors
EXIT_ERRORS = 1  # `check` found errors in rule files that it could read
EXIT_BAD_INPUT = 2  # bad input: a workload field, an option, a rule file that cannot be read
EXIT_INTERNAL = 70  # a bug in r1rules (EX_SOFTWARE): reported in one line, never a traceback
EXIT_IO_ERROR = 74  # the output could not be written (EX_IOERR): a disk full, stdout closed
EXIT_INTERRUPTED = 130  # interrupted (128 + SIGINT); a sweep is resumable with --resume
EXIT_BROKEN_PIPE = 141  # stdout closed early (128 + SIGPIPE), as `cmd | head -1`: no message
EXIT_TERMINATED = 143  # a sweep terminated (128 + SIGTERM); resumable with --resume
