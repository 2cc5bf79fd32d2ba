"""evaluate_many(): many workloads, one rule set, results in input order (on ``Batch``)."""

from __future__ import annotations

import os
from collections.abc import Iterable

import attrs

from r1rules._errors import CatalogError, EvaluationError, R1RulesError, WorkloadError
from r1rules._workload import Workload
from r1rules.recommend._batch import Batch
from r1rules.recommend._evaluate import resolve_rules
from r1rules.recommend._recommendation import Recommendation
from r1rules.ruleset import RuleSet

__all__ = ["evaluate_many", "worker_count"]


def evaluate_many(
    workloads: Iterable[Workload],
    rules: RuleSet | str | os.PathLike[str] | None = None,
    workers: int | None = None,
) -> tuple[Recommendation, ...]:
    """The recommendation for each workload, in input order; equal to
    ``evaluate(workload, rules, options=False)`` of each: the same answer, cost and
    article comparison, without the ranked options (call ``evaluate`` on the few whose
    options you want: they cost about ten times the single answer).

    ``workers`` is how many processes evaluate, the caller's included: None or 1 runs in
    this process; N > 1 starts up to N - 1 processes (with the 'spawn' start method, so a
    script that calls this needs the usual ``if __name__ == "__main__":`` guard) for this
    call only. Small batches (fewer than ~1,000 distinct workloads per extra process) run
    in this process whatever ``workers`` says.

    Identical workloads are evaluated once; each position still gets its own
    Recommendation object. Raises WorkloadError naming the index of the first item that is
    not a Workload (before any evaluation), and otherwise the error ``evaluate`` raises for
    the first failing workload, its message prefixed with ``workloads[i]: ``; evaluation
    stops soon after a failure. Cost: one ``evaluate`` per distinct workload, divided
    among the processes, plus ~0.1 ms per result that crosses a process boundary.
    """
    items = _checked(workloads)
    ruleset = resolve_rules(rules)
    with Batch[Recommendation](ruleset, worker_count(workers)) as batch:
        outcomes = batch.run(items, stop_on_error=True)
    results: list[Recommendation] = []
    seen: set[int] = set()
    for index, outcome in enumerate(outcomes):
        if isinstance(outcome, R1RulesError):
            raise _at(index, outcome) from outcome
        assert outcome is not None  # nothing is skipped before the first error
        if id(outcome) in seen:  # a repeated workload: its own object, as evaluate gives
            outcome = attrs.evolve(outcome, facts=dict(outcome.facts))  # a fresh read-only copy
        seen.add(id(outcome))
        results.append(outcome)
    return tuple(results)


def _checked(workloads: Iterable[Workload]) -> list[Workload]:
    if isinstance(workloads, (Workload, str, bytes)) or not isinstance(workloads, Iterable):
        raise WorkloadError(
            f"workloads: expected an iterable of r1rules.Workload, not {type(workloads).__name__}"
        )
    items = list(workloads)
    for index, item in enumerate(items):
        if not isinstance(item, Workload):
            raise WorkloadError(
                f"workloads[{index}]: expected an r1rules.Workload, not {type(item).__name__}"
            )
    return items


def worker_count(workers: object) -> int:
    if workers is None:
        return 1
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise R1RulesError(
            f"workers: expected None or a whole number of processes (1 or more), not {workers!r}"
        )
    return workers


def _at(index: int, error: R1RulesError) -> R1RulesError:
    kind = type(error)
    message = f"workloads[{index}]: {error}"
    if kind in (WorkloadError, EvaluationError, CatalogError, R1RulesError):
        return kind(message)
    return error  # a subclass with its own constructor (RuleError): raised as it is
