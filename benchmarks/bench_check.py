"""How long do loading and the static checker take on large rule sets? (prints; not a test)

    python benchmarks/bench_check.py                       # the table, every size
    python benchmarks/bench_check.py --sizes 100 400       # chosen sizes only
    python benchmarks/bench_check.py --only in- --lists 64 # the membership rows, 64 lists
    python benchmarks/bench_check.py --profile first-800   # where one check's time goes

Each row is one generated rule set, written to a temporary folder on top of the test suite's
minimal policy (``tests/rulefiles.py``), then loaded (``load s``: ``read_rules`` and the
engine's capacity check, what ``load_rules`` does before its check) and checked (``check s``:
``check_rules``), each timed once with ``time.perf_counter``; ``total s`` is their sum, the
cost of ``load_rules``. The generated table is the only table of its stratum (it tests
``gpu``, which the minimal policy's stratum-2 table sets), so 1,920 rules is the engine's
limit for one stratum (60 partitions of 32 rules).

The rows:

- ``unique`` / ``first`` / ``collect``: one decision table of N rules that tiles its fact
  space (GPU group x stage x latency band, each split into ``peak_qps`` bands at uneven,
  two-significant-digit cut points; two of the six GPU group x stage groups leave latency
  untested), complete except for ``collect``. About 1% of the rules are planted defects: a
  band widened into its neighbour (an overlap, or nothing in a ``first`` table), a band
  narrowed (a gap), a copy of an earlier rule setting another value (an overlap, a shadowed
  rule or a conflict), and one rule whose bounds contradict (dead).
- ``in-8``: N rules each testing ``prompt_tokens in [...]`` with the longest list the engine
  itself evaluates (``MAX_ENGINE_MEMBERS`` values) plus a GPU ``in`` list.
- ``in-10000``: rules testing ``prompt_tokens in`` lists of 10,000 values over disjoint
  ranges (16 unless ``--lists``) and one ``not_in`` rule covering the rest. The adapter sets
  no length limit on a list: a list longer than ``MAX_ENGINE_MEMBERS`` is decided outside
  the engine, and a stratum holds as many distinct long lists as its fact has room for
  (about 250 less the facts it reads); 10,000 values is the longest list the engine's own
  tests load.

Run from the repository root; ``src/`` and ``tests/`` are put on the path.
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import itertools
import platform
import pstats
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from rulefiles import write_rules

from r1rules.check import check_rules
from r1rules.engine import capacity_problems
from r1rules.engine._compile import MAX_ENGINE_MEMBERS
from r1rules.ruleset import RuleSet, read_rules

SIZES = (100, 200, 400, 800, 1600, 1920)
LONG_LIST = 10_000  # values in one long membership list

GPU_GROUPS = (
    ("rtx-3090", "rtx-4090", "rtx-5090", "a10", "a40", "l4", "l40s"),
    ("a100-40gb", "a100-40gb-pcie", "a100-80gb", "h100-pcie", "h100-nvl"),
    ("h100-sxm", "h200", "b200", "gb200", "mi300x", "mi325x"),
)
STAGES = ("development", "production")
# latency bands per GPU group: each group has its own cut points
LATENCY_CUTS = ((100, 200, 500, 1000, 3000), (80, 150, 400, 1000, 2500), (50, 100, 250, 800, 2000))
# peak_qps cut points: numbers of two significant digits, 0.1 to 990,000 (630 of them)
QPS_POOL = sorted({round(m * 10**e, 6) for e in range(-2, 5) for m in range(10, 100)})
TIERS = ("t0", "t1", "t2", "t3", "t4", "t5", "t6", "t7")

HEADER = """
[[facts]]
name = "bench_tier"
type = "enum"
values = [{tiers}]
description = "a generated service tier"

[[tables]]
id = "bench"
title = "Generated table"
hit_policy = "{policy}"
complete = {complete}
"""

RULE = """
  [[tables.rules]]
  id = "{id}"
  title = "generated"
  source = "bench"
  why = "generated"
  when = {{ {when} }}
  set = {{ bench_tier = "{tier}" }}
"""


def _quoted(values: tuple[str, ...] | list[str]) -> str:
    return ", ".join(f'"{v}"' for v in values)


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else repr(value)


def _band(low: float | None, high: float | None, low_op: str = "gte", high_op: str = "lt") -> str:
    parts = []
    if low is not None:
        parts.append(f"{low_op} = {_number(low)}")
    if high is not None:
        parts.append(f"{high_op} = {_number(high)}")
    return "{ " + ", ".join(parts) + " }"


def tiled_table(count: int, policy: str, seed: int = 1) -> str:
    """A table of ``count`` rules tiling (GPU group x stage x latency band x qps band), with
    about 1% planted defects (see the module docstring)."""
    rng = random.Random(seed)
    groups: list[str] = []
    for g, gpus in enumerate(GPU_GROUPS):
        for stage in STAGES:
            head = f"gpu = {{ in = [{_quoted(gpus)}] }}, stage = {_quoted([stage])}"
            if (g + len(stage)) % 4 == 0:  # this group leaves latency untested
                groups.append(head)
                continue
            edges = (None, *LATENCY_CUTS[g], None)
            for low, high in itertools.pairwise(edges):
                groups.append(f"{head}, latency_ms = {_band(low, high)}")
    defects = max(1, count // 100)
    dead = 1
    copies = defects
    tiles = count - dead - copies
    per_group = [
        tiles // len(groups) + (1 if i < tiles % len(groups) else 0) for i in range(len(groups))
    ]
    rules: list[str] = []
    widen = set(rng.sample(range(tiles), defects))
    narrow = set(rng.sample(sorted(set(range(tiles)) - widen), defects))
    for group, bands in zip(groups, per_group, strict=True):
        cuts = sorted(rng.sample(QPS_POOL, bands - 1))
        edges = (None, *cuts, None)
        for low, high in itertools.pairwise(edges):
            n = len(rules)
            high_op = "lte" if n in widen and high is not None else "lt"
            low_op = "gt" if n in narrow and low is not None else "gte"
            when = f"{group}, peak_qps = {_band(low, high, low_op, high_op)}"
            rules.append(when)
    for _ in range(copies):
        rules.append(rules[rng.randrange(len(rules))])
    rules.append(f"{groups[0]}, peak_qps = {{ gt = 500, lt = 100 }}")
    body = "".join(
        RULE.format(id=f"bench-{i:04d}", when=when, tier=TIERS[i % len(TIERS)])
        for i, when in enumerate(rules)
    )
    complete = "true" if policy != "collect" else "false"
    return HEADER.format(tiers=_quoted(TIERS), policy=policy, complete=complete) + body


def short_lists_table(count: int, seed: int = 2) -> str:
    """``count`` rules, each ``prompt_tokens in`` a list of MAX_ENGINE_MEMBERS values (all
    lists disjoint, so the column has count x 8 named values) and a GPU ``in`` list; a
    unique, incomplete table with a few lists sharing a value (overlaps)."""
    rng = random.Random(seed)
    rules = []
    gpus: list[str] = []
    for i in range(count):
        values = [1 + i * MAX_ENGINE_MEMBERS + k for k in range(MAX_ENGINE_MEMBERS)]
        if i % 100 == 99:  # shares a value and the GPUs with the previous rule: an overlap
            values[0] -= 1
        else:
            gpus = rng.sample(sum(GPU_GROUPS, ()), 3)
        when = (
            f"gpu = {{ in = [{_quoted(gpus)}] }}, "
            f"prompt_tokens = {{ in = [{', '.join(map(str, values))}] }}"
        )
        rules.append(RULE.format(id=f"bench-{i:04d}", when=when, tier=TIERS[i % len(TIERS)]))
    return HEADER.format(tiers=_quoted(TIERS), policy="unique", complete="false") + "".join(rules)


def long_lists_table(lists: int) -> str:
    """A complete unique table: ``lists`` rules testing ``prompt_tokens in`` 10,000 values
    (every other whole number of a range, so that each value and each gap between two
    values is an atom of its own) and one rule ``not_in`` the first list, which covers
    every other number and so overlaps the other lists."""
    rules = []
    for i in range(lists):
        start = 1 + i * 2 * LONG_LIST
        values = ", ".join(str(start + 2 * k) for k in range(LONG_LIST))
        when = f"prompt_tokens = {{ in = [{values}] }}"
        rules.append(RULE.format(id=f"bench-{i:04d}", when=when, tier=TIERS[i % len(TIERS)]))
    first = ", ".join(str(1 + 2 * k) for k in range(LONG_LIST))
    rules.append(
        RULE.format(id="bench-rest", when=f"prompt_tokens = {{ not_in = [{first}] }}", tier="t0")
    )
    return HEADER.format(tiers=_quoted(TIERS), policy="unique", complete="true") + "".join(rules)


def measure(name: str, text: str, folder: Path) -> tuple[str, int, float, float, int]:
    """(name, rules, load seconds, check seconds, findings) for one generated rule set."""
    where = write_rules(folder / name, text)
    start = time.perf_counter()
    rules = read_rules(where)
    problems = capacity_problems(rules)
    loaded = time.perf_counter() - start
    assert not problems, problems
    start = time.perf_counter()
    findings = check_rules(rules)
    checked = time.perf_counter() - start
    table = next(t for t in rules.tables if t.id == "bench")
    return name, len(table.rules), loaded, checked, len(findings)


def cases(sizes: tuple[int, ...], lists: int) -> list[tuple[str, Callable[[], str]]]:
    found: list[tuple[str, Callable[[], str]]] = []
    for size in sizes:
        for policy in ("unique", "first", "collect"):
            found.append((f"{policy}-{size}", functools.partial(tiled_table, size, policy)))
    top = max(sizes)
    found.append((f"in-{MAX_ENGINE_MEMBERS}-{top}", lambda: short_lists_table(top)))
    found.append((f"in-{LONG_LIST}-x{lists}", lambda: long_lists_table(lists)))
    return found


def profile(text: str, folder: Path) -> None:
    rules: RuleSet = read_rules(write_rules(folder / "profiled", text))
    profiler = cProfile.Profile()
    profiler.runcall(check_rules, rules)
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--lists", type=int, default=16, help="long membership lists")
    parser.add_argument("--only", help="run only the cases whose name contains this text")
    parser.add_argument("--profile", metavar="CASE", help="profile one case's check instead")
    args = parser.parse_args()
    print(f"python {platform.python_version()} on {platform.machine()} ({platform.system()})")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if args.profile:
            make = dict(cases(tuple(args.sizes), args.lists))[args.profile]
            profile(make(), folder)
            return
        columns = ("rules", "load s", "check s", "total s", "findings")
        print(f"{'rule set':<18} " + " ".join(f"{c:>8}" for c in columns))
        for name, make in cases(tuple(args.sizes), args.lists):
            if args.only and args.only not in name:
                continue
            _, count, loaded, checked, found = measure(name, make(), folder)
            print(
                f"{name:<18} {count:>8} {loaded:>8.2f} {checked:>8.2f} {loaded + checked:>8.2f} "
                f"{found:>8}",
                flush=True,
            )


if __name__ == "__main__":
    main()
