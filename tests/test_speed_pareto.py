"""The options' Pareto marking and ranking (recommend/_options.py ``finish``): the sweep over
sorted points marks what comparing every pair marks, and the ranked options are the
options with only ``rank``, ``pareto`` and ``chosen`` set."""

from __future__ import annotations

import math

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import r1rules
from r1rules.recommend import _options
from r1rules.recommend._options import Option, finish, non_dominated, rank_key


def reference(points: list[tuple[float, float, float]]) -> list[int]:
    """Every pair compared: a point is kept unless another is no worse on every figure and
    better on one."""

    def dominates(a: tuple[float, float, float], b: tuple[float, float, float]) -> bool:
        return all(x <= y for x, y in zip(a, b, strict=True)) and a != b

    return [i for i, p in enumerate(points) if not any(dominates(q, p) for q in points)]


# Few distinct values, so that ties (equal figures, equal points) are common.
figures = st.one_of(
    st.integers(0, 4).map(float),
    st.sampled_from([math.inf, -0.0, 0.5, 1e-300]),
    st.floats(allow_nan=False),
)
point = st.tuples(figures, figures, st.integers(0, 4).map(float))


@settings(max_examples=400, derandomize=True, database=None)
@given(st.lists(point, max_size=40))
def test_the_sweep_keeps_what_comparing_every_pair_keeps(
    points: list[tuple[float, float, float]],
) -> None:
    assert non_dominated(points) == reference(points)


@settings(max_examples=200, derandomize=True, database=None)
@given(st.lists(st.tuples(figures, st.sampled_from([math.nan, 1.0, 2.0]), figures), max_size=12))
def test_points_with_a_nan_are_compared_pair_by_pair(
    points: list[tuple[float, float, float]],
) -> None:
    assert non_dominated(points) == reference(points)


def test_a_point_dominated_only_through_a_dominated_one_is_dropped() -> None:
    # (3,3,3) is dominated by (2,2,2), itself dominated by (1,1,1): both dropped.
    points = [(3.0, 3.0, 3.0), (2.0, 2.0, 2.0), (1.0, 1.0, 1.0), (0.0, 9.0, 9.0)]
    assert non_dominated(points) == [2, 3]
    assert non_dominated([(1.0, 1.0, 1.0), (1.0, 1.0, 1.0)]) == [0, 1]  # ties are both kept


def finish_reference(
    options: list[Option], objective: str, chosen: tuple[str, str]
) -> tuple[Option, ...]:
    """``finish`` as it was written before it was made fast: attrs.evolve per option and
    every pair compared."""
    ranked = sorted(options, key=lambda o: rank_key(o, objective))
    frontier = [o for o in ranked if o.fits and o.cost is not None and not o.excluded_by]
    frontier = [o for o in frontier if o.meets_targets] or frontier

    def point(o: Option) -> tuple[float, float, float]:
        return (math.inf if o.capital_usd is None else o.capital_usd, o.ttft_ms, o.gpu_count)

    kept = reference([point(o) for o in frontier])
    pareto = {frontier[i].key for i in kept}
    return tuple(
        attrs.evolve(o, rank=i, pareto=o.key in pareto, chosen=o.key == chosen)
        for i, o in enumerate(ranked, 1)
    )


@pytest.mark.parametrize("objective", ["cost", "latency", "article"])
def test_finish_ranks_and_marks_as_the_reference_does(objective: str) -> None:
    workloads = [
        r1rules.Workload(model="deepseek-r1", peak_qps=10, latency_ms=2000, budget_usd=3e6),
        r1rules.Workload(model="deepseek-r1-distill-qwen-7b", peak_qps=8, latency_ms=500),
        r1rules.Workload(model="deepseek-r1-distill-llama-70b", peak_qps=60, latency_ms=250),
    ]
    for workload in workloads:
        rec = r1rules.evaluate(attrs.evolve(workload, objective=objective))
        # Undo the marks, shuffle, and finish again: the same options, ranked the same.
        bare = [attrs.evolve(o, rank=0, pareto=False, chosen=False) for o in rec.options]
        shuffled = bare[1::2] + bare[::2]
        done = finish(shuffled, rec.objective, rec.chosen.key)
        assert done == finish_reference(shuffled, rec.objective, rec.chosen.key)
        assert done == rec.options
        assert any(o.pareto for o in done) and sum(o.chosen for o in done) == 1


def test_the_ranked_option_keeps_every_other_field() -> None:
    rec = r1rules.evaluate(r1rules.Workload(model="deepseek-r1", peak_qps=2, latency_ms=3000))
    option = rec.options[-1]
    again = _options._ranked(option, chosen=True, pareto=not option.pareto, rank=99)
    assert again == attrs.evolve(option, chosen=True, pareto=not option.pareto, rank=99)
