"""Which part of a region no box covers: the gap search and the shadowing test.

The search never enumerates the full product of atoms. It splits the region on one column
at a time into groups of atoms that the same boxes accept, and stops as soon as a group is
covered by one box (nothing missing) or by none (all of it missing): a sweep in the manner
of Calvanese et al.'s "Semantic DMN" analysis. Its cost grows with the number of distinct
regions the boxes carve, not with the size of the space: each split costs the atoms of the
column it splits plus the atoms the boxes hold there (not atoms x boxes), and a region is
recognised as covered by comparing sizes, boxes being clipped to it.
"""

from __future__ import annotations

from collections.abc import Sequence

from r1rules.check._space import Box, intersect, is_empty

__all__ = ["uncovered"]


def uncovered(region: Box, boxes: Sequence[Box], limit: int = 64) -> tuple[list[Box], bool]:
    """Disjoint boxes that together make up ``region`` minus the union of ``boxes``.

    At most ``limit`` boxes are collected (then merged where two differ in one column only);
    the flag says whether the search stopped there, with part of the region unexplored (more
    may be missing). ``limit=1`` is a cheap "is it covered?" test.
    """
    clipped = [c for c in (intersect(b, region) for b in boxes) if not is_empty(c)]
    search = _Search(limit)
    search.split(region, clipped)
    return _merge(search.found), search.stopped


class _Search:
    """The regions found so far; stops exploring once ``limit`` are found."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.found: list[Box] = []
        self.stopped = False

    def split(self, region: Box, boxes: list[Box]) -> None:
        """Add the part of ``region`` outside ``boxes`` (each already clipped to it)."""
        if len(self.found) >= self.limit:
            self.stopped = True
            return
        if not boxes:
            self.found.append(region)
            return
        # clipped to the region, a box is equal to it (covers it all) where it is as large
        sizes = [len(atoms) for atoms in region]
        if any(all(len(a) == n for a, n in zip(b, sizes, strict=True)) for b in boxes):
            return
        column = max(
            range(len(region)), key=lambda c: (sum(len(b[c]) != sizes[c] for b in boxes), -c)
        )
        # which boxes accept each atom, from the boxes' own atoms (a box holding the whole
        # column accepts every atom, so it decides no group)
        everywhere = [i for i, b in enumerate(boxes) if len(b[column]) == sizes[column]]
        accepting: dict[int, list[int]] = {}
        for i, b in enumerate(boxes):
            if len(b[column]) != sizes[column]:
                for atom in b[column]:
                    accepting.setdefault(atom, []).append(i)
        groups: dict[tuple[int, ...], list[int]] = {}
        for atom in sorted(region[column]):
            groups.setdefault(tuple(accepting.get(atom, ())), []).append(atom)
        for partial, atoms in groups.items():
            part = frozenset(atoms)
            self.split(
                _with(region, column, part),
                [_with(boxes[i], column, part) for i in sorted((*everywhere, *partial))],
            )


def _with(box: Box, column: int, atoms: frozenset[int]) -> Box:
    """The box with one column replaced."""
    return (*box[:column], atoms, *box[column + 1 :])


def _merge(boxes: list[Box]) -> list[Box]:
    """Join boxes that differ in a single column, until none do (fewer, larger findings)."""
    merged = list(boxes)
    joined = True
    while joined:
        joined = False
        for i in range(len(merged)):
            for j in range(i + 1, len(merged)):
                pairs = zip(merged[i], merged[j], strict=True)
                differ = [c for c, (x, y) in enumerate(pairs) if x != y]
                if len(differ) == 1:
                    c = differ[0]
                    merged[i] = _with(merged[i], c, merged[i][c] | merged[j][c])
                    del merged[j]
                    joined = True
                    break
            if joined:
                break
    return merged
