"""Which boxes meet (and which contain another), without comparing every pair of them.

Two boxes share an input exactly when they share an atom in every column. Column by column,
a sweep over the atoms (in their order, which for a number column is the order of the
numbers) gives, for each atom, the boxes holding it; the boxes meeting a box in a column
are then those holding one of its atoms, and the boxes containing it those holding all of
them. Sets of boxes are bits of a Python integer (bit ``j``: box ``j``), so these are
integer ORs and ANDs. A box's atoms in a column are taken as runs of consecutive atoms (a
bound or a range is one run), and the boxes holding any (or every) atom of a run are read
from ORs (ANDs) precomputed per block of 64 atoms: a column costs O(atoms + runs x (128 +
atoms / 64)) integer operations, however many pairs of boxes there are; boxes holding the
same atoms in a column share the work.
"""

from __future__ import annotations

import functools
import itertools
import operator
from collections.abc import Callable, Iterator, Sequence

from r1rules.check._space import Box, runs

__all__ = ["BoxIndex", "bits", "meeting", "meeting_and_holding"]

_BLOCK = 6  # log2 of the atoms per block


def meeting(boxes: Sequence[Box], full: Box) -> list[int]:
    """For each box, the other boxes it shares an input with, as bits (bit ``j``: box ``j``).

    Every box must be non-empty in every column and lie inside ``full``.
    """
    return BoxIndex(boxes, full).meets


def meeting_and_holding(boxes: Sequence[Box], full: Box) -> tuple[list[int], list[int]]:
    """``meeting``, and for each box the other boxes that hold all of it (contain it)."""
    index = BoxIndex(boxes, full, within=True)
    return index.meets, index.holders


class BoxIndex:
    """Per box, the other boxes meeting it (``meets``) and, ``within``, the other boxes
    holding all of it (``holders``); per column, the boxes holding each atom (``columns``,
    read by ``cell``)."""

    def __init__(self, boxes: Sequence[Box], full: Box, within: bool = False) -> None:
        self.everyone = everyone = (1 << len(boxes)) - 1
        meets = [everyone] * len(boxes)
        holders = [everyone] * len(boxes)
        self.columns: list[tuple[int, list[int]] | None] = []  # (wild, holding) per column
        for column, atoms in enumerate(full):
            width = len(atoms)
            wild = 0  # the boxes holding every atom of this column
            shapes: dict[frozenset[int], int] = {}  # the other boxes, by the atoms they hold
            for j, box in enumerate(boxes):
                held = box[column]
                if len(held) == width:
                    wild |= 1 << j
                else:
                    shapes[held] = shapes.get(held, 0) | 1 << j
            if not shapes:
                self.columns.append(None)
                continue
            pieces = {held: runs(held) for held in shapes}
            size = max(atoms) + 1
            starts = [0] * (size + 1)
            for held, group in shapes.items():
                for low, high in pieces[held]:
                    starts[low] ^= group
                    starts[high + 1] ^= group
            holding = list(itertools.accumulate(starts[:size], operator.xor))  # per atom
            self.columns.append((wild, holding))
            near = _Blocks(holding, operator.or_, 0)
            every = _Blocks(holding, operator.and_, everyone) if within else None
            for held, group in shapes.items():
                meet, hold = wild, everyone
                for low, high in pieces[held]:
                    meet |= near.over(low, high)
                    if every is not None:
                        hold &= every.over(low, high)
                for j in bits(group):
                    meets[j] &= meet
                    holders[j] &= wild | hold
            if within:  # a box holding the whole column is held only by such boxes
                for j in bits(wild):
                    holders[j] &= wild
        own = [~(1 << j) for j in range(len(boxes))]
        self.meets = [m & o for m, o in zip(meets, own, strict=True)]
        self.holders = [h & o for h, o in zip(holders, own, strict=True)] if within else []

    def cell(self, atoms: Sequence[int]) -> int:
        """The boxes holding one cell: one atom per column."""
        found = self.everyone
        for entry, atom in zip(self.columns, atoms, strict=True):
            if entry is not None:
                found &= entry[0] | entry[1][atom]
        return found


def bits(mask: int) -> Iterator[int]:
    """The positions of the set bits, lowest first."""
    while mask:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low


class _Blocks:
    """ORs (or ANDs) of the per-atom bits over any run of atoms: precomputed per block of
    64 atoms, so a run costs at most 128 + atoms / 64 operations."""

    def __init__(self, holding: list[int], join: Callable[[int, int], int], unit: int) -> None:
        self.holding, self.join, self.unit = holding, join, unit
        step = 1 << _BLOCK
        self.blocks = [self._fold(k, k + step) for k in range(0, len(holding), step)]

    def _fold(self, start: int, stop: int) -> int:
        return functools.reduce(self.join, self.holding[start:stop], self.unit)

    def over(self, low: int, high: int) -> int:
        """The join over the atoms low..high."""
        first, last = low >> _BLOCK, high >> _BLOCK
        if last - first < 2:
            return self._fold(low, high + 1)
        inner = functools.reduce(self.join, self.blocks[first + 1 : last], self.unit)
        edges = self.join(
            self._fold(low, (first + 1) << _BLOCK), self._fold(last << _BLOCK, high + 1)
        )
        return self.join(inner, edges)
