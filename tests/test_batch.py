"""evaluate_many(): the same answers as evaluate(), in input order, in one process or several."""

from __future__ import annotations

import gc
import os
import pickle
import random
import re
import signal
from pathlib import Path

import pytest
from rulefiles import write_rules

import r1rules
from r1rules import (
    EvaluationError,
    R1RulesError,
    Recommendation,
    Workload,
    WorkloadError,
    evaluate,
    load_rules,
)
from r1rules.catalog._catalog import shipped_rules_dir
from r1rules.recommend._batch import MIN_PER_PROCESS, Batch, _decode, _encode
from r1rules.recommend._many import evaluate_many

MODELS = tuple(sorted(r1rules.default_catalog().models))
GPUS = (None, "h100-sxm", "h200", "l40s", "a100-80gb", "rtx-4090", "mi300x")


def varied(count: int, seed: int = 0) -> list[Workload]:
    """``count`` distinct valid workloads (QPS drawn from a continuum)."""
    rng = random.Random(seed)
    out: list[Workload] = []
    while len(out) < count:
        try:
            out.append(
                Workload(
                    model=rng.choice(MODELS),
                    gpu=rng.choice(GPUS),
                    precision=rng.choice((None, "bf16", "fp8", "int4")),
                    peak_qps=round(rng.uniform(0.1, 300), 3),
                    latency_ms=rng.choice((80, 150, 300, 1000, 3000)),
                    prompt_tokens=rng.choice((256, 1024, 4096)),
                    output_tokens=rng.choice((256, 1024, 4096)),
                )
            )
        except WorkloadError:
            continue
    return out


# A layered rule set that cannot decide workloads above 200 QPS without a budget: its rule
# copies budget_usd, which they lack (the static checker does not see this one).
FAILING_ABOVE_200 = """
[[facts]]
name = "spend"
type = "number"
description = "test fact"

[[facts]]
name = "spend_source"
type = "number"
description = "test fact, only set above 300 QPS"

[[tables]]
id = "spend-source"
title = "Sets the source above 300 QPS"
hit_policy = "collect"

  [[tables.rules]]
  id = "spend-source-set"
  title = "set"
  source = "test"
  why = "test"
  when = { peak_qps = { gt = 300 } }
  set = { spend_source = 1 }

[[tables]]
id = "spend"
title = "Copies the source above 200 QPS (it has no value from 200 to 300 QPS)"
hit_policy = "collect"

  [[tables.rules]]
  id = "spend-copy"
  title = "copy"
  source = "test"
  why = "test"
  when = { peak_qps = { gt = 200 } }
  set = { spend = { fact = "spend_source" } }
"""


@pytest.fixture(scope="module")
def layered(tmp_path_factory: pytest.TempPathFactory) -> r1rules.RuleSet:
    folder = write_rules(tmp_path_factory.mktemp("layered"), FAILING_ABOVE_200, minimal=False)
    return load_rules(folder, include_shipped=True)


def _same(a: Recommendation, b: Recommendation) -> bool:
    return a.to_dict() == b.to_dict() and a.workload == b.workload and a.rules is b.rules


def test_equals_a_loop_of_evaluate_in_input_order() -> None:
    workloads = varied(60)
    results = evaluate_many(workloads)
    assert all(
        _same(m, evaluate(w, options=False)) for m, w in zip(results, workloads, strict=True)
    )


def canonical(workloads: list[Workload]) -> list[Workload]:
    """The workloads as evaluate() keeps them: ids resolved to canonical ones."""
    return [w.resolve()[0] for w in workloads]


def test_empty_and_generators() -> None:
    assert evaluate_many([]) == ()
    workloads = varied(3)
    assert [r.workload for r in evaluate_many(w for w in workloads)] == canonical(workloads)


def test_repeated_workloads_are_evaluated_once_but_get_their_own_objects(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Memoised: three distinct workloads in a batch of nine cost three evaluations."""
    import r1rules.recommend._batch as batch

    calls: list[Workload] = []
    real = evaluate

    def counting(
        workload: Workload, rules: object = None, *, options: bool = True
    ) -> Recommendation:
        calls.append(workload)
        return real(workload, rules, options=options)  # type: ignore[arg-type]

    monkeypatch.setattr(batch, "evaluate", counting)
    a, b, c = varied(3, seed=1)
    results = evaluate_many([a, b, a, c, a, b, c, c, a])
    assert calls == [a, b, c]
    assert [r.workload for r in results] == canonical([a, b, a, c, a, b, c, c, a])
    assert results[0] is not results[2] and results[0].facts is not results[2].facts
    assert _same(results[0], results[8])


def test_a_rules_path_is_loaded_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import r1rules.recommend._evaluate as recommend

    folder = write_rules(tmp_path, FAILING_ABOVE_200, minimal=True)
    loads: list[object] = []
    real = load_rules

    def counting(*args: object, **kwargs: object) -> r1rules.RuleSet:
        loads.append(args)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(recommend, "load_rules", counting)
    results = evaluate_many(
        [w for w in varied(20, seed=2) if (w.peak_qps or 0.0) <= 200][:5], rules=str(folder)
    )
    assert len(loads) == 1 and len(results) == 5


@pytest.mark.parametrize(
    "bad, message",
    [
        (Workload, "workloads: expected an iterable of r1rules.Workload, not type"),
        (5, "workloads: expected an iterable of r1rules.Workload, not int"),
        ("deepseek-r1", "workloads: expected an iterable of r1rules.Workload, not str"),
        (None, "workloads: expected an iterable of r1rules.Workload, not NoneType"),
    ],
)
def test_not_an_iterable_of_workloads(bad: object, message: str) -> None:
    with pytest.raises(WorkloadError) as caught:
        evaluate_many(bad)  # type: ignore[arg-type]
    assert str(caught.value) == message


def test_the_first_item_that_is_not_a_workload_is_named_before_any_evaluation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import r1rules.recommend._batch as batch

    monkeypatch.setattr(batch, "evaluate", lambda *a: pytest.fail("evaluated"))
    good = varied(2)
    with pytest.raises(WorkloadError) as caught:
        evaluate_many([good[0], good[1], {"model": "deepseek-r1"}, 7])  # type: ignore[list-item]
    assert str(caught.value) == "workloads[2]: expected an r1rules.Workload, not dict"


@pytest.mark.parametrize("workers", [0, -1, True, 1.5, "2"])
def test_workers_must_be_a_whole_number_of_processes(workers: object) -> None:
    with pytest.raises(R1RulesError) as caught:
        evaluate_many(varied(1), workers=workers)  # type: ignore[arg-type]
    assert str(caught.value) == (
        f"workers: expected None or a whole number of processes (1 or more), not {workers!r}"
    )


def test_the_first_failing_workload_is_named(layered: r1rules.RuleSet) -> None:
    fine, failing = (
        Workload(model="deepseek-r1-distill-qwen-7b", peak_qps=q, latency_ms=500) for q in (50, 250)
    )
    with pytest.raises(EvaluationError) as caught:
        evaluate_many([fine, fine, failing, fine, failing], rules=layered)
    with pytest.raises(EvaluationError) as alone:
        evaluate(failing, layered)
    assert str(caught.value) == f"workloads[2]: {alone.value}"


def test_small_batches_stay_in_process() -> None:
    """Below MIN_PER_PROCESS distinct workloads per extra process, no process is started."""
    batch: Batch[Recommendation]
    with Batch(r1rules.default_rules(), processes=4) as batch:
        batch.run(varied(20))
        assert batch._pool is None


def test_the_collector_state_is_restored() -> None:
    workloads = varied(300, seed=3)
    assert gc.isenabled()
    evaluate_many(workloads)
    assert gc.isenabled()
    gc.disable()
    try:
        evaluate_many(workloads[:10])
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_the_transport_encoding_rebuilds_an_identical_recommendation() -> None:
    rules = r1rules.default_rules()
    for workload in varied(40, seed=4):
        rec = evaluate(workload, rules)
        parts = pickle.loads(pickle.dumps(_encode(rec, workload, rules)))
        back = _decode(parts, workload, rules)
        assert _same(back, rec)
        assert back.workload == rec.workload and back.rules is rules
        for name in ("gpu", "estimates", "justifications", "notes", "warnings", "alternatives"):
            assert getattr(back, name) == getattr(rec, name)


def test_values_pickle_cleanly(layered: r1rules.RuleSet) -> None:
    """Workload, Recommendation, rule sets (shipped and layered) and errors round-trip."""
    workload = varied(1, seed=5)[0]
    assert pickle.loads(pickle.dumps(workload)) == workload
    rec = evaluate(workload)
    assert _same(pickle.loads(pickle.dumps(rec)), rec)
    assert pickle.loads(pickle.dumps(r1rules.default_rules())) is r1rules.default_rules()
    assert pickle.loads(pickle.dumps(layered)).version == layered.version
    error = r1rules.RuleError(["a.toml: rule 'x': when: bad", "b.toml: bad"])
    assert pickle.loads(pickle.dumps(error)).problems == error.problems
    for kind in (WorkloadError, EvaluationError, r1rules.CatalogError, R1RulesError):
        assert str(pickle.loads(pickle.dumps(kind("m")))) == "m"


# -- processes (each test starts one extra process: ~0.5 s) --------------------------------


def test_two_processes_give_the_loop_s_answers_in_order() -> None:
    workloads = varied(MIN_PER_PROCESS + 400, seed=6)
    workloads += workloads[:50]  # repeats across chunks
    batch: Batch[Recommendation]
    with Batch(r1rules.default_rules(), processes=2) as batch:
        outcomes = batch.run(workloads)
        assert batch._pool is not None  # the work really was shared
    assert all(
        isinstance(o, Recommendation) and _same(o, evaluate(w, options=False))
        for o, w in zip(outcomes, workloads, strict=True)
    )


def _sigint_blocked(_rec: Recommendation) -> tuple[int, bool]:
    """Where a workload was evaluated, and whether SIGINT was blocked there."""
    return os.getpid(), signal.SIGINT in signal.pthread_sigmask(signal.SIG_BLOCK, ())


def test_worker_processes_leave_ctrl_c_to_the_caller() -> None:
    """Ctrl-C goes to every process of the terminal's group: workers start with SIGINT
    blocked (none prints a traceback); the caller, which stops them, still takes it."""
    batch: Batch[tuple[int, bool]]
    with Batch(r1rules.default_rules(), processes=2, summarise=_sigint_blocked) as batch:
        outcomes = batch.run(varied(MIN_PER_PROCESS + 200, seed=9))
    found = {o for o in outcomes if isinstance(o, tuple)}
    here = {blocked for pid, blocked in found if pid == os.getpid()}
    there = {blocked for pid, blocked in found if pid != os.getpid()}
    assert (here, there) == ({False}, {True})


def test_processes_with_a_layered_rule_set_stop_at_the_first_error(
    layered: r1rules.RuleSet,
) -> None:
    """Workers reload the layered rules from their files; the error is the first by index."""
    good = [w for w in varied(2 * MIN_PER_PROCESS, seed=7) if (w.peak_qps or 0.0) <= 200]
    assert len(good) > MIN_PER_PROCESS + 100
    results = evaluate_many(good, rules=layered, workers=2)
    assert all(r.rules is layered for r in results)
    sample = zip(results[::50], good[::50], strict=True)
    assert all(_same(r, evaluate(w, layered, options=False)) for r, w in sample)
    failing = Workload(model="deepseek-r1-distill-qwen-7b", peak_qps=250, latency_ms=500)
    workloads = [*good[:900], failing, *good[900:], failing]
    with pytest.raises(EvaluationError) as caught:
        evaluate_many(workloads, rules=layered, workers=2)
    assert str(caught.value).startswith("workloads[900]: ")


def test_a_rule_set_with_its_own_catalog_reaches_the_workers(tmp_path: Path) -> None:
    """A layered rule set whose folder extends the catalog pickles as the load that made
    it, so worker processes evaluate with the same rules and catalog."""
    folder = write_rules(tmp_path, FAILING_ABOVE_200, minimal=False)
    (folder / "catalog").mkdir()
    text = (shipped_rules_dir() / "catalog" / "gpus.toml").read_text(encoding="utf-8")
    start = text.index("[gpus.h100-sxm]")
    end = text.index("\n[gpus.", start + 1)
    entry = text[start:end].replace("[gpus.h100-sxm]", "[gpus.test-h100]")
    entry = re.sub(r"aliases = \[.*?\]", 'aliases = ["test-alias"]', entry, flags=re.S)
    (folder / "catalog" / "gpus.toml").write_text(entry, encoding="utf-8")
    rules = load_rules(folder, include_shipped=True)
    assert "test-h100" in rules.catalog.gpus
    again = pickle.loads(pickle.dumps(rules))
    assert again.version == rules.version and "test-h100" in again.catalog.gpus
    good = [w for w in varied(2 * MIN_PER_PROCESS, seed=8) if (w.peak_qps or 0.0) <= 200]
    results = evaluate_many(good, rules=rules, workers=2)
    for w, rec in list(zip(good, results, strict=True))[::97]:
        assert rec.to_dict() == evaluate(w, rules, options=False).to_dict()


def test_an_interrupted_batch_hands_over_what_workers_finished(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Interrupted while a worker's chunk sits finished but not yet received: ``keep`` gets
    that chunk's outcomes (decoded as the batch would) and None for the rest."""
    from concurrent import futures

    from r1rules.recommend import _batch

    rules = r1rules.default_rules()
    workloads = varied(40, seed=3)
    _batch._start_worker(rules, str(tmp_path))  # this process plays the worker

    class Pool:
        """The first chunk sent comes back finished; the others never finish."""

        def __init__(self) -> None:
            self.sent: list[futures.Future[bytes | str]] = []

        def submit(self, _run: object, chunk: list[Workload], summarise: object) -> object:
            future: futures.Future[bytes | str] = futures.Future()
            if not self.sent:
                future.set_result(_batch._run_chunk(chunk, _batch._whole))
            self.sent.append(future)
            return future

    def interrupted(*_args: object) -> bool:
        raise KeyboardInterrupt  # while this process evaluates its own small chunk

    pool = Pool()
    monkeypatch.setattr(Batch, "_pool_for", lambda self, extra: pool)
    monkeypatch.setattr(_batch, "_evaluate_into", interrupted)
    monkeypatch.setattr(_batch, "MIN_PER_PROCESS", 1)
    monkeypatch.setattr(_batch, "MIN_CHUNK", 4)
    monkeypatch.setattr(_batch, "CHUNKS_PER_PROCESS", 10)
    kept: list[list[Recommendation | R1RulesError | None]] = []
    with Batch[Recommendation](rules, processes=2) as batch, pytest.raises(KeyboardInterrupt):
        batch.run(workloads, keep=kept.append)
    (outcomes,) = kept
    assert len(pool.sent) == 2  # two chunks in flight, the first finished
    first = sum(o is not None for o in outcomes)
    assert first == 4 and outcomes[first:] == [None] * (len(workloads) - first)
    for workload, got in zip(workloads[:first], outcomes[:first], strict=True):
        assert isinstance(got, Recommendation)
        assert got.to_dict() == evaluate(workload, rules, options=False).to_dict()
