"""What a sweep holds while it runs: the output's lock, the progress line, and SIGTERM
turned into an exception so that a terminated sweep stops as an interrupted one does."""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

from r1rules._errors import WorkloadError

__all__ = ["Progress", "Terminated", "output_lock", "terminate_as_exception"]


class Terminated(BaseException):
    """SIGTERM arrived (a BaseException, like KeyboardInterrupt: no ``except Exception``
    swallows it on the way up)."""


@contextlib.contextmanager
def terminate_as_exception() -> Iterator[None]:
    """Within the block, SIGTERM raises Terminated in the main thread (once: a second
    SIGTERM while the sweep winds down is ignored, so the clean-up runs to its end). The
    previous handler is restored after. Outside the main thread, nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    raised = False

    def handler(_signum: int, _frame: FrameType | None) -> None:
        nonlocal raised
        if not raised:
            raised = True
            raise Terminated

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def output_lock(output: Path, shown: str = "") -> Iterator[None]:
    """Hold an exclusive lock on the output (a ``.<name>.lock`` file beside it) for the whole
    sweep, so that a second sweep to the same output refuses at once instead of sharing the
    journal. The lock is the kernel's (flock): a process that dies releases it. The file is
    removed while still locked; a sweep that locked a file since removed tries again."""
    path = output.with_name(f".{output.name}.lock")
    while True:
        try:
            handle = open(path, "a+b")  # closed below, or in the finally
        except OSError as exc:
            raise WorkloadError(f"--output: cannot create {path}: {exc.strerror}") from None
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise WorkloadError(
                f"--output: another sweep is writing {shown or output} (it holds {path}); wait "
                "for it to finish or choose another --output"
            ) from None
        try:
            current = os.stat(path).st_ino
        except FileNotFoundError:
            current = -1
        if current == os.fstat(handle.fileno()).st_ino:
            break
        handle.close()  # the holder removed it between our open and our lock
    try:
        yield
    finally:
        path.unlink(missing_ok=True)
        handle.close()


class Progress:
    """A one-line progress report on stderr, redrawn at most five times a second."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.total = self.done = 0
        self.started = self.shown = 0.0

    def start(self, total: int) -> None:
        self.total, self.started = total, time.monotonic()

    def show(self, done: int) -> None:
        now = time.monotonic()
        if not self.enabled or (now - self.shown < 0.2 and done < self.total):
            return
        self.shown, self.done = now, done
        rate = done / max(now - self.started, 1e-9)
        left = (self.total - done) / rate if rate > 0 else 0.0
        percent = 100.0 * done / self.total if self.total else 100.0
        sys.stderr.write(
            f"\rsweep: {done:,}/{self.total:,} rows ({percent:.0f}%), "
            f"{rate:,.0f} rows/s, {left:.0f} s left   "
        )
        sys.stderr.flush()

    def finish(self) -> None:
        if self.enabled:
            if self.done != self.total:
                self.show(self.total)
            sys.stderr.write("\n")
