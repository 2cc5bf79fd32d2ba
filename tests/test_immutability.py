"""Nothing a public function returns can be changed so that a later call answers differently."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import attrs
import pytest

import r1rules

W = r1rules.Workload(model="deepseek-r1-distill-qwen-14b", peak_qps=12, latency_ms=800)


def _baseline() -> dict[str, Any]:
    return r1rules.evaluate(W).to_dict()


def _attempts(rec: r1rules.Recommendation) -> Iterator[tuple[str, Callable[[], object]]]:
    """Every mutation a caller could try on what the public API hands out."""
    rules = r1rules.default_rules()
    catalog = r1rules.default_catalog()
    some_gpu = next(iter(catalog.gpus))
    some_model = next(iter(catalog.models))
    yield "rec.facts.__setitem__", lambda: rec.facts.__setitem__("edition", "enterprise")  # type: ignore[index]
    yield "rec.facts.pop", lambda: rec.facts.pop("edition")  # type: ignore[attr-defined]
    yield "rec.facts.clear", lambda: rec.facts.clear()  # type: ignore[attr-defined]
    yield "setattr", lambda: setattr(rec, "edition", "enterprise")
    yield "setattr", lambda: setattr(rec.gpu, "count", 1)
    yield "setattr", lambda: setattr(rec.estimates, "ttft_ms", 0.0)
    yield "rec.justifications.append", lambda: rec.justifications.append(None)  # type: ignore[attr-defined]
    yield "rec.to_dict", lambda: rec.to_dict()["gpu"].__setitem__("count", 1)
    yield "rules.facts.__setitem__", lambda: rules.facts.__setitem__("edition", None)  # type: ignore[index]
    yield "rules.facts.pop", lambda: rules.facts.pop("edition")  # type: ignore[attr-defined]
    yield "setattr", lambda: setattr(rules, "tables", ())
    yield "rules.tables[0].rules.__setitem__", lambda: rules.tables[0].rules.__setitem__(0, None)  # type: ignore[index]
    yield "setattr", lambda: setattr(rules.tables[0].rules[0], "sets", ())
    yield "rules.rules_by_id.pop", lambda: rules.rules_by_id.pop(rules.tables[0].rules[0].id)  # type: ignore[attr-defined]
    yield "catalog.gpus.__setitem__", lambda: catalog.gpus.__setitem__(some_gpu, None)  # type: ignore[index]
    yield "catalog.models.pop", lambda: catalog.models.pop(some_model)  # type: ignore[attr-defined]
    yield "setattr", lambda: setattr(catalog.gpus[some_gpu], "memory_gb", 1.0)
    yield "setattr", lambda: setattr(catalog.models[some_model], "num_layers", 1)
    yield "setattr", lambda: setattr(W, "peak_qps", 1000.0)
    yield "W.to_dict", lambda: W.to_dict().__setitem__("peak_qps", 1000.0)


def test_no_mutation_of_a_result_changes_a_later_call() -> None:
    before = _baseline()
    rec = r1rules.evaluate(W)
    allowed = []
    tried = 0
    for name, attempt in _attempts(rec):
        tried += 1
        try:
            attempt()
        except (TypeError, AttributeError, attrs.exceptions.FrozenInstanceError):
            continue
        allowed.append(name)
    assert tried >= 20
    # Everything shared was refused; what was allowed changed a fresh copy (to_dict's).
    assert allowed == ["rec.to_dict", "W.to_dict"]
    assert _baseline() == before


@pytest.mark.parametrize("mutate", ["facts", "to_dict"])
def test_a_result_is_the_same_after_a_later_call(mutate: str) -> None:
    rec = r1rules.evaluate(W)
    snapshot = rec.to_dict()
    with contextlib.suppress(TypeError):
        if mutate == "facts":
            rec.facts["peak_qps"] = 1.0  # type: ignore[index]
        else:
            rec.to_dict()["facts"]["peak_qps"] = 1.0
    r1rules.evaluate(attrs.evolve(W, peak_qps=90.0))
    assert rec.to_dict() == snapshot
