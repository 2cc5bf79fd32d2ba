"""Recommendations between processes: each attrs value as a tuple of its fields."""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable
from typing import Any

import attrs

from r1rules._workload import Workload
from r1rules.recommend._recommendation import Recommendation
from r1rules.ruleset import RuleSet

__all__ = ["AS_IS", "ENCODED", "decode", "encode"]

# Sending a Recommendation between processes: pickle rebuilds each of its ~30 attrs values
# through a Python-level __setstate__ and walks every field through a dict; encoding each
# value as a tuple of its fields (attrgetter, in C) and rebuilding it with its class
# (positional __init__) costs about half. The workload and the rule set are not sent back:
# the parent puts its own rule set and its workload, resolved in it, in place, exactly as
# ``evaluate`` would have. Any field
# whose shape is not recognised travels as itself, so a new field cannot be lost.
ENCODED, AS_IS = 0, 1
_DROP, _ONE, _MANY, _KEEP = 0, 1, 2, 3


class _Shape:
    """How to take an attrs value apart into a tuple, and whether ``cls(*tuple)`` rebuilds it."""

    def __init__(self, cls: type) -> None:
        fields = [f for f in attrs.fields(cls) if f.init]  # derived fields rebuild themselves
        self.names = tuple(f.name for f in fields)
        self.positional = all(not f.kw_only for f in fields)
        getter = operator.attrgetter(*self.names)
        self.get: Callable[[object], tuple[object, ...]] = (
            getter if len(self.names) > 1 else lambda value: (getter(value),)
        )


_shapes: dict[type, _Shape] = {}


def _shape(cls: type) -> _Shape:
    shape = _shapes.get(cls)
    if shape is None:
        shape = _shapes[cls] = _Shape(cls)
    return shape


def encode(rec: Recommendation, workload: Workload, rules: RuleSet) -> tuple[object, ...]:
    shape = _shape(Recommendation)
    parts: list[tuple[int, object, object]] = []
    value: Any
    for name, value in zip(shape.names, shape.get(rec), strict=True):
        kind = type(value)
        if name == "workload" or (name == "rules" and value is rules):
            parts.append((_DROP, name, None))
        elif attrs.has(kind) and _shape(kind).positional and not isinstance(value, RuleSet):
            parts.append((_ONE, kind, _shape(kind).get(value)))
        elif (
            kind is tuple
            and value
            and attrs.has(type(value[0]))
            and len(set(map(type, value))) == 1
            and _shape(type(value[0])).positional
        ):
            item = type(value[0])
            parts.append((_MANY, item, tuple(map(_shape(item).get, value))))
        else:
            parts.append((_KEEP, None, value))
    return tuple(parts)


def _resolved(workload: Workload, rules: RuleSet) -> Workload:
    """The workload as ``evaluate`` resolved it (it did, so this cannot fail)."""
    return workload.resolve(rules.catalog)[0]


def decode(
    parts: tuple[tuple[int, Any, Any], ...], workload: Workload, rules: RuleSet
) -> Recommendation:
    values: list[Any] = []
    for kind, cls, value in parts:
        if kind == _DROP:
            values.append(_resolved(workload, rules) if cls == "workload" else rules)
        elif kind == _ONE:
            values.append(cls(*value))
        elif kind == _MANY:
            values.append(tuple(itertools.starmap(cls, value)))
        else:
            values.append(value)
    if _shape(Recommendation).positional:
        return Recommendation(*values)
    return Recommendation(**dict(zip(_shape(Recommendation).names, values, strict=True)))
