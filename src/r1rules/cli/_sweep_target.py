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
import secrets
import stat
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO

import attrs

from r1rules._errors import WorkloadError
from r1rules.cli._output import STANDARD_OUTPUT, writing
from r1rules.cli._sweep import RowWriter

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

    def write(self, rows: Iterable[Mapping[str, object]], fmt: str, columns: Sequence[str]) -> None:
        """Every row, whole: into the stream, or to a temporary file renamed over the file.
        OutputError when it cannot be written (the journal is kept: ``--resume`` writes the
        rows again); a closed pipe removes the journal (the reader had enough: ``| head``)."""
        what = STANDARD_OUTPUT if self.shown == STDOUT else self.shown
        then = f"; the rows are kept in {self.journal}: run the same command with --resume"
        with writing(what, then):
            if self.stream:
                try:
                    with self._open_stream() as handle:
                        _write_rows(handle, rows, fmt, columns)
                except BrokenPipeError:
                    self.journal.unlink(missing_ok=True)
                    raise
            else:
                self._write_file(rows, fmt, columns)

    def _open_stream(self) -> IO[str]:
        """The stream, opened for writing (standard output is not closed by the caller's
        ``with``: a duplicate of it is)."""
        if self.shown == STDOUT:
            sys.stdout.flush()
            return open(os.dup(sys.stdout.fileno()), "w", encoding="utf-8", newline="")
        return open(self.shown, "w", encoding="utf-8", newline="")

    def _write_file(
        self, rows: Iterable[Mapping[str, object]], fmt: str, columns: Sequence[str]
    ) -> None:
        file = self.file
        temporary = file.with_name(f".{file.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        # os.open applies the umask, as creating the output directly would (mkstemp: 0600)
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            with open(descriptor, "w", encoding="utf-8", newline="") as handle:
                _write_rows(handle, rows, fmt, columns)
                os.fsync(handle.fileno())
            os.replace(temporary, file)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise


def _write_rows(
    handle: IO[str], rows: Iterable[Mapping[str, object]], fmt: str, columns: Sequence[str]
) -> None:
    writer = RowWriter(handle, fmt, columns)
    for row in rows:
        writer.write(row)
    handle.flush()


def target_of(text: str) -> Target:
    """The target ``--output`` names; WorkloadError for an empty path, a folder, a missing
    folder, or a path that cannot be examined."""
    if text == STDOUT:
        return _stream(text)
    if not text:
        raise WorkloadError(
            "--output: the path is empty; give a file (.csv, .jsonl) or - for stdout"
        )
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
