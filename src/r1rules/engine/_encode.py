"""Facts -> the JSON object the engine matches (one per stratum), and the JSON rules that
every text reaching the engine follows (``_compile`` explains why each rule exists).

Pure text building: no durable-rules import here.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from r1rules._errors import EvaluationError

__all__ = [
    "ENCODER",
    "FACT_PREFIX",
    "MAX_EXACT_INTEGER",
    "Membership",
    "Stratum",
    "encode_fact",
    "encode_stratum",
    "engine_json",
    "prop",
    "show_int",
]

FACT_PREFIX = "f$"
MAX_EXACT_INTEGER = 2**53  # measured: int64 vs double compares exactly up to here


def prop(fact: str) -> str:
    """The engine property that carries a fact."""
    return FACT_PREFIX + fact


# json writes 1e-05 and 1e+16; durable-rules wants a fraction before the exponent. Every
# JSON text that reaches the engine (facts and the compiled ruleset) goes through engine_json.
ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))
_BARE_EXPONENT = re.compile(r"(?<=[:,\[])(-?\d+)(e[-+]?\d+)(?=[,}\]])")


def engine_json(text: str) -> str:
    """JSON text with every bare exponent given a fraction (1e-05 -> 1.0e-05)."""
    if "e-" in text or "e+" in text:  # float reprs always sign their exponent
        return _BARE_EXPONENT.sub(r"\1.0\2", text)
    return text


def _exact(name: str, value: int) -> float:
    """A whole number beyond +-2**53 as the float it equals, or EvaluationError."""
    try:
        as_float = float(value)
    except OverflowError:
        as_float = math.nan
    if as_float != value:
        raise EvaluationError(
            f"fact {name!r} is {show_int(value)}: the rule engine compares whole numbers "
            f"exactly only within +-{MAX_EXACT_INTEGER} (2**53) or when a float equals "
            "them; validate it before it reaches the rules"
        )
    return as_float


def show_int(value: int) -> str:
    if abs(value) < 10**30:
        return str(value)
    return f"a whole number of {value.bit_length()} bits"


@attrs.frozen
class Membership:
    """An ``in``/``not_in`` list decided outside the engine: ``property`` is true when
    ``fact`` has a value in ``values``, false when it has another, absent with no value."""

    property: str
    fact: str
    values: frozenset[object]


def encode_fact(
    facts: Mapping[str, object],
    extra: str = "",
    names: Sequence[str] | None = None,
    memberships: Sequence[Membership] = (),
) -> str:
    """One JSON object of the facts in ``names`` (all, when None) that have a value, each
    as ``f$<name>``, the ``memberships`` decided, plus ``extra`` (further members, already
    JSON). Only bool, number and str values can match; non-finite numbers are refused
    (validated facts never have them), and so is a whole number the engine would compare
    wrongly (one beyond +-2**53 that no float equals)."""
    chosen: dict[str, object] = {}
    pool = facts if names is None else names
    for name in pool:
        value = facts.get(name)
        if value is None or not isinstance(value, (bool, int, float, str)):
            continue
        if type(value) is int and not -MAX_EXACT_INTEGER <= value <= MAX_EXACT_INTEGER:
            value = _exact(name, value)
        chosen[FACT_PREFIX + name] = value
    for member in memberships:
        value = facts.get(member.fact)
        if value is not None:
            chosen[member.property] = value in member.values
    try:
        text = ENCODER.encode(chosen)
    except ValueError:
        bad = [
            f"{name[len(FACT_PREFIX) :]} = {value}"
            for name, value in chosen.items()
            if isinstance(value, float) and not math.isfinite(value)
        ]
        raise EvaluationError(
            f"a non-finite number cannot reach the engine: {', '.join(bad)}"
        ) from None
    text = engine_json(text)
    if extra:
        text = text[:-1] + ("," if chosen else "") + extra + "}"
    return text


@attrs.frozen
class Stratum:
    """What one stratum's fact carries: the facts its engine tests read, the memberships
    decided for it, and the stratum and partition keys (``extra``, JSON members)."""

    reads: tuple[str, ...]
    memberships: tuple[Membership, ...]
    extra: str
    keys: tuple[str, ...]  # ``"f$<name>":`` for each of ``reads``, as JSON
    # (name, key, key + "true", key + "false") for each of ``reads``: what encode_stratum
    # writes, worked out once
    members: tuple[tuple[str, str, str, str], ...] = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        members = tuple(
            (name, key, key + "true", key + "false")
            for name, key in zip(self.reads, self.keys, strict=True)
        )
        object.__setattr__(self, "members", members)


_encode_string = json.encoder.encode_basestring  # as ENCODER writes a str
_float_repr, _int_repr = float.__repr__, int.__repr__


def encode_stratum(facts: Mapping[str, object], plan: Stratum, extra: str = "") -> str:
    """``encode_fact(facts, extra, plan.reads, plan.memberships)``, the same text, built
    over twice as fast (once per stratum of every option): each member is written
    directly. A value ``encode_fact`` would convert or refuse (a whole number beyond
    +-2**53, a non-finite number, a subclass, another type) hands the whole fact to it."""
    parts: list[str] = []
    append = parts.append
    get = facts.get
    isfinite = math.isfinite
    for name, key, true, false in plan.members:
        value: Any = get(name)  # its type is tested once, below
        kind = type(value)
        if kind is bool:  # the most common, then str, int, float
            append(true if value else false)
        elif kind is str:
            append(key + _encode_string(value))
        elif kind is int and -MAX_EXACT_INTEGER <= value <= MAX_EXACT_INTEGER:
            append(key + _int_repr(value))
        elif kind is float and isfinite(value):
            append(key + _float_repr(value))
        elif value is not None:
            return encode_fact(facts, extra, plan.reads, plan.memberships)
    for membership in plan.memberships:
        value = get(membership.fact)
        if value is not None:
            found = "true" if value in membership.values else "false"
            append(ENCODER.encode(membership.property) + ":" + found)
    body = ",".join(parts)
    if "e-" in body or "e+" in body:  # as engine_json checks (extra has no numbers to fix)
        body = engine_json("{" + body + "}")[1:-1]
    if not extra:
        return "{" + body + "}"
    return "{" + body + ("," if parts else "") + extra + "}"
