"""Output that cannot be written: one line naming what and why (exit 74, ``_exit``), never
an internal error; a closed pipe is left to ``main``, which ends quietly (141).

The files the command writes (a sweep's output and journal) are written inside
``writing``. Standard output is guarded for the whole command (``guarded_stdout``), and so
is a standard output that was closed before the command started (``r1rules ... >&-``):
Python then sets ``sys.stdout`` to None, and ``print`` would write nothing, silently.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import sys
from collections.abc import Iterator
from typing import TextIO, cast

__all__ = ["STANDARD_OUTPUT", "OutputError", "guarded_stdout", "silence_stdout", "writing"]

STANDARD_OUTPUT = "to standard output"


class OutputError(Exception):
    """Output that could not be written: the message names it and says why."""


@contextlib.contextmanager
def writing(what: str, then: str = "") -> Iterator[None]:
    """Within the block, an OSError other than a closed pipe raises OutputError: "cannot
    write {what}: {why}{then}" (``then``: what the user can do about it)."""
    try:
        yield
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise OutputError(f"cannot write {what}: {exc.strerror or exc}{then}") from None


class _GuardedStdout(io.TextIOBase):
    """Standard output (``stream``; None: closed) whose write errors are OutputErrors. A
    failed write fails again at the next flush: a caller that swallows OSError (argparse's
    --help) does not hide it from ``main``."""

    def __init__(self, stream: TextIO | None) -> None:
        super().__init__()
        self._stream = stream
        self._failed: BrokenPipeError | OutputError | None = None

    def _open(self) -> TextIO:
        if self._stream is None:
            raise OSError(errno.EBADF, "it is closed")
        return self._stream

    def write(self, text: str, /) -> int:
        try:
            with writing(STANDARD_OUTPUT):
                return self._open().write(text)
        except (BrokenPipeError, OutputError) as exc:
            self._failed = exc
            raise

    def flush(self) -> None:
        if self._failed is not None:
            raise self._failed
        if self._stream is not None:
            with writing(STANDARD_OUTPUT):
                self._stream.flush()

    def fileno(self) -> int:
        return self._open().fileno()

    def isatty(self) -> bool:
        return self._stream is not None and self._stream.isatty()

    def close(self) -> None:  # the guard's end (garbage collected) leaves stdout open
        pass


@contextlib.contextmanager
def guarded_stdout() -> Iterator[None]:
    """Within the block, ``sys.stdout`` raises OutputError when it cannot be written."""
    stream = sys.stdout
    sys.stdout = cast(TextIO, _GuardedStdout(stream))
    try:
        yield
    finally:
        sys.stdout = stream


def silence_stdout() -> None:
    """Point standard output at devnull, as the Python docs advise once it has failed (a
    closed pipe, a full disk), so that the interpreter's last flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (AttributeError, OSError, ValueError):  # closed, or no descriptor (a test's capture)
        pass
