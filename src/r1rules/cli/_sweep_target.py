"""Where a sweep writes its output.

A regular file is replaced whole: written to a temporary file beside it, then renamed over
it (a symbolic link is followed, so the file it names is replaced and the link kept). A
stream (standard output as ``-``, a named pipe, a device such as /dev/null) cannot be
replaced: it is written straight into, and the sweep's journal and lock, which sit beside
a file, go in the current folder under a name derived from the output's path.
"""

from __future__ import annotations

import hashlib
import os
import stat
import sys
from pathlib import Path
from typing import IO

import attrs

from r1rules._errors import WorkloadError

__all__ = ["STDOUT", "Target", "target_of"]

STDOUT = "-"


@attrs.frozen
class Target:
    """``shown``: the output as given; ``file``: the regular file replaced, or for a
    stream the name in the current folder its journal and lock are named after."""

    shown: str
    file: Path
    stream: bool

    @property
    def journal(self) -> Path:
        return self.file.with_name(f".{self.file.name}.partial")

    def open_stream(self) -> IO[str]:
        """The stream, opened for writing (standard output is not closed by the caller's
        ``with``: a duplicate of it is)."""
        if self.shown == STDOUT:
            sys.stdout.flush()
            return open(os.dup(sys.stdout.fileno()), "w", encoding="utf-8", newline="")
        return open(self.shown, "w", encoding="utf-8", newline="")


def target_of(text: str) -> Target:
    """The target ``--output`` names; WorkloadError for a folder, a missing folder, or a
    path that cannot be examined."""
    if text == STDOUT:
        return _stream(text)
    path = Path(text)
    try:
        mode = os.stat(path).st_mode  # follows symbolic links
    except FileNotFoundError:
        real = Path(os.path.realpath(path))  # a new file, or a link to one not made yet
        if not real.parent.is_dir():
            raise WorkloadError(f"--output: no such folder {real.parent}") from None
        return Target(text, real, stream=False)
    except OSError as exc:
        raise WorkloadError(f"--output: {text}: {exc.strerror}") from None
    if stat.S_ISDIR(mode):
        raise WorkloadError(f"--output: {text} is a folder")
    if stat.S_ISREG(mode):
        return Target(text, Path(os.path.realpath(path)), stream=False)
    return _stream(text)  # a named pipe, a device, a socket


def _stream(text: str) -> Target:
    digest = hashlib.sha256(os.path.abspath(text).encode("utf-8", "surrogateescape"))
    return Target(text, Path.cwd() / f"r1rules-sweep-{digest.hexdigest()[:12]}", stream=True)
