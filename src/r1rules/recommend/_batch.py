"""Batch: many workloads, one rule set, results in input order (``evaluate_many`` and the
sweep run on it).

What a batch shares that a loop of ``evaluate`` cannot:

- the rule set is resolved once (a path is loaded once, not once per workload);
- identical workloads (``Workload`` is frozen and hashable) are evaluated once;
- the garbage collector's passes: a loop that keeps ~100 objects per result spends a
  fifth of its time re-traversing them; the batch pauses the collector in bounded runs;
- with ``workers``, processes: the engine holds the GIL, so threads cannot evaluate in
  parallel. The calling process is one of the workers: it evaluates small chunks itself
  while ``workers - 1`` spawned processes take larger ones; their results come back
  encoded as plain tuples through spool files, which costs a third of pickling the
  Recommendations through the executor's pipe.

durable-rules' own batch calls (``assert_facts``) are not used: when any item of a batch
matches no rule, the call raises and leaves actions pending, and deleting that session
then crashes the process (see /work/shared/notes/durable-rules.md).
"""

from __future__ import annotations

import concurrent.futures as futures
import gc
import itertools
import multiprocessing
import os
import pickle
import signal
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Generic, TypeAlias, TypeVar

from r1rules._errors import R1RulesError
from r1rules._workload import Workload
from r1rules.recommend._evaluate import evaluate
from r1rules.recommend._recommendation import Recommendation
from r1rules.recommend._transport import AS_IS, ENCODED, decode, encode
from r1rules.ruleset import RuleSet

__all__ = ["Batch", "Outcome"]

# the transport encoding, under the names the tests use
_encode, _decode = encode, decode

T = TypeVar("T")
Outcome: TypeAlias = T | R1RulesError
Progress = Callable[[int, int], None]

# Below this many distinct workloads per extra process, starting processes (~0.3 s each:
# interpreter, import, rule loading, engine compilation) costs more than it saves.
MIN_PER_PROCESS = 1_000
# Work units: a pool task should run for tens of milliseconds so that its fixed cost
# (~0.2 ms of queueing and pickling) stays near 1%; the caller's own chunks are smaller
# so that it keeps the pool fed between them.
MIN_CHUNK, MAX_CHUNK, CHUNKS_PER_PROCESS = 16, 512, 24
IN_FLIGHT_PER_PROCESS = 2
PAUSED_RUN = 256


def _whole(rec: Recommendation) -> Recommendation:
    return rec


class Batch(Generic[T]):
    """Evaluates lists of workloads with one rule set, reusing its processes across calls.

    ``summarise`` turns each Recommendation into what ``run`` returns; with processes it
    runs in the worker, so a small summary (a sweep's row) is all that crosses the process
    boundary. It must be a module-level function (it is pickled by reference). Use as a
    context manager: leaving it shuts the processes down. Not for sharing between threads.
    """

    def __init__(
        self,
        rules: RuleSet,
        processes: int = 1,
        summarise: Callable[[Recommendation], T] | None = None,
    ) -> None:
        self._rules = rules
        self._processes = processes
        self._summarise: Callable[[Recommendation], T] = summarise or _whole  # type: ignore[assignment]
        self._pool: futures.ProcessPoolExecutor | None = None
        self._spool: tempfile.TemporaryDirectory[str] | None = None

    def __enter__(self) -> Batch[T]:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the worker processes (pending work is cancelled)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        if self._spool is not None:
            self._spool.cleanup()
            self._spool = None

    def run(
        self,
        workloads: Sequence[Workload],
        *,
        stop_on_error: bool = False,
        progress: Progress | None = None,
        keep: Callable[[list[Outcome[T] | None]], None] | None = None,
    ) -> list[Outcome[T] | None]:
        """One outcome per workload, in order: ``summarise(recommendation)`` or the
        R1RulesError that ``evaluate`` raised. Any other exception (a bug) propagates.

        ``progress(done, total)`` is called as distinct workloads complete. With
        ``stop_on_error``, work stops soon after the first error; every position after the
        first error may then be None, none before it is. ``keep``, when the run is
        interrupted (KeyboardInterrupt, a signal raised as an exception, any exception), is
        given the outcomes finished by then (None for the others; results a worker had
        finished are collected first) before the exception propagates: so that a caller
        keeps every finished row.
        """
        slots: dict[Workload, int] = {}
        positions = [slots.setdefault(w, len(slots)) for w in workloads]
        distinct = list(slots)
        done: list[Outcome[T] | None] = [None] * len(distinct)
        extra = min(self._processes - 1, len(distinct) // MIN_PER_PROCESS)
        try:
            if extra > 0:
                self._run_parallel(distinct, done, extra, stop_on_error, progress)
            else:
                _evaluate_into(
                    distinct, 0, done, self._rules, self._summarise, stop_on_error, progress
                )
        except BaseException:
            if keep is not None:
                keep([done[p] for p in positions])
            raise
        return [done[p] for p in positions]

    def _pool_for(self, extra: int) -> futures.ProcessPoolExecutor:
        if self._pool is None:
            # Workers receive the rule set pickled (as its files, reloaded there): fail here,
            # with the reason, rather than with a broken pool when a worker cannot reload it.
            try:
                pickle.loads(pickle.dumps(self._rules))
            except R1RulesError as exc:
                raise R1RulesError(
                    f"rules: this rule set cannot be sent to worker processes "
                    f"(use workers=None): {exc}"
                ) from None
            shm = "/dev/shm"
            self._spool = tempfile.TemporaryDirectory(
                prefix="r1rules-batch-", dir=shm if os.access(shm, os.W_OK) else None
            )
            self._pool = futures.ProcessPoolExecutor(
                max_workers=extra,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_worker,
                initargs=(self._rules, self._spool.name),
            )
        return self._pool

    def _run_parallel(
        self,
        distinct: list[Workload],
        done: list[Outcome[T] | None],
        extra: int,
        stop_on_error: bool,
        progress: Progress | None,
    ) -> None:
        """Chunks to the workers, small ones here, as they finish. Interrupted, the chunks
        workers had finished are collected into ``done`` before the exception goes on."""
        pending: dict[futures.Future[bytes | str], int] = {}  # chunks sent, not received
        try:
            pool = self._pool_for(extra)
            size = max(
                MIN_CHUNK, min(MAX_CHUNK, len(distinct) // ((extra + 1) * CHUNKS_PER_PROCESS))
            )
            local = max(1, size // 4)
            total, finished = len(distinct), 0
            start, failed = 0, False
            while (start < total and not failed) or pending:
                while start < total and not failed and len(pending) < extra * IN_FLIGHT_PER_PROCESS:
                    chunk = distinct[start : start + size]
                    with _sigint_held():
                        pending[pool.submit(_run_chunk, chunk, self._summarise)] = start
                    start += len(chunk)
                if start < total and not failed:
                    stop = min(total, start + local)
                    failed = _evaluate_into(
                        distinct[start:stop],
                        start,
                        done,
                        self._rules,
                        self._summarise,
                        stop_on_error,
                        None,
                    )
                    finished += stop - start
                    start = stop
                    ready = [f for f in pending if f.done()]
                else:
                    ready = list(futures.wait(pending, return_when=futures.FIRST_COMPLETED).done)
                for future in ready:
                    first = pending[future]
                    outcomes = _unpack(future.result(), distinct, first, self._rules)
                    done[first : first + len(outcomes)] = outcomes
                    del pending[future]  # only now: an interruption before keeps it pending
                    finished += len(outcomes)
                    failed = failed or (
                        stop_on_error and any(isinstance(o, R1RulesError) for o in outcomes)
                    )
                if progress is not None:
                    progress(finished, total)
        except BaseException:
            for future, first in pending.items():
                if future.done() and not future.cancelled() and future.exception() is None:
                    outcomes = _unpack(future.result(), distinct, first, self._rules)
                    done[first : first + len(outcomes)] = outcomes
            raise


def _evaluate_into(
    workloads: Sequence[Workload],
    first: int,
    done: list[Outcome[T] | None],
    rules: RuleSet,
    summarise: Callable[[Recommendation], T],
    stop_on_error: bool,
    progress: Progress | None,
) -> bool:
    """Evaluate in this process into ``done[first:]``; True when an error stopped it.

    The collector is paused for runs of PAUSED_RUN evaluations (see _collector_paused);
    whatever cyclic garbage a run makes is collected when the run ends.
    """
    total = len(workloads)
    for run_start in range(0, total, PAUSED_RUN):
        with _collector_paused():
            for offset in range(run_start, min(total, run_start + PAUSED_RUN)):
                outcome = _outcome(workloads[offset], rules, summarise)
                done[first + offset] = outcome
                if stop_on_error and isinstance(outcome, R1RulesError):
                    return True
        if progress is not None:
            progress(min(total, run_start + PAUSED_RUN), total)
    return False


def _outcome(
    workload: Workload, rules: RuleSet, summarise: Callable[[Recommendation], T]
) -> Outcome[T]:
    try:
        return summarise(evaluate(workload, rules, options=False))
    except R1RulesError as exc:
        return exc


# A worker process's rule set and spool folder, set once by its initializer: unpickling a
# RuleSet reloads its files, which is too slow to repeat for every task.
_worker: list[Any] = []


def _start_worker(rules: RuleSet, spool: str) -> None:
    _worker[:] = [rules, spool, itertools.count()]


def _run_chunk(
    workloads: Sequence[Workload], summarise: Callable[[Recommendation], T]
) -> bytes | str:
    """Evaluate a chunk in a worker: its packed outcomes (whole recommendations encoded),
    in a spool file whose path is returned. A result sent through the executor's pipe (a
    megabyte for 500 recommendations) is read by a thread of the parent that needs the GIL
    for every 64 KB while the parent evaluates, stalling this worker on a full pipe; a file
    is read in one call. The bytes themselves are returned if the file cannot be written."""
    rules, spool, serial = _worker
    packed: list[tuple[int, object]] = []
    with _collector_paused():
        for workload in workloads:
            outcome = _outcome(workload, rules, summarise)
            if type(outcome) is Recommendation:
                packed.append((ENCODED, encode(outcome, workload, rules)))
            else:
                packed.append((AS_IS, outcome))
        data = pickle.dumps(packed, protocol=pickle.HIGHEST_PROTOCOL)
    path = os.path.join(spool, f"{os.getpid()}-{next(serial)}")
    try:
        with open(path, "wb") as handle:
            handle.write(data)
    except OSError:
        return data
    return path


def _unpack(
    result: bytes | str, workloads: Sequence[Workload], first: int, rules: RuleSet
) -> list[Any]:
    if isinstance(result, str):
        with open(result, "rb") as handle:
            data = handle.read()
        os.unlink(result)
    else:
        data = result
    with _collector_paused():
        packed = pickle.loads(data)
        return [
            decode(value, workloads[first + i], rules) if kind == ENCODED else value
            for i, (kind, value) in enumerate(packed)
        ]


@contextmanager
def _sigint_held() -> Iterator[None]:
    """SIGINT blocked in this thread within the block. The pool starts its processes (and
    its threads) in ``submit``: they inherit the block, as the standard library's resource
    tracker does, so that Ctrl-C, which the terminal sends to every process of the group,
    interrupts this process alone; it stops the pool. A worker interrupted while starting
    would print a traceback. A SIGINT that arrives within the block is raised after it."""
    held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while results accumulate; restore it after.

    A recommendation is ~100 container objects, all of which the batch keeps; with the
    collector running, its passes keep re-traversing the growing result list: measured
    here, a loop of ``evaluate`` that keeps its results spends ~25% of its time in the
    collector, and receiving a result from a worker twice what it costs without it. The
    pause is bounded (one run of evaluations, or one received chunk) so cyclic garbage
    waits at most that long. The collector's state is process-wide: a thread that disables
    it during a batch may find it re-enabled when the batch ends.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
