"""What would change the answer: for each input, the nearest value up and down at which the
edition, the chosen GPU or the GPU count changes, and the rule that makes it change.

The search re-evaluates the workload with one input moved (``options=False``: the same
answer, less work): it brackets the change by growing steps (x1.05 ... x1000, or down),
then bisects to about 0.1% (whole numbers for token counts). A change between two tried
values is found; a change and its reversal between two of them is not (the bracket is
reported as far as it was searched).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import attrs

from r1rules._errors import R1RulesError

__all__ = ["INPUTS", "Boundary", "boundaries_of"]

INPUTS = (
    "peak_qps",
    "latency_ms",
    "prompt_tokens",
    "output_tokens",
    "budget_usd",
    "params_b",
    "request_overhead_ms",
)
_STEPS = (1.05, 1.1, 1.25, 1.5, 2.0, 3.0, 5.0, 10.0, 100.0, 1000.0)
_BISECT_RELATIVE = 1e-3
_INTEGER = frozenset({"prompt_tokens", "output_tokens"})
# The decided fields a boundary watches, with the facts (and so the tables) that set them.
_WATCHED = (("edition", "edition"), ("gpu", "gpu"), ("gpu_count", "gpu_count"))

Signature = tuple[str, str, int]


@attrs.frozen
class Boundary:
    """The nearest ``value`` of ``input`` (``direction`` "up" or "down" from ``current``) at
    which the answer changes from ``before`` to ``after`` (edition, GPU, GPU count), and
    the rule (``rule_id``, ``source``) that decides the new answer there; at ``last_same``
    (within 0.1%, or one token) it is still ``before``. ``value`` is None when no change
    was found within the searched range (``searched_to``)."""

    input: str
    direction: str
    current: float
    value: float | None
    last_same: float  # the value nearest ``value`` where the answer is still ``before``
    searched_to: float
    before: Signature
    after: Signature | None
    rule_id: str
    source: str

    def __str__(self) -> str:
        if self.value is None:
            return (
                f"{self.input} {self.direction}: no change {self.direction} to "
                f"{self.searched_to:,.6g} "
                f"(from {self.current:,.6g})"
            )
        assert self.after is not None
        changed = [
            f"{name} {a} -> {b}"
            for (name, _fact), a, b in zip(_WATCHED, self.before, self.after, strict=True)
            if a != b
        ]
        side = "above" if self.direction == "up" else "below"
        return (
            f"{self.input} {side} {self.value:,.6g} (now {self.current:,.6g}): "
            f"{'; '.join(changed)} [{self.rule_id}, {self.source}]"
        )


def _signature(rec: Any) -> Signature:
    return (str(rec.edition), str(rec.gpu.id), int(rec.gpu.count))


def _deciding_rule(rec: Any, before: Signature, after: Signature) -> tuple[str, str]:
    """The rule of ``rec`` that set the first field that changed."""
    for (_name, fact), a, b in zip(_WATCHED, before, after, strict=True):
        if a != b:
            found = rec.justification_for(fact)
            if found:
                return found[-1].rule_id, found[-1].source
    return "", ""


class _Probe:
    """Evaluations of the workload with one input moved (memoised per value)."""

    def __init__(self, rec: Any, name: str, evaluate: Callable[..., Any]) -> None:
        self.rec = rec
        self.name = name
        self.evaluate = evaluate
        self.seen: dict[float, Any] = {}

    def at(self, value: float) -> Any:
        """The recommendation at ``value`` (None where the workload or rules refuse it)."""
        if value not in self.seen:
            workload = self.rec.workload
            changes: dict[str, object] = {self.name: int(value) if self.name in _INTEGER else value}
            if self.name == "params_b":
                changes["model"] = None
            if workload.concurrent_requests is not None:
                # a load given as requests in flight: moving peak_qps gives the load as a
                # rate; moving anything else derives peak_qps again by Little's law
                other = "concurrent_requests" if self.name == "peak_qps" else "peak_qps"
                changes[other] = None
            try:
                moved = attrs.evolve(workload, **changes)
                self.seen[value] = self.evaluate(moved, self.rec.rules, options=False)
            except R1RulesError:
                self.seen[value] = None
        return self.seen[value]


def _search(probe: _Probe, current: float, direction: str) -> Boundary:
    # A catalog model's size is moved as a generic dense model of that size: the stand-in
    # at the current size is the baseline (it need not answer as the real model does).
    start = probe.at(current) if probe.name == "params_b" else probe.rec
    if start is None:
        return Boundary(
            probe.name, direction, current, None, current, current, ("", "", 0), None, "", ""
        )
    before = _signature(start)
    integer = probe.name in _INTEGER
    near, far, found = current, current, None
    for step in _STEPS:
        value = current * step if direction == "up" else current / step
        if integer:
            value = float(max(1, round(value)))
        if value == near or (integer and value < 1):
            continue
        far = value
        rec = probe.at(value)
        if rec is None:
            break
        if _signature(rec) != before:
            found = rec
            break
        near = value
    if found is None:
        return Boundary(probe.name, direction, current, None, near, far, before, None, "", "")
    while abs(far - near) > (1.0 if integer else _BISECT_RELATIVE * abs(far)):
        middle = (near + far) / 2.0
        if integer:
            middle = float(math.floor(middle) if direction == "up" else math.ceil(middle))
            if middle in (near, far):
                break
        rec = probe.at(middle)
        if rec is None:  # refused in between (a context window, say): stop narrowing
            break
        if _signature(rec) == before:
            near = middle
        else:
            far, found = middle, rec
    after = _signature(found)
    rule_id, source = _deciding_rule(found, before, after)
    return Boundary(probe.name, direction, current, far, near, far, before, after, rule_id, source)


def _current(rec: Any, name: str) -> float | None:
    workload = rec.workload
    if name == "params_b":
        model = rec.rules.catalog.models.get(rec.facts.get("model"))
        dense = model is None or model.kind == "dense"
        return float(rec.facts["size_class_b"]) if dense else None
    value = getattr(workload, name)
    if name == "request_overhead_ms" and value is None:  # the engine profile's figure
        return float(rec.estimates.request_ms)
    return None if value is None else float(value)


def boundaries_of(rec: Any) -> tuple[Boundary, ...]:
    """Every input's nearest change up and down (see the module docstring). Inputs that do
    not apply are left out: ``budget_usd`` without a budget, ``params_b`` for a mixture of
    experts (its size is fixed by its architecture: there is no generic stand-in),
    ``request_overhead_ms`` at 0 (llama.cpp's); unstated, it moves from the engine
    profile's figure. A dense catalog model's size is moved as a generic dense model of
    that size, and its boundaries are the stand-in's (``before`` is the stand-in's answer
    at the current size).
    """
    found = []
    for name in INPUTS:
        current = _current(rec, name)
        if current is None or current <= 0:
            continue
        probe = _Probe(rec, name, rec.evaluator)
        found += [_search(probe, current, "up"), _search(probe, current, "down")]
    return tuple(found)
