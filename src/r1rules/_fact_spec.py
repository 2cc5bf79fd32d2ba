"""Fact specifications: the type, domain and producer of one fact name, and the helpers the
vocabulary (``_vocabulary``) declares its built-in facts with."""

from __future__ import annotations

import math

import attrs

__all__ = ["FactSpec", "Kind", "Producer", "bool_fact", "enum_fact", "number_fact", "text_fact"]


class Kind:
    """Fact types. Only NUMBER, ENUM and BOOL can be matched by conditions."""

    NUMBER = "number"
    ENUM = "enum"
    BOOL = "bool"
    TEXT = "text"
    GPU_LIST = "gpu-list"

    MATCHABLE = frozenset({NUMBER, ENUM, BOOL})
    ALL = (NUMBER, ENUM, BOOL, TEXT, GPU_LIST)


class Producer:
    """Where a fact's value comes from; it fixes when in the pipeline a fact is known."""

    WORKLOAD = "workload"  # the Workload and the model's memory physics, before any rule
    RULES = "rules"  # set by a rule's `set` consequence
    SIZING = "sizing"  # the sizing physics, after the rules that feed it


@attrs.frozen
class FactSpec:
    """One fact name: its type, the values it can take, and who produces it.

    ``values`` lists an enum's allowed values; ``values_from`` names a catalog
    ("models" or "gpus") whose ids are the allowed values instead. Numbers live in
    ``[low, high]``; ``optional`` facts may be absent (a condition on an absent fact is
    false, in the engine and in the reference evaluator alike).
    """

    name: str
    kind: str
    producer: str
    description: str
    unit: str = ""
    values: tuple[str, ...] = ()
    values_from: str = ""
    low: float = -math.inf
    high: float = math.inf
    integer: bool = False
    optional: bool = False
    declared_in: str = ""  # the rule file that declared it; "" for built-in facts


def number_fact(
    name: str,
    producer: str,
    description: str,
    unit: str,
    low: float = 0.0,
    high: float = math.inf,
    *,
    integer: bool = False,
    optional: bool = False,
) -> FactSpec:
    return FactSpec(
        name,
        Kind.NUMBER,
        producer,
        description,
        unit,
        low=low,
        high=high,
        integer=integer,
        optional=optional,
    )


def enum_fact(
    name: str, producer: str, description: str, values: tuple[str, ...] = (), values_from: str = ""
) -> FactSpec:
    return FactSpec(name, Kind.ENUM, producer, description, values=values, values_from=values_from)


def bool_fact(name: str, producer: str, description: str) -> FactSpec:
    return FactSpec(name, Kind.BOOL, producer, description)


def text_fact(name: str, description: str) -> FactSpec:
    return FactSpec(name, Kind.TEXT, Producer.RULES, description)
