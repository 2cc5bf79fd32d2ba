"""How close are r1rules' latency and throughput estimates to published measurements? (prints)

    python benchmarks/accuracy.py                # cases, summaries, the calibrated constants
    python benchmarks/accuracy.py --fit          # ... and a 1-D refit of each on train alone
    python benchmarks/accuracy.py --calibrate 6  # fit them all on train first (does not save)

Cases are the [[measurement]] tables of ``benchmarks/measurements.toml``. Each is predicted
with ``r1rules.physics.estimate_deployment`` (the function behind ``r1rules.estimate``) at the
case's model, precision, GPU, GPU count, tensor/pipeline degrees, concurrency, token
lengths and serving engine (its profile in ``rules/catalog/engines.toml``; a case whose
engine is ``other`` -- NVIDIA NIM, DeepSeek's own, a sweep script's -- is modelled with the
default engine, vLLM), and compared with the published value: signed error = predicted /
measured - 1.

How a metric is predicted (one rule per metric, no per-case tuning):

- ``tpot_ms``: ``Estimates.tpot_ms`` (a decode step at the running batch and mean context),
  plus, with more than one request in flight, the wait of a closed-loop wave (below).
- ``ttft_ms``: one request: ``Estimates.ttft_ms`` (an idle replica's prefill). With C > 1
  requests in flight the benchmark client starts C requests together and, lengths being
  fixed, they finish together, so each wave of b = ``batch_per_replica`` prompts is
  prefilled first-come first-served: mean TTFT = mean over k = 1..b of ``prefill_ms`` of k
  prompts, and each request's decode waits for the rest of its wave (added to TPOT). With
  random lengths (``length_range_ratio``) requests drift apart into a closed-loop steady
  state (``steady_state``); a case that states ``requests`` (InferenceX: 10 x C) starts its
  first C together, and those queue for their prefills as a wave does: the mean TTFT
  weighs the first wave's by its share, C / ``requests``; a median (``statistic``) is a
  steady-state request's. A scheduler that mixes prefill chunks of at most
  ``prefill_budget_tokens`` into its decode steps (``scheduler = "mixed"``: vLLM's V1
  engine) is run step by step (``mixed_closed_loop``): fixed-length requests prefilled in
  the same step finish together and come back together while the engine runs its next
  step, so a later request waits for that step and for the one that prefills its group.
  More requests than the KV cache holds (a burst of prompts sent at once) are admitted
  first come first served as others finish. A median or 99th percentile (``statistic``)
  is that of the simulated requests' TTFTs.
  This queueing is the benchmark's; r1rules' own ``ttft_ms`` has none.
- ``output_tokens_per_s``: ``Estimates.throughput_tokens_per_s`` (prefill included); with no
  concurrency stated (max-throughput runs at an infinite request rate) at the largest batch
  the KV cache holds. A run whose requests stop at their end of sequence states the tokens
  it generated (``generated_tokens``): those over the time of its longest request
  (``stopped_early``), whichever the scheduler. ``output_tokens_per_s_per_gpu``: the same
  over ``gpu_count``.
- ``tokens_per_s_per_user``: 1000 / predicted TPOT; no input length stated: a 1-token prompt.
- ``prefill_tokens_per_s``: prompt tokens x 1000 / predicted TTFT.

Unknown KV precision is the engine's default (``kv_cache_precision`` of its catalog entry),
and FP8 for TensorRT-LLM serving NVIDIA's ModelOpt FP8 checkpoints (``default_kv`` says
why). Cases r1rules cannot express (a GPU or precision outside the catalog, speculative
decoding, lengths or concurrency not stated, more requests in flight than the KV cache holds
for a TTFT or TPOT: whole sequences at fixed lengths, and with random lengths, where
requests drift apart, each prompt plus half its output, their mean occupancy) are listed as
skipped with the reason. So are cases whose source leaves open a condition the prediction
needs (``unstated``: which engine ran, the layout, whether a throughput counts prompt
tokens) and cases of older engine releases than their profile's ``since``: those two kinds
are also predicted and printed with their errors, unscored and never fitted on. A deployment
r1rules says does not fit is scored as a -100 % (rates) or infinite (times) error, not
skipped.

Split: within each (metric family, vendor) stratum, cases sorted by SHA-256 of their id;
the first 60 % (at least one, and at least one left when there are two) train, the rest
are held out. Constants (every engine-profile figure whose source in ``engines.toml`` reads
"fitted ...") are fitted on train only, by coordinate descent of the mean |ln(predicted /
measured)| (each case capped at ln 4) within BOUNDS; held-out numbers are the honest ones.
A constant *informs* a case when a 10 % change of it (a tenth of its upper bound from 0)
moves the prediction by more than 1 %.

Two checks follow the cases: the expert-parallel sizing target (R1 at 20 QPS of 2k prompt /
4k output tokens against the GPU count DeepSeek's published per-node throughput implies),
and the curve check (R1 on 8 x H200 / B200 / MI300X across concurrency 1-256: throughput per
GPU against tokens/s per user, each measured point of ``measurements.toml`` within +-25 %).
"""

from __future__ import annotations

import argparse
import collections
import functools
import hashlib
import heapq
import math
import statistics
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import attrs
import tomli

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

import r1rules  # noqa: E402
from r1rules import CatalogError, default_catalog  # noqa: E402
from r1rules._vocabulary import PRECISIONS  # noqa: E402
from r1rules._workload import DEFAULT_ENGINE  # noqa: E402
from r1rules.catalog import Catalog, Engine, EngineProfile, Gpu, Model, release  # noqa: E402
from r1rules.physics import Estimates, _ep, estimate_deployment, size  # noqa: E402
from r1rules.physics._layout import Layout  # noqa: E402

MEASUREMENTS = ROOT / "benchmarks" / "measurements.toml"
TRAIN_FRACTION = 0.6
FAMILY = {
    "ttft_ms": "ttft",
    "prefill_tokens_per_s": "ttft",
    "tpot_ms": "tpot",
    "tokens_per_s_per_user": "tpot",
    "output_tokens_per_s": "throughput",
    "output_tokens_per_s_per_gpu": "throughput",
}
SATURATED = 1_000_000  # "no concurrency stated": more requests than any KV cache holds
# The engines predictions use, by id: the shipped catalog's, with the fitted figures as
# ``Constant.set`` leaves them.
ENGINES: dict[str, Engine] = dict(default_catalog().engines)


@attrs.frozen
class Case:
    id: str
    m: dict[str, Any]
    vendor: str
    split: str

    @property
    def metric(self) -> str:
        return str(self.m["metric"])

    @property
    def family(self) -> str:
        return FAMILY[self.metric]

    @property
    def engine(self) -> str:
        """The engine it is modelled with: its own, or the default for ``other``."""
        recorded = str(self.m["engine"])
        return recorded if recorded in ENGINES else DEFAULT_ENGINE

    @property
    def measured(self) -> float:
        return float(self.m["value"])


def load(catalog: Catalog) -> list[Case]:
    rows = tomli.loads(MEASUREMENTS.read_text(encoding="utf-8"))["measurement"]
    vendor = {}
    for m in rows:
        try:
            vendor[m["id"]] = catalog.gpu(m["gpu"]).vendor
        except CatalogError:
            vendor[m["id"]] = "unknown"
    strata: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for m in rows:
        strata.setdefault((FAMILY[m["metric"]], vendor[m["id"]]), []).append(m)
    split = {}
    for members in strata.values():
        members.sort(key=lambda m: hashlib.sha256(m["id"].encode()).hexdigest())
        n = len(members)
        n_train = n if n < 2 else min(n - 1, max(1, round(TRAIN_FRACTION * n)))
        for i, m in enumerate(members):
            split[m["id"]] = "train" if i < n_train else "held-out"
    return [Case(m["id"], m, vendor[m["id"]], split[m["id"]]) for m in rows]


def skip_reason(case: Case, catalog: Catalog) -> str | None:
    """Why r1rules cannot express this case, or None."""
    m = case.m
    for kind, name in (("gpu", m["gpu"]), ("model", m["model"])):
        try:
            catalog.gpu(name) if kind == "gpu" else catalog.model(name)
        except CatalogError:
            return f"{kind} {name!r} is not in the catalog"
    if m["weights_precision"] not in PRECISIONS:
        return f"{m['weights_precision']} weights are not a modelled precision"
    if m["speculative"] != "none":
        return f"speculative decoding ({m['speculative']}) at an unstated acceptance rate"
    if "request_rate_qps" in m:
        return "an open-loop request rate is not modelled"
    if "unstated" in m:  # a condition the prediction needs that the source leaves open
        return f"{UNSTATED}: {m['unstated']}"
    needs_output = case.metric not in ("prefill_tokens_per_s", "tokens_per_s_per_user")
    needs_input = case.metric != "tokens_per_s_per_user"
    if (needs_input and "input_tokens" not in m) or (needs_output and "output_tokens" not in m):
        return "input/output lengths are not stated"
    if "concurrency" not in m and case.family != "throughput":
        return "concurrency is not stated"
    return older_release(case, catalog)


OLDER = "an older release"  # how older_release's reasons start
UNSTATED = "the source does not state"  # how the reasons of ``unstated`` cases start


def older_release(case: Case, catalog: Catalog) -> str | None:
    """Why the case is not scored against its engine's profile: measured on a release older
    than the profile's ``since`` (engines change fast; early-2025 DeepSeek kernels were
    several times slower than 2026's). None when it is of that release or later, or when the
    profile or the case does not say."""
    engine, gpu = ENGINES[case.engine], catalog.gpu(case.m["gpu"])
    if case.m["engine"] not in ENGINES or not engine.runs_on(gpu):
        return None
    since = engine.profile(gpu).since
    measured = release(str(case.m["engine_version"]))
    floor = None if since is None else release(since)
    if floor is None or measured is None or measured >= floor:
        return None
    return (
        f"{OLDER} ({case.m['engine_version']}) than the {engine.name} releases its profile "
        f"models (since {since})"
    )


class Skip(Exception):
    """The case is outside what r1rules models; the message says why."""


def default_kv(case: Case, engine: Engine) -> str:
    """The KV precision of a case that does not state it: the engine's default, except that
    TensorRT-LLM's ``kv_cache_dtype: auto`` takes the checkpoint's KV quantization, FP8 in
    NVIDIA's ModelOpt FP8 checkpoints (``nvidia/...-FP8``). The perf overview's Llama 3.1 8B
    at 128/2048 on one H100 (22,714 tok/s) is beyond what 3.35 TB/s can stream with a 16-bit
    cache (151 MB of KV per sequence per step: 22,200 tok/s at 100 % of the bandwidth)."""
    measured = str(case.m.get("measured_model", ""))
    if engine.id == "trtllm" and measured.startswith("nvidia/") and measured.endswith("-FP8"):
        return "fp8"
    return engine.kv_cache_precision


def lengths(m: dict[str, Any]) -> tuple[int, int]:
    """The case's (prompt, output) tokens (1 when unstated); with ``length_range_ratio`` r
    each length was drawn uniformly from [r x L, L], and the mean, L x (1 + r) / 2, is used."""
    share = (1.0 + float(m.get("length_range_ratio", 1.0))) / 2.0
    return (
        max(1, round(int(m.get("input_tokens", 1)) * share)),
        max(1, round(int(m.get("output_tokens", 1)) * share)),
    )


def predict(case: Case, catalog: Catalog) -> float:
    """The predicted value of the case's metric (inf/0 when r1rules says it does not fit)."""
    m = case.m
    model, gpu = catalog.model(m["model"]), catalog.gpu(m["gpu"])
    engine = ENGINES[case.engine]
    if "memory_fraction" in m:  # the launch's own memory setting, not the engine's default
        engine = attrs.evolve(engine, memory_fraction=float(m["memory_fraction"]))
    precision = m["weights_precision"]
    kv = m["kv_precision"] if m["kv_precision"] in PRECISIONS else default_kv(case, engine)
    prompt, output = lengths(m)
    tp, pp, count = m["tensor_parallel"], m["pipeline_parallel"], m["gpu_count"]
    users = int(m.get("concurrency", SATURATED))
    ep, dpa = int(m["expert_parallel"]), bool(m["data_parallel_attention"])
    layout = Layout(tp, pp, ep, dpa)

    def deployment(prompt_tokens: int, output_tokens: int) -> Estimates:
        return estimate_deployment(
            model,
            precision,
            gpu,
            count,
            users,
            prompt_tokens,
            output_tokens,
            kv,
            tp,
            pp,
            expert_parallel=ep,
            data_parallel_attention=dpa,
            engine=engine,
        )

    e = deployment(prompt, output)
    if not e.fits:
        return 0.0 if case.metric.endswith(("_per_s", "_per_gpu", "_per_user")) else math.inf
    steps = deployment_steps(model, precision, kv, gpu, layout, prompt, output, engine)
    if "generated_tokens" in m and case.family == "throughput":
        # any scheduler: the run is its longest request's decode steps after the prefills
        rate = stopped_early(m, e.replicas, steps)
        return rate if case.metric == "output_tokens_per_s" else rate / count
    if m.get("scheduler") == "mixed":  # the KV cache's limit is simulated with the rest
        return mixed_prediction(case, e, steps, engine.profile(gpu).request_ms)
    if m.get("statistic") == "p99":
        raise Skip("a 99th percentile is simulated only for a scheduler that mixes prefills")
    # requests drift apart when their lengths are drawn at random (``length_range_ratio``)
    drifting = users != SATURATED and float(m.get("length_range_ratio", 1.0)) < 1.0
    # a scheduler that takes in new requests every N iterations (``steady_state``)
    waiting = int(m.get("admission_wait_steps", 1))
    held = e
    if drifting and e.kv_limited:
        # requests drawn at random lengths drift apart: at any moment each holds its prompt
        # and on average half its output, not its whole sequence, so the cache is judged
        # at that mean occupancy (the time per step is already taken at that context)
        held = deployment(prompt + output // 2, 1)
    if held.kv_limited and users != SATURATED and case.family != "throughput":
        raise Skip(
            f"{users} requests exceed the {held.max_concurrency} the KV cache holds: the rest "
            "queue for whole request cycles (not modelled)"
        )
    throughput = e.throughput_tokens_per_s
    first_share, first_wave = 0.0, 0.0  # the share of the requests in a first wave, its TTFT
    if drifting:
        per_replica = math.ceil(users / e.replicas)
        ttft, tpot, rate = steady_state(
            per_replica, output, steps.prefill_ms, steps.decode_ms, waiting
        )
        throughput = rate * 1000.0 * output * e.replicas
        if "requests" in m and m.get("statistic", "mean") == "mean":
            # the client starts ``users`` requests at once: that first wave queues for its
            # prefills (first come, first served) and waits for no scheduler admission; a
            # median is a steady-state request's (the wave is a tenth of the run)
            first_share = users / int(m["requests"])
            first_wave = statistics.fmean(steps.prefill_ms(k) for k in range(1, per_replica + 1))
    else:
        b = e.batch_per_replica
        waves = [steps.prefill_ms(k) for k in range(1, b + 1)]
        ttft = statistics.fmean(waves)
        tpot = e.tpot_ms + (waves[-1] - ttft) / output
        ttft += (waiting - 1) / 2.0 * tpot  # half of the N - 1 steps' wait
    ttft = first_share * first_wave + (1.0 - first_share) * ttft
    ttft += engine.profile(gpu).request_ms  # the way to the first token off the GPU
    return metric_value(case.metric, ttft, tpot, prompt, throughput, count)


def metric_value(
    metric: str, ttft: float, tpot: float, prompt: int, throughput: float, gpus: int
) -> float:
    """A metric from a run's TTFT and TPOT (ms), prompt tokens, and output tokens/s of all
    its ``gpus``."""
    return {
        "ttft_ms": ttft,
        "tpot_ms": tpot,
        "tokens_per_s_per_user": 1000.0 / tpot,
        "prefill_tokens_per_s": prompt * 1000.0 / ttft,
        "output_tokens_per_s": throughput,
        "output_tokens_per_s_per_gpu": throughput / gpus,
    }[metric]


@attrs.frozen
class Steps:
    """One replica's step times: ``prefill_ms(k)``, k prompts prefilled together, and
    ``decode_ms(b)``, a decode step of b running requests (at the mean context)."""

    prefill_ms: Callable[[int], float]
    decode_ms: Callable[[int], float]


def deployment_steps(
    model: Model,
    precision: str,
    kv: str,
    gpu: Gpu,
    layout: Layout,
    prompt: int,
    output: int,
    engine: Engine,
) -> Steps:
    """The step times of one replica of a deployment, as ``estimate`` prices them: prompts of
    ``prompt`` tokens, decodes at the mean context of a request of ``output`` tokens."""

    @functools.cache
    def prefill(k: int) -> float:
        return _ep.layout_prefill_ms(model, precision, gpu, layout, prompt, k, engine)

    @functools.cache
    def decode(b: int) -> float:
        context = prompt + output / 2
        return _ep.layout_decode_ms(model, precision, kv, gpu, layout, b, context, 0.0, engine)

    return Steps(prefill, decode)


def stopped_early(m: dict[str, Any], replicas: int, steps: Steps) -> float:
    """Output tokens/s of a run of ``requests`` sent at once whose requests stop at their
    end of sequence: ``generated_tokens`` in all, the longest at ``output_tokens``.

    The run lasts until its longest request ends: the prompts' prefill, then
    ``output_tokens`` - 1 decode steps, each of the requests still running. Taking a step's
    time as linear in its batch, from ``decode_ms`` at 1 and at all of a replica's
    requests, the steps' sum needs only the run's length and the tokens decoded, not how
    the lengths were spread: (L - 1) x t0 + slope x (tokens after the first ones). Over
    ``replicas``, each is taken to serve an equal share of the requests and of the tokens,
    one of them a longest one (so the run is as long as one replica's).
    """
    _, longest = lengths(m)
    batch = math.ceil(int(m["requests"]) / replicas)
    generated = int(m["generated_tokens"]) / replicas
    slope = (steps.decode_ms(batch) - steps.decode_ms(1)) / (batch - 1) if batch > 1 else 0.0
    base = steps.decode_ms(1) - slope
    decoding = (longest - 1) * base + slope * max(0.0, generated - batch)
    return int(m["generated_tokens"]) * 1000.0 / (steps.prefill_ms(batch) + decoding)


def mixed_prediction(case: Case, e: Estimates, steps: Steps, request_ms: float) -> float:
    """The case's metric for a scheduler that mixes prefill chunks into decode steps
    (``scheduler = "mixed"``), from ``mixed_closed_loop`` on one replica, at most as many
    requests admitted as its KV cache holds; ``request_ms``: the way to the first token off
    the GPU."""
    m = case.m
    prompt, output = lengths(m)
    users = math.ceil(int(m["concurrency"]) / e.replicas)
    requests = math.ceil(int(m["requests"]) / e.replicas)
    capacity = e.max_concurrency // e.replicas if e.kv_limited else None
    ttfts, tpot, rate = mixed_closed_loop(
        users, requests, prompt, output, int(m["prefill_budget_tokens"]), steps, capacity
    )
    ttft = percentile(ttfts, m.get("statistic", "mean"))
    ttft += request_ms
    throughput = rate * 1000.0 * e.replicas
    return metric_value(case.metric, ttft, tpot, prompt, throughput, int(m["gpu_count"]))


def percentile(values: Sequence[float], statistic: str) -> float:
    """The ``statistic`` ("mean", "median" or "p99") of the values, a percentile as numpy's
    (linear between the two nearest ranks), which vLLM's benchmark reports."""
    if statistic == "mean":
        return statistics.fmean(values)
    if statistic == "median":
        return statistics.median(values)
    if statistic == "p99":
        return (
            statistics.quantiles(values, n=100, method="inclusive")[98]
            if len(values) > 1
            else values[0]
        )
    raise ValueError(f"statistic must be mean, median or p99, got {statistic!r}")


def mixed_closed_loop(
    users: int,
    requests: int,
    prompt: int,
    output: int,
    budget: int,
    steps: Steps,
    capacity: int | None = None,
) -> tuple[list[float], float, float]:
    """(each request's TTFT ms, mean TPOT ms, output tokens per ms) of a benchmark client
    that keeps ``users`` fixed-length requests in flight until ``requests`` are done,
    served by a scheduler that mixes prefill into decode steps (vLLM's V1 engine), step
    by step.

    Each step decodes one token of every running request and fills the rest of its
    ``budget`` of tokens (``--max-num-batched-tokens``, which counts the decodes too) with
    prompt tokens of the queued requests, first come first served, a prompt in chunks if
    need be; its time is the decode step's plus the chunk's prefill (k prompts' worth,
    ``prefill_ms`` interpolated between whole prompts). A prompt's last chunk gives its
    first token; its request then decodes ``output - 1`` more steps. A finished request's
    client sends the next one at once, but the engine has started its next step by the time
    that prompt crosses the API server: it is first scheduled in the step after (the
    engine idles meanwhile only when it has nothing else to do). TPOT is a request's
    (end - first token) / (output - 1), as vLLM's benchmark reports it.

    Fixed lengths do not drift apart here: the first wave's prompts start decoding over
    the few long steps that prefill them, a budget's worth in each, so they finish in
    groups, and each group's next prompts come back together; a later request waits for
    the step under way and then for the step that prefills its group.

    ``capacity``: the most requests the KV cache holds at once (None: no limit). A queued
    request is admitted, first come first served, when a step begins with fewer than that
    many admitted and unfinished; each is taken to hold its whole sequence from the start.
    vLLM instead allocates cache blocks as the tokens come and preempts a request when they
    run out, so it admits a few more at first and recomputes some later; with outputs
    short next to prompts (the bursts of prompts this serves) the two differ little.
    """
    if budget < 1:
        raise ValueError(f"prefill_budget_tokens must be at least 1, got {budget}")
    if capacity is not None and capacity < 1:
        raise ValueError(f"the KV cache must hold at least one request, got {capacity}")

    @functools.cache
    def prefill(tokens: int) -> float:
        whole = tokens / prompt
        if whole <= 1.0:
            return steps.prefill_ms(1) * whole
        low = math.floor(whole)
        share = whole - low
        high = steps.prefill_ms(low + 1) if share else 0.0
        return steps.prefill_ms(low) * (1.0 - share) + high * share

    now, step = 0.0, 0
    arrived: list[float] = []
    waiting: collections.deque[list[int]] = collections.deque()  # [request, prompt left]
    queue: collections.deque[list[int]] = collections.deque()  # admitted: being prefilled
    arriving: list[list[int]] = []  # sent during the step under way: queued after it
    first: dict[int, float] = {}
    done: dict[int, float] = {}
    last: list[tuple[int, int]] = []  # heap of (the step of its last token, request)

    def send() -> None:
        if len(arrived) < requests:
            arriving.append([len(arrived), prompt])
            arrived.append(now)

    for _ in range(min(users, requests)):
        send()
    waiting.extend(arriving)  # the first prompts are there before the first step
    arriving.clear()
    while len(done) < requests:
        step += 1
        running = len(last)
        while waiting and (capacity is None or running + len(queue) < capacity):
            queue.append(waiting.popleft())
        room, chunk, started = max(0, budget - running), 0, []
        while queue and room:
            head = queue[0]
            take = min(room, head[1])
            head[1] -= take
            room -= take
            chunk += take
            if head[1]:
                break
            started.append(queue.popleft()[0])
        waiting.extend(arriving)  # the prompts sent as this step began
        arriving.clear()
        now += (steps.decode_ms(running) if running else 0.0) + (prefill(chunk) if chunk else 0.0)
        ended = []
        while last and last[0][0] == step:
            ended.append(heapq.heappop(last)[1])
        for request in started:
            first[request] = now
            if output > 1:
                heapq.heappush(last, (step + output - 1, request))
            else:
                ended.append(request)
        for request in ended:
            done[request] = now
            send()
    ttfts = [first[r] - arrived[r] for r in range(requests)]
    tpot = statistics.fmean((done[r] - first[r]) / max(1, output - 1) for r in range(requests))
    return ttfts, tpot, requests * output / now


def steady_state(
    users: int,
    output: int,
    prefill_ms: Callable[[int], float],
    decode_ms: Callable[[int], float],
    wait_steps: int = 1,
) -> tuple[float, float, float]:
    """(TTFT ms, TPOT ms, requests per ms) of ``users`` closed-loop clients of one replica
    whose requests have drifted apart (lengths drawn at random): continuous batching with
    chunked prefill, in steady state. ``prefill_ms(k)``: k prompts prefilled together.

    X requests per ms complete. A scheduler that takes in new requests every
    ``wait_steps`` iterations admits the prompts that arrived meanwhile together:
    k = X x wait_steps x TPOT of them (at least one, at most every user), prefilled as one
    batch; each new prompt waits half of the wait_steps - 1 steps for it, unless it is the
    only user's: then nothing is decoding when it comes, and an idle scheduler's loop (no
    forward pass, each turn counted as one step: SGLang's SchedulerRecvSkipper weighs an
    idle turn 1, like a decode step) polls again within a millisecond. The others'
    prefills take rho = X x prefill_ms(k) / k x (users - 1) / users of the replica's time
    (a batch costs no less per prompt when one prefill already fills the replica, less
    where it fills one attention group of several), so a decode step of the b requests
    decoding is stretched to decode_ms(b) / (1 - rho); a new prompt waits for the step
    under way (half a step) and for the prompts queued before it (M/D/1:
    rho x prefill / (2 (1 - rho))), then takes its batch's prefill. X solves Little's law,
    users = X x (TTFT + output x TPOT), by damped fixed-point iteration.
    """
    others = (users - 1) / users
    rate = users / (prefill_ms(1) + output * decode_ms(users))
    ttft = tpot = 0.0
    for _ in range(200):
        step = tpot or decode_ms(users)
        together = max(1.0, min(float(users), rate * wait_steps * step)) if wait_steps > 1 else 1.0
        low = math.floor(together)
        share = together - low
        batch = prefill_ms(low) * (1.0 - share) + (prefill_ms(low + 1) * share if share else 0.0)
        rho = min(0.95, rate * batch / together * others)
        decoding = max(1, min(users, round(rate * output * step)))
        tpot = decode_ms(decoding) / (1.0 - rho)
        wait = (tpot / 2.0 if users > 1 else 0.0) + rho * batch / (2.0 * (1.0 - rho))
        if users > 1:  # a lone user's prompt finds the scheduler idle, polling every loop
            wait += (wait_steps - 1) / 2.0 * tpot
        ttft = batch + wait
        rate = 0.5 * rate + 0.5 * users / (ttft + output * tpot)
    return ttft, tpot, rate


def evaluated(cases: Sequence[Case], catalog: Catalog) -> tuple[list[Case], dict[str, str]]:
    """The cases r1rules can express, and the reason for each of the others."""
    skipped = {}
    for c in cases:
        reason = skip_reason(c, catalog)
        if reason is None:
            try:
                predict(c, catalog)
            except Skip as why:
                reason = str(why)
        if reason is not None:
            skipped[c.id] = reason
    return [c for c in cases if c.id not in skipped], skipped


def error(predicted: float, measured: float) -> float:
    return predicted / measured - 1.0 if math.isfinite(predicted) else math.inf


def median_abs(errors: Iterable[float]) -> float:
    values = [abs(x) for x in errors]
    return statistics.median(values) if values else math.nan


def worse_than_2x(err: float) -> bool:
    return not math.isfinite(err) or err > 1.0 or err < -0.5


# --- calibrated constants -------------------------------------------------------------------


@attrs.frozen
class Constant:
    """One fitted figure: ``field`` of ``engine``'s profile for GPUs of ``kind`` (a vendor
    and segment, e.g. "AMD datacenter", and maybe an architecture), as ``ENGINES`` holds
    it."""

    engine: str
    kind: str
    field: str

    @property
    def label(self) -> str:
        return f"{self.engine} {self.kind}.{self.field}"

    def get(self) -> float:
        return float(getattr(ENGINES[self.engine].profiles[self.kind], self.field))

    def set(self, value: float) -> None:
        """Replace the engine record (physics caches key on it: nothing to clear), and the
        same figure of every profile whose source says it is assumed from this one."""
        engine = ENGINES[self.engine]
        profiles = dict(engine.profiles)
        profiles[self.kind] = attrs.evolve(profiles[self.kind], **{self.field: value})
        ENGINES[self.engine] = attrs.evolve(engine, profiles=profiles)
        mine = f"assumed: {profile_id(profiles[self.kind])}'s"
        for other in list(ENGINES.values()):
            for kind, profile in other.profiles.items():
                if profile.sources.get(self.field, "").startswith(mine):
                    if getattr(profile, self.field) != value:
                        Constant(other.id, kind, self.field).set(value)


def profile_id(profile: EngineProfile) -> str:
    """The id of a profile's [engine_profiles.<id>] table, as engines.toml names them."""
    engine = profile.engine.replace(".", "-")
    arch = f"-{profile.architecture}" if profile.architecture else ""
    return f"{engine}-{profile.vendor.lower()}-{profile.segment}{arch}"


def calibrated() -> list[Constant]:
    """The figures fitted to measurements: those whose source says "fitted"."""
    return [
        Constant(engine.id, kind, field)
        for engine in default_catalog().engines.values()
        for kind, profile in engine.profiles.items()
        for field, source in profile.sources.items()
        if source.startswith("fitted")
    ]


Predictor = Callable[[], dict[str, float]]


def predictions(cases: Sequence[Case], catalog: Catalog) -> dict[str, float]:
    return {c.id: predict(c, catalog) for c in cases}


def informs(
    const: Constant, cases: Sequence[Case], base: dict[str, float], run: Predictor
) -> set[str]:
    old = const.get()
    # a 10 % change; a figure at 0 moves by a tenth of its upper bound instead
    const.set(old * 1.1 if old else BOUNDS[const.field][1] / 10)
    try:
        moved = run()
    finally:
        const.set(old)
    return {
        c.id
        for c in cases
        if math.isfinite(base[c.id]) and base[c.id] > 0 and abs(moved[c.id] / base[c.id] - 1) > 0.01
    }


def fit(const: Constant, train: Sequence[Case], run: Predictor) -> tuple[float, dict[str, float]]:
    """The factor on ``const`` (2^(k/8), |k| <= 24, within BOUNDS) minimising median |error|
    on ``train``."""
    old = const.get()
    low, high = BOUNDS[const.field]
    best: tuple[float, float, dict[str, float]] = (math.inf, 1.0, {})
    try:
        for k in range(-24, 25):
            if not low <= old * 2 ** (k / 8) <= high:
                continue
            const.set(old * 2 ** (k / 8))
            got = run()
            score = median_abs(error(got[c.id], c.measured) for c in train)
            if score < best[0] - 1e-12 or (
                score <= best[0] + 1e-12 and abs(k) < abs(math.log2(best[1]) * 8)
            ):
                best = (score, 2 ** (k / 8), got)
    finally:
        const.set(old)
    return best[1], best[2]


def log_loss(got: dict[str, float], cases: Sequence[Case]) -> float:
    """Mean |ln(predicted / measured)|, each case capped at ln 4 (the fit's loss)."""
    cap = math.log(4.0)
    return statistics.fmean(
        min(cap, abs(math.log(got[c.id] / c.measured))) if 0 < got[c.id] < math.inf else cap
        for c in cases
    )


# The range a fit may move each field within: a fraction no kernel exceeds (STREAM reaches
# 87-89 % of an H100's bandwidth, FlashAttention-3 ~75 % of its BF16 peak), or a time.
BOUNDS = {
    "bandwidth": (0.60, 0.90),
    "dense_gemm": (0.20, 0.80),
    "expert_gemm": (0.005, 0.80),
    "expert_gemm_ep": (0.05, 0.80),
    "attention": (0.10, 0.75),
    "step_ms": (0.0, 10.0),
    "kernel_us": (0.5, 40.0),
    "seq_us": (0.0, 200.0),
    "request_ms": (0.0, 300.0),
}


def calibrate(train: Sequence[Case], run: Predictor, rounds: int) -> None:
    """Coordinate descent of every constant on ``train`` (fractions capped at 1); prints."""
    for _ in range(rounds):
        for const in calibrated():
            old = const.get()
            low, high = BOUNDS[const.field]
            grid = [old * 2 ** (k / 16) for k in range(-32, 33)]
            grid += [low + (high - low) * i / 40 for i in range(41)]
            best = (log_loss(run(), train), old)
            for value in grid:
                if not low <= value <= high:
                    continue
                const.set(value)
                best = min(best, (log_loss(run(), train), value))
            const.set(best[1])
    for const in calibrated():
        print(f"  {const.label:<24} {const.get():.4g}")


# --- report ---------------------------------------------------------------------------------


def table(title: str, groups: dict[str, list[tuple[Case, float]]]) -> None:
    print(f"\n{title}")
    print(f"  {'':<22} {'train':>15} {'held-out':>15} {'all':>15}   >2x")
    for name in sorted(groups):
        rows = groups[name]
        cells = []
        for part in ("train", "held-out", None):
            errs = [e for c, e in rows if part is None or c.split == part]
            cells.append(f"{median_abs(errs):>8.1%} (n={len(errs):>2})" if errs else f"{'-':>15}")
        bad = sum(worse_than_2x(e) for _, e in rows)
        print(f"  {name:<22} {cells[0]:>15} {cells[1]:>15} {cells[2]:>15}   {bad}")


def report(cases: list[Case], catalog: Catalog, refit: bool) -> None:
    live, skipped = evaluated(cases, catalog)
    base = predictions(live, catalog)
    errs = {c.id: error(base[c.id], c.measured) for c in live}
    print(f"{len(cases)} measurements: {len(live)} evaluated, {len(skipped)} skipped")
    print(f"\n{'case':<62} {'split':<8} {'measured':>10} {'predicted':>10} {'error':>8}")
    for c in live:
        print(
            f"{c.id:<62} {c.split:<8} {c.measured:>10.4g} {base[c.id]:>10.4g} {errs[c.id]:>+8.1%}"
        )
    pairs = [(c, errs[c.id]) for c in live]
    table("median |error| overall", {"all": pairs})
    others = sorted({c.id.split("-")[0] for c in live if c.m["engine"] not in ENGINES})
    print(f"\n('other' engines -- {', '.join(others)} -- are modelled as {DEFAULT_ENGINE})")
    for title, key in (
        ("by metric family", lambda c: c.family),
        ("by metric", lambda c: c.metric),
        ("by vendor", lambda c: c.vendor),
        ("by engine", lambda c: c.engine),
        ("by engine and family", lambda c: f"{c.engine} {c.family}"),
    ):
        groups: dict[str, list[tuple[Case, float]]] = {}
        for c, e in pairs:
            groups.setdefault(key(c), []).append((c, e))
        table(title, groups)
    held = [(c, e) for c, e in pairs if c.split == "held-out"]
    print("\ntargets (held-out): median |error| <= 15% overall, <= 20% per family; none > 2x")
    line = f"  overall {median_abs(e for _, e in held):.1%}"
    for fam in ("ttft", "tpot", "throughput"):
        line += f"; {fam} {median_abs(e for c, e in held if c.family == fam):.1%}"
    bad = sum(worse_than_2x(e) for _, e in pairs)
    print(f"{line}; cases worse than 2x: {bad} of {len(pairs)} (all splits)")
    print("\nworst 10 cases")
    for c, e in sorted(pairs, key=lambda p: -abs(p[1]))[:10]:
        print(f"  {e:>+8.1%}  {c.id} ({c.split})")
    print("\nskipped (r1rules cannot express them)")
    for cid, reason in skipped.items():
        print(f"  {cid:<62} {reason}")
    for start, title in (
        (OLDER, "older engine releases than the profiles model"),
        (UNSTATED, "conditions the source does not state (engine, layout or metric)"),
    ):
        shown = [c for c in cases if skipped.get(c.id, "").startswith(start)]
        if shown:
            print(f"\n{title} (not scored; shown so that nothing is hidden)")
        for c in shown:
            got = predict(c, catalog)
            print(f"  {c.id:<62} {c.measured:>10.4g} {got:>10.4g} {error(got, c.measured):>+8.1%}")
    constants(live, catalog, base, refit)
    ep_target(catalog)
    curve_check(cases, skipped, catalog)


def constants(live: list[Case], catalog: Catalog, base: dict[str, float], refit: bool) -> None:
    def run() -> dict[str, float]:
        return predictions(live, catalog)

    print("\ncalibrated constants: the cases each informs, median |error| on them")
    for const in calibrated():
        ids = informs(const, live, base, run)
        parts = {
            split: [c for c in live if c.id in ids and c.split == split]
            for split in ("train", "held-out")
        }
        low, high = BOUNDS[const.field]
        flags = [
            "at a bound of its fit: the training cases want it further"
            for bound in (low, high)
            if const.get() == bound and bound > 0
        ]
        if not parts["train"]:
            flags.append("informs no training case: the data do not determine it")
        print(f"  {const.label} = {const.get():.4g}" + "".join(f"  ({f})" for f in flags))
        for split, members in parts.items():
            err = median_abs(error(base[c.id], c.measured) for c in members)
            print(f"    {split:<8} {len(members):>2} cases, median |error| {err:.1%}")
            for c in members:
                print(f"      {c.id}")
        if refit and parts["train"]:
            factor, got = fit(const, parts["train"], run)
            after = [median_abs(error(got[c.id], c.measured) for c in m) for m in parts.values()]
            print(
                f"    refit on train alone: x{factor:.3g} = {const.get() * factor:.4g}, "
                f"median |error| {after[0]:.1%} train, {after[1]:.1%} held-out"
            )


# --- the expert-parallel sizing target ---------------------------------------------------

# DeepSeek open-infra-index, day 6: "Each H800 node delivers an average throughput of ~73.7k
# tokens/s input (including cache hits) during prefilling or ~14.8k tokens/s output during
# decoding" (measurements deepseek-prod-r1v3-h800-ep{144-decode,32-prefill}-per-node).
DEEPSEEK_DECODE_PER_NODE = 14_800.0
DEEPSEEK_PREFILL_PER_NODE = 73_700.0


def ep_target(catalog: Catalog) -> None:
    """R1 at 20 QPS of 2k prompt / 4k output tokens on H100, sized by each engine that runs
    expert parallelism, against the GPUs DeepSeek's per-node throughput implies."""
    qps, prompt, output = 20.0, 2000, 4000
    implied = (
        qps * output / DEEPSEEK_DECODE_PER_NODE * 8 + qps * prompt / DEEPSEEK_PREFILL_PER_NODE * 8
    )
    print(
        f"\nEP sizing target: R1 serving {qps:g} QPS of {prompt} prompt / {output} output tokens "
        f"sized within 1.5x of the {implied:.1f} GPUs implied by DeepSeek's ~14.8k output "
        "tokens/s per 8 x H800 node (and ~73.7k input tokens/s per node in prefill)"
    )
    r1, h100 = catalog.model("deepseek-r1"), catalog.gpu("h100-sxm")
    # the node spans the shipped rules allow such a deployment (enterprise, H100 pinned)
    facts = r1rules.evaluate(
        r1rules.Workload(
            model="deepseek-r1",
            precision="fp8",
            gpu="h100-sxm",
            peak_qps=qps,
            latency_ms=60_000.0,
            prompt_tokens=prompt,
            output_tokens=output,
        )
    ).facts
    spans = int(str(facts["max_nodes_per_replica"])), int(str(facts["max_nodes_per_ep_replica"]))
    print(
        f"  node spans from the shipped rules: {spans[0]} per tensor x pipeline replica, "
        f"{spans[1]} per expert-parallel one"
    )
    default_met = False
    for engine in ENGINES.values():
        s = size(
            r1,
            "fp8",
            "bf16",
            h100,
            peak_qps=qps,
            latency_ms=60_000.0,
            prompt_tokens=prompt,
            output_tokens=output,
            headroom_fraction=0.2,
            max_nodes=spans[0],
            max_ep_nodes=spans[1],
            engine=engine,
        )
        ratio = s.sized_gpu_count / implied
        met = 1 / 1.5 <= ratio <= 1.5
        tag = " (default)" if engine.id == DEFAULT_ENGINE else ""
        verdict = "met" if met else "NOT met"
        if not engine.expert_parallel:
            verdict = "no expert parallelism in this engine: shown for comparison"
        print(
            f"  {engine.id + tag:<20} {s.sized_gpu_count:>4} x H100 in {s.replicas} replica(s) of "
            f"{s.placement.layout.describe():<28} {ratio:5.2f}x implied: {verdict}"
        )
        if engine.id == DEFAULT_ENGINE:
            default_met = met
    print(
        f"  the target, on the default engine ({DEFAULT_ENGINE}): "
        f"{'met' if default_met else 'NOT met'}; each other engine is sized with its own "
        "fitted efficiencies"
    )


# --- the curve check ------------------------------------------------------------------------

CURVE_GPUS = ("h200", "b200", "mi300x")
CURVE_BAND = 0.25


def curve_check(cases: Sequence[Case], skipped: dict[str, str], catalog: Catalog) -> None:
    """R1 on 8 GPUs at concurrency 1-256: predicted throughput per GPU and tokens/s per user
    against each measured point (same engine, layout and lengths)."""
    print(
        f"\ncurve check: R1 on 8 x {' / '.join(g.upper() for g in CURVE_GPUS)}, concurrency "
        f"1-256, throughput per GPU vs tokens/s per user within +-{CURVE_BAND:.0%} of each "
        "measured point of measurements.toml (train and held-out cases alike)"
    )
    points: dict[tuple[Any, ...], dict[str, Case]] = {}
    for c in cases:
        m = c.m
        if not (
            m["model"].startswith("deepseek-r1")
            and "distill" not in m["model"]
            and m["gpu"] in CURVE_GPUS
            and m["gpu_count"] == 8
            and 1 <= m.get("concurrency", 0) <= 256
        ):
            continue
        key = (
            m["gpu"],
            c.engine,
            m["weights_precision"],
            m["concurrency"],
            m.get("input_tokens"),
            m.get("output_tokens"),
            m["tensor_parallel"],
            m["expert_parallel"],
            m["data_parallel_attention"],
            m["source"],
        )
        points.setdefault(key, {})[c.family] = c
    met = total = 0
    for gpu in CURVE_GPUS:
        scored = {k: v for k, v in points.items() if any(c.id not in skipped for c in v.values())}
        for key, by_family in sorted(points.items()):
            if key[0] == gpu and key not in scored:
                reasons = sorted({skipped[c.id] for c in by_family.values()})
                print(
                    f"  {gpu}: not scored ({key[1]}, {key[2]}, concurrency {key[3]}): "
                    + "; ".join(reasons)
                )
        mine = sorted((k, v) for k, v in scored.items() if k[0] == gpu)
        if not mine:
            print(
                f"  {gpu}: no scorable measurement of R1 on 8 GPUs at concurrency 1-256 in "
                "measurements.toml (published points are added only with a source and a quote)"
            )
            _model_curve(catalog, gpu)
            continue
        print(
            f"  {gpu}:{'':<2}{'engine':<8}{'precision':<10}{'in/out':>10}{'conc':>5}  "
            f"{'tok/s/user meas/pred':>22}  {'tok/s/GPU meas/pred':>22}  band"
        )
        for key, by_family in mine:
            if not {"tpot", "throughput"} & by_family.keys():
                continue  # a TTFT alone is no point of the curve
            cells, ok = [], True
            for family in ("tpot", "throughput"):
                c = by_family.get(family)
                if c is None:
                    cells.append(f"{'-':>22}")
                    continue
                if c.id in skipped:
                    cells.append(f"{'skipped':>22}")
                    ok = False
                    continue
                got, meas = predict(c, catalog), c.measured
                if family == "tpot":  # as tokens/s per user
                    got, meas = (
                        (1000.0 / got, 1000.0 / meas) if c.metric == "tpot_ms" else (got, meas)
                    )
                else:  # per GPU
                    got, meas = (
                        (got / 8, meas / 8) if c.metric == "output_tokens_per_s" else (got, meas)
                    )
                err = got / meas - 1.0
                ok = ok and abs(err) <= CURVE_BAND
                cells.append(f"{meas:>7.1f} / {got:>6.1f} {err:>+6.0%}")
            total += 1
            met += ok
            print(
                f"  {'':<6}{key[1]:<8}{key[2]:<10}{f'{key[4]}/{key[5]}':>10}{key[3]:>5}  "
                f"{cells[0]}  {cells[1]}  "
                f"{'met' if ok else 'NOT met'}"
            )
        _model_curve(catalog, gpu)
    print(f"  band met at {met} of {total} measured points")


def _model_curve(catalog: Catalog, gpu_id: str) -> None:
    """The default engine's curve for R1 FP8 on 8 GPUs at 1k prompt / 1k output tokens."""
    r1, gpu = catalog.model("deepseek-r1"), catalog.gpu(gpu_id)
    cells = []
    for users in (1, 2, 4, 8, 16, 32, 64, 128, 256):
        e = estimate_deployment(
            r1, "fp8", gpu, 8, users, 1024, 1024, engine=ENGINES[DEFAULT_ENGINE]
        )
        if not e.fits:
            cells.append(f"c{users}: does not fit")
            continue
        cells.append(f"c{users} {1000 / e.tpot_ms:.0f}/{e.throughput_tokens_per_s / 8:.0f}")
    print(f"      r1rules {DEFAULT_ENGINE}, 1k/1k (tok/s/user / tok/s/GPU): " + ", ".join(cells))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--fit", action="store_true", help="refit each constant on train")
    parser.add_argument(
        "--calibrate",
        type=int,
        metavar="ROUNDS",
        default=0,
        help="fit all constants together on train (coordinate descent) before reporting",
    )
    args = parser.parse_args(argv)
    catalog = default_catalog()
    cases = load(catalog)
    if args.calibrate:
        live = evaluated(cases, catalog)[0]
        train = [c for c in live if c.split == "train"]
        print("calibrated on the train split:")
        calibrate(train, lambda: predictions(live, catalog), args.calibrate)
    report(cases, catalog, args.fit)


if __name__ == "__main__":
    main()
