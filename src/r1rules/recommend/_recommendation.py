"""What evaluate() returns: the recommendation, its estimates, the rules behind each field,
its report (``str``), its JSON-ready form (``to_dict``) and ``why_not`` explanations."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs

from r1rules.catalog import FrozenMap
from r1rules.physics import Cost
from r1rules.recommend._boundaries import Boundary, boundaries_of
from r1rules.recommend._message import Message, TraceStep
from r1rules.recommend._options import Option
from r1rules.recommend._report import finite, recommendation_dict, render_text, why_not
from r1rules.recommend._rows import Value, recommendation_row
from r1rules.ruleset import Alternative

__all__ = ["GpuChoice", "Justification", "Message", "Recommendation", "TraceStep"]


@attrs.frozen
class GpuChoice:
    """The recommended GPU model and how many of it."""

    id: str
    name: str
    count: int
    per_node: int
    memory_gb: float


@attrs.frozen
class Justification:
    """A rule that fired: its provenance, the fact values its condition read, what it set.

    ``values`` are (fact, value) pairs as the rule saw them; ``sets`` the facts it set;
    ``suppressed`` is true for a match that a first-hit table overruled (kept in the trace
    so that nothing that matched is hidden, but it set nothing).
    """

    rule_id: str
    title: str
    source: str
    why: str
    table_id: str
    values: tuple[tuple[str, object], ...]
    sets: tuple[tuple[str, object], ...]
    suppressed: bool = False

    def __str__(self) -> str:
        read = ", ".join(f"{k}={_show(v)}" for k, v in self.values) or "always"
        done = ", ".join(f"{k}={_show(v)}" for k, v in self.sets)
        head = f"{self.rule_id} [{self.source}]"
        tail = " (suppressed by an earlier rule of a first-hit table)" if self.suppressed else ""
        return f"{head}: when {read}" + (f" -> {done}" if done else "") + tail


def _show(value: object) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)


def _read_only(facts: Mapping[str, object]) -> Mapping[str, object]:
    """A read-only copy: a caller cannot change the facts a Recommendation was built with
    (a FrozenMap, read-only already, as it is)."""
    return facts if isinstance(facts, FrozenMap) else FrozenMap(facts)


class Later:
    """A field's value still to be worked out: ``make()`` returns it. ``evaluate(w,
    options=False)`` leaves the rules' texts and, when it is not the answer, the article's
    configuration in this form, and the field gives the value on first read (``_OnRead``);
    no caller ever sees a Later."""

    __slots__ = ("make",)

    def __init__(self, make: Callable[[], object]) -> None:
        self.make = make


class _OnRead:
    """A slot of Recommendation that may hold a ``Later``: read, it works the value out
    once and keeps it (two threads reading at once may both work it out: the same value).
    Everything else (attrs' ``__init__``, ``evolve``, pickling) reads and writes the value
    through it, so no Later escapes."""

    __slots__ = ("slot",)

    def __init__(self, slot: Any) -> None:
        self.slot = slot

    def __get__(self, obj: object, owner: type | None = None) -> Any:
        if obj is None:
            return self
        value = self.slot.__get__(obj, owner)
        if type(value) is Later:
            value = value.make()
            self.slot.__set__(obj, value)
        return value

    def __set__(self, obj: object, value: object) -> None:
        self.slot.__set__(obj, value)


@attrs.frozen(eq=False)
class Recommendation:
    """Hardware for one workload and why.

    Every field is justified by the fired rules in ``justifications`` (firing order, built
    from ``trace`` on first use); ``justification_for(field)`` returns those that set it.
    ``estimates`` are the physics figures for the recommended deployment. ``facts`` holds
    every fact of the evaluation (workload, decisions, sizing) as the last rule saw them.

    ``cost`` is the answer's capital, hourly and per-token cost (None when its GPU has no
    price); ``chosen`` the answer as an option; ``article`` the article's own
    configuration, sized and priced the same way; ``options`` every option weighed,
    ranked by ``objective`` with the Pareto set marked (empty with ``options=False``).

    ``evaluate`` leaves ``notes``, ``warnings`` and ``trace`` (and, with ``options=False``,
    ``article`` when it is not the answer) to be worked out on first read, once; they are
    the same values either way, and pickling or copying a recommendation works them out
    first.
    """

    edition: str
    gpu: GpuChoice
    nodes: int
    cpu: str
    memory_gb: float
    storage: str
    network: str
    alternatives: tuple[Alternative, ...]
    notes: tuple[Message, ...]
    warnings: tuple[Message, ...]
    # The fired rules as (rule id, values read, values set, suppressed), in firing order;
    # ``justifications`` turns them into Justification values on first use.
    trace: tuple[TraceStep, ...] = attrs.field(repr=False)
    estimates: Any  # r1rules.Estimates
    ruleset_version: str
    facts: Mapping[str, object] = attrs.field(repr=False, converter=_read_only)
    workload: Any = attrs.field(repr=False)  # r1rules.Workload
    rules: Any = attrs.field(repr=False)  # the RuleSet that decided
    cost: Cost | None
    article: Option = attrs.field(repr=False)
    chosen: Option = attrs.field(repr=False)
    options: tuple[Option, ...] = attrs.field(repr=False)
    objective: str
    # The function that made it (``evaluate``): ``boundaries`` evaluates variants with it.
    evaluator: Callable[..., Any] = attrs.field(repr=False, eq=False)
    _justifications: tuple[Justification, ...] | None = attrs.field(
        default=None, init=False, repr=False
    )

    @property
    def justifications(self) -> tuple[Justification, ...]:
        """Every rule that fired, with its provenance and the values it read and set."""
        built = self._justifications
        if built is None:
            by_id = self.rules.rules_by_id
            built = tuple(
                Justification(
                    rule.id,
                    rule.title,
                    rule.source,
                    rule.why,
                    rule.table_id,
                    values,
                    sets,
                    suppressed,
                )
                for rule, values, sets, suppressed in (
                    (by_id[rule_id], values, sets, suppressed)
                    for rule_id, values, sets, suppressed in self.trace
                )
            )
            object.__setattr__(self, "_justifications", built)
        return built

    def justification_for(self, field: str) -> tuple[Justification, ...]:
        """The fired rules that set ``field`` (the last one decided its value)."""
        name = {"gpu.id": "gpu", "gpu.count": "gpu_count"}.get(field, field)
        return tuple(
            j for j in self.justifications if not j.suppressed and any(k == name for k, _ in j.sets)
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (plain str/int/float/bool/None/list/dict values only).

        Strict JSON has no NaN or Infinity: a non-finite number (such as the inf TTFT and
        TPOT of a deployment that cannot hold the model, or an inf fact a rule set
        computes) becomes ``None`` (JSON ``null``), so that
        ``json.dumps(rec.to_dict(), allow_nan=False)`` always succeeds.
        """
        plain: dict[str, Any] = finite(recommendation_dict(self))
        return plain

    def to_row(self) -> dict[str, Value]:
        """One flat row (str/int/float/bool/None values, non-finite numbers as None): the
        workload, the answer, its cost, the article's configuration and the warnings, in
        the columns ``r1rules.recommend.ROW_COLUMNS`` documents (name, unit, meaning)."""
        return recommendation_row(self)

    def why_not(self, rule_id: str) -> str:
        """Why a rule did not fire for this workload: the conditions that failed, by how much."""
        return why_not(self, rule_id)

    def report(self, verbose: bool = False) -> str:
        """The text report (``str(rec)``); ``verbose`` adds the full fired-rules trace."""
        return render_text(self, verbose=verbose)

    def __str__(self) -> str:
        return render_text(self)

    def boundaries(self) -> tuple[Boundary, ...]:
        """What would change the answer: for each input, the nearest value up and down at
        which the edition, the chosen GPU or the GPU count changes, with the rule that
        makes it change. Computed on demand (a few dozen evaluations)."""
        return boundaries_of(self)


for _name in ("notes", "warnings", "trace", "article"):  # may hold a Later (``_OnRead``)
    setattr(Recommendation, _name, _OnRead(Recommendation.__dict__[_name]))
