"""How fast is r1rules.evaluate() next to the rule engine it drives? (prints; not a test)

    python benchmarks/bench_evaluate.py                    # per-call medians and ratios
    python benchmarks/bench_evaluate.py --profile          # ... and where evaluate's time goes
    python benchmarks/bench_evaluate.py --soak 1000000     # memory and sessions over 1M calls
    python benchmarks/bench_evaluate.py --batch 100000     # evaluate_many throughput
    python benchmarks/bench_evaluate.py --skip-per-call --batch 100000 --batch-rounds 3

In one process, on a seeded, varied set of workloads (models x precisions x GPUs pinned or
not x QPS x latency targets x token lengths), these measurements alternate round by round
(in a rotating order, each after a garbage collection so that none pays for the garbage of
the one before it) and the medians over rounds are printed:

1. ``evaluate()`` per call: the single answer (``options=False``) for the workloads'
   objective (cost) and for ``objective=article``, and ``options=True`` (every option
   sized, priced, judged by the rules and ranked). Warm: the sizing cache (and the
   recommend layer's caches of sizings, costs and estimates) holds these workloads, as
   when a plan evaluates them again, and so does the engine's memo of its answers. Memo
   empty: that memo is emptied before every call (every stratum reaches the engine).
   Cold sizing (the single answer and ``options=True``): those caches and the memo are
   emptied before every call, as for a workload never seen before, and filled again,
   untimed, right after, so that the next measurement finds them warm;
2. raw durable-rules through its documented public API: a ``durable.engine.Host`` subclass
   with no timer threads (``_run`` does nothing) whose actions do nothing, holding the very
   ruleset JSON r1rules compiles, asserting for each workload the same per-stratum facts
   ``evaluate()`` asserts (captured at the C boundary during one pass of it) into fresh
   sessions, as many as it used, each then ``delete_state``;
3. the same facts through the C module directly, as r1rules itself drives it (assert,
   drain the actions, delete the session); and so the facts ``options=True`` asserts;
4. a hand-written Python function of the seed's decision tree (edition, GPU class, network
   class, candidate GPU): the floor for deciding the article's part of the answer.

Run from the repository root; ``src/`` is put on the path when r1rules is not installed.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import cProfile
import gc
import itertools
import json
import multiprocessing
import os
import platform
import pstats
import random
import resource
import statistics
import sys
import threading
import time
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

import attrs
import durable_rules_engine as dre
from durable import engine as durable_engine

import r1rules
from r1rules import R1RulesError, Workload, evaluate, evaluate_many
from r1rules.engine import _adapter as _engine
from r1rules.physics import _sizing
from r1rules.recommend._cache import clear as clear_recommend_caches

PRECISIONS = (None, "bf16", "fp8", "int4")
QPS = (0.5, 2, 8, 10, 25, 60, 100, 150, 400)
LATENCY_MS = (80, 150, 250, 500, 1000, 3000)
TOKENS = ((256, 256), (1024, 1024), (1024, 4096), (4096, 1024), (2048, 8192))


# -- workloads -----------------------------------------------------------------------------


def varied_workloads(count: int, seed: int, *, distinct_qps: bool = False) -> list[Workload]:
    """``count`` valid workloads drawn from the grid (combinations that fail to validate or
    to evaluate are skipped). ``distinct_qps`` draws QPS from a continuum instead, so that
    every workload is distinct (nothing a batch could share by memoising)."""
    catalog = r1rules.default_catalog()
    models, gpus = sorted(catalog.models), sorted(catalog.gpus)
    rng = random.Random(seed)
    out: list[Workload] = []
    seen: set[Workload] = set()
    while len(out) < count:
        prompt, output = rng.choice(TOKENS)
        qps = round(rng.uniform(0.1, 400), 4) if distinct_qps else rng.choice(QPS)
        try:
            workload = Workload(
                model=rng.choice(models),
                precision=rng.choice(PRECISIONS),
                gpu=rng.choice(gpus) if rng.random() < 0.4 else None,
                peak_qps=qps,
                latency_ms=rng.choice(LATENCY_MS),
                prompt_tokens=prompt,
                output_tokens=output,
                stage=rng.choice(("development", "production")),
            )
        except R1RulesError:
            continue
        if workload in seen:
            continue
        seen.add(workload)
        out.append(workload)
    return out


def evaluable(workloads: Sequence[Workload]) -> list[Workload]:
    good = []
    for workload in workloads:
        try:
            evaluate(workload)
        except R1RulesError:
            continue
        good.append(workload)
    return good


# -- capturing what r1rules asserts --------------------------------------------------------


class _Recorder:
    """Stands in for the C module inside r1rules.engine._adapter and records every fact asserted."""

    def __init__(self) -> None:
        self.facts: list[str] = []
        self.definitions: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(dre, name)

    def assert_fact(self, handle: int, fact: str) -> Any:
        self.facts.append(fact)
        return dre.assert_fact(handle, fact)

    def create_ruleset(self, name: str, definition: str) -> Any:
        self.definitions.append(definition)
        return dre.create_ruleset(name, definition)


# Per workload, per engine session it used (in order), each fact asserted in that session,
# split around its session id.
Captured = list[list[list[tuple[str, str]]]]


def capture(
    workloads: Sequence[Workload], *, options: bool = False, remembered: bool = False
) -> tuple[str, Captured]:
    """The shipped rule set's JSON and, per workload, the facts
    ``evaluate(workload, options=options)`` asserts, grouped by the session each went to
    and split around its session id (so that each group can be replayed into any fresh
    session: the facts carry ids unique within their session only). Every fact the call
    decides, unless ``remembered``: then only those the engine's memo of earlier answers
    (kept from the calls before) does not hold."""
    recorder = _Recorder()
    saved = _engine._dre  # type: ignore[attr-defined]
    _engine._dre = recorder  # type: ignore[attr-defined]
    forget = getattr(_engine.compiled(r1rules.default_rules()), "forget", lambda: None)
    try:
        per_workload = []
        for workload in workloads:
            recorder.facts.clear()
            if not remembered:
                forget()  # every fact the call decides reaches the engine
            evaluate(workload, options=options)
            sessions: dict[str, list[tuple[str, str]]] = {}
            for fact in recorder.facts:
                sid, split = _split_sid(fact)
                sessions.setdefault(sid, []).append(split)
            per_workload.append(list(sessions.values()))
        definition = getattr(_engine.compiled(r1rules.default_rules()), "definition_json", None)
        if definition is None:  # older engines: compile once more, under the recorder
            _engine.CompiledRules(r1rules.default_rules())
            definition = recorder.definitions[-1]
    finally:
        _engine._dre = saved  # type: ignore[attr-defined]
    if not any(per_workload):
        sys.exit(
            "capture failed: r1rules no longer asserts through _engine._dre.assert_fact;"
            " update this benchmark"
        )
    return definition, per_workload


def _split_sid(fact: str) -> tuple[str, tuple[str, str]]:
    head, _, tail = fact.partition('"sid":"')
    end = tail.index('"')
    return tail[:end], (head + '"sid":"', tail[end:])


# -- the raw baselines ---------------------------------------------------------------------


class QuietHost(durable_engine.Host):  # type: ignore[misc]
    """durable's Host with no timer threads and actions that do nothing."""

    def _run(self) -> None:
        pass

    def get_action(self, action_name: str) -> Callable[[Any], None]:
        return _no_action


def _no_action(_closure: Any) -> None:
    return None


class RawHost:
    """The same ruleset and facts through durable's public Host API."""

    def __init__(self, definition: str, facts: Captured) -> None:
        rules = json.loads(definition)
        for rule in rules.values():
            rule["run"] = "noop"
        self.name = f"bench-host-{os.getpid()}"
        self.host = QuietHost({self.name: rules})
        self.facts = [
            [[json.loads(h + "0" + t) for h, t in session] for session in per] for per in facts
        ]
        self.sids = itertools.count(1)

    def run(self, index: int) -> None:
        host, name = self.host, self.name
        for session in self.facts[index]:
            sid = f"h{next(self.sids)}"
            for fact in session:
                fact = dict(fact, sid=sid)
                try:
                    host.assert_fact(name, fact)
                except (
                    durable_engine.MessageNotHandledException,
                    durable_engine.MessageObservedException,
                ):
                    pass
            host.delete_state(name, sid)


class RawC:
    """The same ruleset and facts through the C module, drained as r1rules drains them."""

    def __init__(self, definition: str, facts: Captured) -> None:
        self.handle = dre.create_ruleset(f"bench-c-{os.getpid()}", definition)
        self.facts = facts
        self.sids = itertools.count(1)

    def run(self, index: int) -> None:
        handle = self.handle
        for session in self.facts[index]:
            sid = f"c{next(self.sids)}"
            for head, tail in session:
                result = dre.assert_fact(handle, head + sid + tail)
                if result[0] in (1, 2):  # no match / already observed
                    continue
                state = result[1]
                action = dre.start_action_for_state(handle, state)
                message = action[1] if action else None
                while message:
                    message = dre.complete_and_start_action(handle, state)
            dre.delete_state(handle, sid)


def seed_tree(
    size_b: float,
    qps: float,
    latency_ms: float,
    pinned: str | None,
) -> tuple[str, str, str, str]:
    """The seed's decisions, by hand: §1.1 edition, §5 GPU and network class, candidate GPU."""
    if size_b <= 7 and qps <= 10 and latency_ms >= 500:
        edition = "basic"
    elif size_b >= 65 or qps > 100 or latency_ms < 200:
        edition = "enterprise"
    else:
        edition = "professional"
    gpu_class = "consumer" if size_b <= 13 else "datacenter" if size_b < 65 else "hbm"
    network = "rdma" if latency_ms <= 100 else "professional" if latency_ms <= 200 else "ethernet"
    gpu = pinned or {"basic": "rtx-4090", "professional": "a40", "enterprise": "h100-sxm"}[edition]
    return edition, gpu_class, network, gpu


# -- measurements --------------------------------------------------------------------------


def per_call(workloads: Sequence[Workload], rounds: int) -> dict[str, float]:
    definition, facts = capture(workloads)
    _, option_facts = capture(workloads, options=True)
    forget_firings = _engine.compiled(r1rules.default_rules()).forget
    # what reaches the engine once its memo holds the answers for these workloads
    _, facts_warm = capture(workloads, remembered=True)
    _, option_facts_warm = capture(workloads, options=True, remembered=True)
    host, raw = RawHost(definition, facts), RawC(definition, facts)
    raw_options = RawC(definition, option_facts)
    sizes = [w.resolved_model().nominal_params_b for w in workloads]
    tree_inputs = [
        (s, float(w.peak_qps or 0), float(w.latency_ms or 0), w.gpu)  # varied_workloads sets both
        for s, w in zip(sizes, workloads, strict=True)
    ]
    mismatches = sum(
        seed_tree(*args)[0] != evaluate(w, options=False).edition
        for args, w in zip(tree_inputs, workloads, strict=True)
    )
    n = len(workloads)
    indexes = range(n)

    def calls(
        function: Callable[..., object],
        arguments: Sequence[tuple[Any, ...]],
    ) -> Callable[[], None]:
        def run() -> None:
            for args in arguments:
                function(*args)

        return run

    singles = [(w,) for w in workloads]

    def cold(options: bool) -> Callable[[Workload], object]:
        def evaluate_cold(workload: Workload) -> object:
            # As for a workload never seen before: the per-workload sizing cache and the
            # recommend layer's caches of physics (sizings, costs, estimates) are emptied
            # (the per-model/GPU placement tables, shared by every workload of a plan, stay).
            _sizing.size.cache_clear()
            clear_recommend_caches()
            forget_firings()
            return evaluate(workload, options=options)

        return evaluate_cold

    def single(workload: Workload) -> object:
        return evaluate(workload, options=False)

    def single_unremembered(workload: Workload) -> object:
        # every stratum asserted: the engine's memo of its answers emptied first (the
        # sizing caches stay warm)
        forget_firings()
        return evaluate(workload, options=False)

    def with_options(workload: Workload) -> object:
        return evaluate(workload, options=True)

    def single_read(workload: Workload) -> object:
        # the single answer with what it leaves to first use read: the rules' texts and,
        # when it is not the answer, the article's configuration
        rec = evaluate(workload, options=False)
        return rec.notes, rec.warnings, rec.article

    def warm_up() -> None:
        # Untimed, after a cold variant: its last cache_clear() left the sizing cache
        # empty, and whichever variant came next in the rotation paid the cold sizing
        # (objective=article measured 1,041 us instead of 275 in 8 rounds of 9); and after
        # a variant that empties the engine's memo, the next one relearned its answers
        # (options=True measured 1,187 us instead of 650).
        for workload in workloads:
            evaluate(workload, options=True)
        for (article,) in articles:
            evaluate(article, options=False)

    articles = [(attrs.evolve(w, objective="article"),) for w in workloads]
    variants: dict[str, Callable[[], None]] = {
        "evaluate()": calls(single, singles),
        "evaluate(), all read": calls(single_read, singles),
        "evaluate() cold sizing": calls(cold(False), singles),
        "evaluate() memo empty": calls(single_unremembered, singles),
        "objective=article": calls(single, articles),
        "options=True": calls(with_options, singles),
        "options=True cold sizing": calls(cold(True), singles),
        "raw durable Host": calls(host.run, [(i,) for i in indexes]),
        "raw durable C": calls(raw.run, [(i,) for i in indexes]),
        "raw C, options' facts": calls(raw_options.run, [(i,) for i in indexes]),
        "hand-written tree": calls(seed_tree, tree_inputs),
    }
    times: dict[str, list[float]] = {name: [] for name in variants}
    names = list(variants)
    for round_ in range(rounds):
        for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
            gc.collect()  # no variant pays for the garbage of the one before it
            start = time.perf_counter()
            variants[name]()
            times[name].append((time.perf_counter() - start) / n * 1e6)
            if "cold" in name or "memo" in name:
                warm_up()

    def count(captured: Captured) -> str:
        sessions = sum(len(per) for per in captured) / n
        asserted = sum(len(session) for per in captured for session in per) / n
        return f"{asserted:.1f} facts in {sessions:.1f} sessions"

    print(
        f"{n} workloads ({count(facts)} per evaluate(), {count(option_facts)} with "
        f"options=True), {rounds} rounds, interleaved; the hand-written tree disagrees "
        f"with the rules' edition on {mismatches}"
    )
    print(
        f"facts reaching the engine once its memo of answers is warm: {count(facts_warm)} "
        f"per evaluate(), {count(option_facts_warm)} with options=True (cold sizing also "
        "empties the memo)"
    )
    medians = {name: statistics.median(values) for name, values in times.items()}
    print(f"{'':24} {'median us/call':>15} {'min':>9} {'max':>9} {'calls/s':>10}")
    for name, values in times.items():
        print(
            f"{name:24} {medians[name]:15.1f} {min(values):9.1f} {max(values):9.1f} "
            f"{1e6 / medians[name]:10,.0f}"
        )
    print(
        "evaluate() is the single answer (options=False) for the workload's objective "
        "(default cost: every catalog GPU sized and priced, the rules run on as many as the "
        "choice needs); objective=article is the 0.1 answer (the article's GPU only)."
    )
    print(
        "Warm: the caches of sizing, cost and estimates hold these workloads (as when a plan "
        "evaluates them again), and the engine's memo its answers; memo empty: that memo "
        "emptied before every call (every stratum asserted); cold sizing: the caches and the "
        "memo emptied before every call (as for a workload never seen before)."
    )
    print(
        "all read: evaluate() and then its notes, warnings and article read (worked out on "
        "first use: an answer that is not the article's configuration works that out then)."
    )
    ratio = medians["options=True"] / medians["evaluate()"]
    read_ratio = medians["options=True"] / medians["evaluate(), all read"]
    cold_ratio = medians["options=True cold sizing"] / medians["evaluate() cold sizing"]
    print(
        f"options=True / evaluate() = {ratio:.1f} (issue 9's goal: <= 10); / evaluate(), "
        f"all read = {read_ratio:.1f} (what evaluate() worked out before it left its texts "
        f"and article to first read); cold sizing: {cold_ratio:.1f}; evaluate() / "
        f"objective=article = {medians['evaluate()'] / medians['objective=article']:.2f}"
    )
    # issue 5's goal is the warm call's: a cold one also works its physics out from scratch
    for label, goal in (
        ("evaluate()", " (goal <= 1.5)"),
        ("evaluate() memo empty", ""),
        ("evaluate() cold sizing", ""),
    ):
        ev = medians[label]
        print(
            f"{label}: / raw durable Host = {ev / medians['raw durable Host']:.2f}{goal}   "
            f"/ raw durable C = {ev / medians['raw durable C']:.2f}"
        )
    raw_ratio = medians["options=True"] / medians["raw C, options' facts"]
    print(f"options=True: / raw C, options' facts = {raw_ratio:.2f}")
    return medians


def profile(workloads: Sequence[Workload], top: int = 25) -> None:
    for options, label in ((False, "evaluate()"), (True, "evaluate(options=True)")):
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(3):
            for workload in workloads:
                evaluate(workload, options=options)
        profiler.disable()
        print(f"\nprofile of {label} ({3 * len(workloads)} calls), by own time:")
        pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(top)


def rss_mb() -> float:
    """Resident set size now (Linux /proc), or the peak where /proc is missing."""
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def soak(workloads: Sequence[Workload], calls: int) -> None:
    rules = r1rules.default_rules()
    every = max(1, calls // 10)
    print(f"\nsoak: {calls:,} evaluations over {len(workloads)} workloads")
    print(f"{'calls':>12} {'RSS MB':>9} {'s':>8} {'calls/s':>9}")
    start, base = time.perf_counter(), rss_mb()
    print(f"{0:12,} {base:9.1f} {0:8.1f}")
    cycle = itertools.cycle(workloads)
    for done in range(1, calls + 1):
        evaluate(next(cycle))
        if done % every == 0 or done == calls:
            elapsed = time.perf_counter() - start
            print(f"{done:12,} {rss_mb():9.1f} {elapsed:8.1f} {done / elapsed:9,.0f}", flush=True)
    print(
        f"live engine sessions: {_engine.live_sessions(rules)}; threads: "
        f"{threading.active_count()}; RSS growth: {rss_mb() - base:+.1f} MB"
    )


def _spin(seconds: float) -> int:
    """Pure-Python work for about ``seconds`` on an idle core (calibrated by the caller)."""
    count, total = int(seconds * 2e7), 0
    for i in range(count):
        total += i & 7
    return total


def parallel_capacity(processes: int) -> float:
    """How many cores' worth of pure-Python work ``processes`` processes get right now
    (``processes`` on a machine that really has them; less on a loaded or shared one)."""
    start = time.perf_counter()
    _spin(0.3)
    alone = time.perf_counter() - start
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(processes, mp_context=context) as pool:
        list(pool.map(_spin, [0.0] * processes))  # started
        start = time.perf_counter()
        list(pool.map(_spin, [0.3] * processes))
        together = time.perf_counter() - start
    return processes * alone / together


def batch(count: int, seed: int, workers: int, rounds: int) -> None:
    workloads = varied_workloads(count, seed + 1, distinct_qps=True)
    print(
        f"\nbatch: {len(workloads):,} distinct workloads, {os.cpu_count()} CPUs, {rounds} "
        f"round(s); {workers} processes get {parallel_capacity(workers):.2f} cores' worth of "
        "pure-Python work now"
    )

    def loop() -> list[object]:
        out: list[object] = []
        for workload in workloads:
            try:
                out.append(evaluate(workload))
            except R1RulesError as exc:
                out.append(exc)
        return out

    start = time.perf_counter()
    results = loop()
    first = time.perf_counter() - start
    good = [w for w, r in zip(workloads, results, strict=True) if not isinstance(r, R1RulesError)]
    del results
    if len(good) != len(workloads):  # evaluate_many raises on them: drop them
        print(f"({len(workloads) - len(good)} workloads the rules cannot decide are dropped)")
        workloads[:] = good
    else:
        print(f"(a first, cold loop took {first:.1f} s)")
    variants: dict[str, Callable[[], Sequence[object]]] = {
        "loop of evaluate()": loop,
        "evaluate_many(workers=None)": lambda: evaluate_many(workloads),
        f"evaluate_many(workers={workers})": lambda: evaluate_many(workloads, workers=workers),
    }
    names = list(variants)
    times: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(rounds):
        for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
            gc.collect()
            start = time.perf_counter()
            assert len(variants[name]()) == len(workloads)
            times[name].append(time.perf_counter() - start)
            print(f"  round {round_ + 1}: {name:30} {times[name][-1]:7.1f} s", flush=True)
    loop_s = statistics.median(times[names[0]])
    for name in names:
        median = statistics.median(times[name])
        print(
            f"{name:34} {median:8.1f} s {len(workloads) / median:9,.0f} evaluations/s  "
            f"x{loop_s / median:.2f} the loop"
        )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workloads", type=int, default=300, help="distinct workloads (300)")
    parser.add_argument("--rounds", type=int, default=9, help="interleaved rounds (9)")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="profile evaluate() too")
    parser.add_argument(
        "--soak",
        type=int,
        metavar="N",
        help="also run N evaluations, printing RSS at intervals and live sessions at the end",
    )
    parser.add_argument(
        "--batch",
        type=int,
        metavar="N",
        help="also time evaluate_many against a loop on N distinct workloads",
    )
    parser.add_argument("--workers", type=int, default=2, help="processes for --batch (2)")
    parser.add_argument("--batch-rounds", type=int, default=1, help="rounds for --batch (1)")
    parser.add_argument(
        "--skip-per-call", action="store_true", help="only the --soak / --batch parts"
    )
    args = parser.parse_args(argv)
    print(
        f"r1rules {r1rules.__version__}, durable-rules {metadata.version('durable_rules')}, "
        f"Python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs"
    )
    workloads = evaluable(varied_workloads(args.workloads, args.seed))
    if not args.skip_per_call:
        per_call(workloads, args.rounds)
    if args.profile:
        profile(workloads)
    if args.soak:
        soak(workloads, args.soak)
    if args.batch:
        batch(args.batch, args.seed, args.workers, args.batch_rounds)


if __name__ == "__main__":
    main()
