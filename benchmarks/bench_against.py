"""How fast is this checkout's evaluate() next to another checkout's? (prints; not a test)

    python benchmarks/bench_against.py /path/to/other/checkout          # e.g. a git worktree
    python benchmarks/bench_against.py ../old --workloads 300 --seed 5 --rounds 3

The workloads are ``bench_evaluate.py``'s (the same seed gives the same ones), reduced to
the fields every release of ``Workload`` takes (model, precision, GPU, peak QPS, latency,
token lengths, stage); those that either checkout refuses are left out, and the count is
printed. Each checkout then runs in its own process (``PYTHONPATH=<checkout>/src``), with
the same timer: every workload evaluated once to warm the caches, then 9 timed passes over
all of them, each after a garbage collection; the median pass is the process's per-call
time. The "read" rows also read each answer's notes and warnings after the call, "all read"
its article's configuration too (a release may work those out on first read). The
processes alternate (other, this, this with ``objective="article"``, then the reading
ones) for ``--rounds`` rounds,
and the medians over rounds are printed with their ratios. This checkout runs
``evaluate(w, options=False)``; a release without ``options`` runs ``evaluate(w)``, which
was its single answer.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_evaluate import evaluable, varied_workloads

HERE = Path(__file__).resolve().parent.parent
FIELDS = ("model", "precision", "gpu", "peak_qps", "latency_ms", "prompt_tokens", "output_tokens")
FIELDS += ("stage",)

# Run in the other checkout's interpreter state: only what every release offers.
TIMER = """
import gc, inspect, json, statistics, sys, time
import r1rules
rows, mode, extra = json.load(open(sys.argv[1])), sys.argv[2], json.loads(sys.argv[3])
keep = set(json.loads(sys.argv[4])) if len(sys.argv) > 4 else None
opts = {"options": False} if "options" in inspect.signature(r1rules.evaluate).parameters else {}
ok, ws = [], []
for i, row in enumerate(rows):
    if keep is not None and i not in keep:
        continue
    try:
        w = r1rules.Workload(**{k: v for k, v in row.items() if v is not None}, **extra)
        r1rules.evaluate(w, **opts)
    except r1rules.R1RulesError:
        continue
    ok.append(i)
    ws.append(w)
if mode == "ok":
    print(json.dumps(ok))
    sys.exit()
passes = []
for _ in range(9):
    gc.collect()
    start = time.perf_counter()
    if mode == "read":  # and read the rules' texts (a release may write them on first use)
        for w in ws:
            r = r1rules.evaluate(w, **opts)
            r.notes, r.warnings
    elif mode == "all":  # and the article's configuration too (where a release has one)
        for w in ws:
            r = r1rules.evaluate(w, **opts)
            r.notes, r.warnings, getattr(r, "article", None)
    else:
        for w in ws:
            r1rules.evaluate(w, **opts)
    passes.append((time.perf_counter() - start) / len(ws) * 1e6)
print(statistics.median(passes))
"""


def run(checkout: Path, *args: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(checkout / "src")}
    done = subprocess.run(
        [sys.executable, "-c", TIMER, *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        cwd=checkout,
    )
    if done.returncode != 0:
        raise SystemExit(f"{checkout}: the timer failed:\n{done.stderr}")
    return done.stdout.strip()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("other", type=Path, help="the other checkout (its src/ is imported)")
    parser.add_argument("--workloads", type=int, default=300, help="distinct workloads (300)")
    parser.add_argument("--seed", type=int, default=5, help="bench_evaluate.py's seed (5)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (3)")
    args = parser.parse_args(argv)
    other = args.other.resolve()
    if not (other / "src" / "r1rules").is_dir():
        raise SystemExit(f"{other}: no src/r1rules there")
    workloads = evaluable(varied_workloads(args.workloads, args.seed))
    rows = [{name: getattr(w, name) for name in FIELDS} for w in workloads]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "workloads.json"
        path.write_text(json.dumps(rows), encoding="utf-8")
        both = set(json.loads(run(other, str(path), "ok", "{}")))
        both &= set(json.loads(run(HERE, str(path), "ok", "{}")))
        keep = json.dumps(sorted(both))
        print(
            f"{len(both)} of {len(rows)} workloads evaluate in both checkouts "
            f"(bench_evaluate.py's, seed {args.seed}); {args.rounds} alternating rounds"
        )
        runs: dict[str, list[float]] = {
            "other": [],
            "this": [],
            "this, article": [],
            "other, read": [],
            "this, read": [],
            "this, all read": [],
        }
        article = json.dumps({"objective": "article"})
        for _ in range(args.rounds):
            runs["other"].append(float(run(other, str(path), "time", "{}", keep)))
            runs["this"].append(float(run(HERE, str(path), "time", "{}", keep)))
            runs["this, article"].append(float(run(HERE, str(path), "time", article, keep)))
            runs["other, read"].append(float(run(other, str(path), "read", "{}", keep)))
            runs["this, read"].append(float(run(HERE, str(path), "read", "{}", keep)))
            runs["this, all read"].append(float(run(HERE, str(path), "all", "{}", keep)))
    print(f"{'':16} median us/call   (each round's)   / other")
    for name, times in runs.items():
        base = statistics.median(runs["other, read" if "read" in name else "other"])
        each = ", ".join(f"{t:.1f}" for t in times)
        median = statistics.median(times)
        print(f"{name:16} {median:10.1f}   ({each})   {median / base:5.2f}")
    print(f"other = {other}; this = {HERE}")
    print(
        '"read": each answer\'s notes and warnings read after the call; "all read": its '
        "article's configuration too (this checkout writes them on first read; the read "
        'rows are against other\'s "read")'
    )


if __name__ == "__main__":
    main()
