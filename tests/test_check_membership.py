"""The checker's membership test: one set lookup per value, with the same meaning as equality."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from r1rules.check._domain import satisfies
from r1rules.ruleset._model import Test as Cond

VALUES = st.one_of(
    st.booleans(),
    st.integers(-5, 5),
    st.sampled_from([0.5, 1.0, 2.5, -1.0]),
    st.sampled_from(["a", "b", "1", "True"]),
)


@given(st.lists(VALUES, max_size=12), VALUES)
def test_in_and_not_in_agree_with_eq_on_each_value(values: list[object], probe: object) -> None:
    """``x in [v1, v2, ...]`` holds exactly when ``x == vi`` holds for some i, with the
    checker's own equality (numbers compared exactly; True is not 1; "1" is not 1)."""
    member = Fraction(str(probe)) if type(probe) in (int, float) else probe
    as_in = satisfies(Cond("f", "in", tuple(values)), member)  # type: ignore[arg-type]
    as_eq = any(satisfies(Cond("f", "eq", v), member) for v in values)  # type: ignore[arg-type]
    assert as_in == as_eq
    assert satisfies(Cond("f", "not_in", tuple(values)), member) == (not as_eq)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("values", "member", "inside"),
    [
        ((1, 2), Fraction(1), True),
        ((1.0,), Fraction(1), True),
        ((True,), Fraction(1), False),
        ((1,), True, False),
        (("1",), Fraction(1), False),
        ((0.1,), Fraction("0.1"), True),
        (tuple(range(10_000)), Fraction(9_999), True),
        (tuple(range(10_000)), Fraction(10_000), False),
    ],
)
def test_membership_cases(values: tuple[object, ...], member: object, inside: bool) -> None:
    assert satisfies(Cond("f", "in", values), member) is inside  # type: ignore[arg-type]
    assert satisfies(Cond("f", "not_in", values), member) is (not inside)  # type: ignore[arg-type]
