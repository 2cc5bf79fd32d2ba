"""How close are r1rules' latency and throughput estimates to published measurements? (prints)

    python benchmarks/accuracy.py                # cases, summaries, the calibrated constants
    python benchmarks/accuracy.py --fit          # ... and a 1-D refit of each on train alone
    python benchmarks/accuracy.py --calibrate 6  # fit them all on train first (does not save)

Cases are the [[measurement]] tables of ``benchmarks/measurements.toml``. Each is predicted
with ``r1rules.physics.estimate_deployment`` (the function behind ``r1rules.estimate``) at the
case's model, precision, GPU, GPU count, tensor/pipeline degrees, concurrency and token
lengths, and compared with the published value: signed error = predicted / measured - 1.

How a metric is predicted (one rule per metric, no per-case tuning):

- ``tpot_ms``: ``Estimates.tpot_ms`` (a decode step at the running batch and mean context),
  plus, with more than one request in flight, the wait of a closed-loop wave (below).
- ``ttft_ms``: one request: ``Estimates.ttft_ms`` (an idle replica's prefill). With C > 1
  requests in flight the benchmark client starts C requests together and, lengths being
  fixed, they finish together, so each wave of b = ``batch_per_replica`` prompts is
  prefilled first-come first-served: mean TTFT = mean over k = 1..b of ``prefill_ms`` of k
  prompts, and each request's decode waits for the rest of its wave (added to TPOT). This
  queueing is the benchmark's; r1rules' own ``ttft_ms`` has none.
- ``output_tokens_per_s``: ``Estimates.throughput_tokens_per_s`` (prefill included); with no
  concurrency stated (max-throughput runs at an infinite request rate) at the largest batch
  the KV cache holds. ``output_tokens_per_s_per_gpu``: the same over ``gpu_count``.
- ``tokens_per_s_per_user``: 1000 / predicted TPOT; no input length stated: a 1-token prompt.
- ``prefill_tokens_per_s``: prompt tokens x 1000 / predicted TTFT.

Unknown KV precision is the engines' default, BF16. Cases r1rules cannot express (a GPU or
precision outside the catalog, expert parallelism, data-parallel attention, speculative
decoding, lengths or concurrency not stated, more requests in flight than the KV cache holds
for a TTFT or TPOT) are listed as skipped with the reason. A deployment r1rules says does
not fit is scored as a -100 % (rates) or infinite (times) error, not skipped.

Split: within each (metric family, vendor) stratum, cases sorted by SHA-256 of their id;
the first 60 % (at least one, and at least one left when there are two) train, the rest
are held out. Constants (``_efficiency.CALIBRATED``) are fitted on train only, by
coordinate descent of the mean |ln(predicted / measured)| (each case capped at ln 4) within
BOUNDS; held-out numbers are the honest ones. A constant *informs* a case when a 10 % change
of it moves the prediction by more than 1 %.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import statistics
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any

import attrs
import tomli

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

from r1rules import CatalogError, default_catalog  # noqa: E402
from r1rules._vocabulary import PRECISIONS  # noqa: E402
from r1rules.catalog import Catalog  # noqa: E402
from r1rules.physics import (  # noqa: E402
    _efficiency,
    _ep,
    _placement,
    _roofline,
    _sizing,
    estimate_deployment,
)
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
        return str(self.m["engine"])

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
    needs_output = case.metric not in ("prefill_tokens_per_s", "tokens_per_s_per_user")
    needs_input = case.metric != "tokens_per_s_per_user"
    if (needs_input and "input_tokens" not in m) or (needs_output and "output_tokens" not in m):
        return "input/output lengths are not stated"
    if "concurrency" not in m and case.family != "throughput":
        return "concurrency is not stated"
    return None


class Skip(Exception):
    """The case is outside what r1rules models; the message says why."""


def predict(case: Case, catalog: Catalog) -> float:
    """The predicted value of the case's metric (inf/0 when r1rules says it does not fit)."""
    m = case.m
    model, gpu = catalog.model(m["model"]), catalog.gpu(m["gpu"])
    precision = m["weights_precision"]
    kv = m["kv_precision"] if m["kv_precision"] in PRECISIONS else "bf16"
    prompt = int(m.get("input_tokens", 1))
    output = int(m.get("output_tokens", 1))
    tp, pp, count = m["tensor_parallel"], m["pipeline_parallel"], m["gpu_count"]
    users = int(m.get("concurrency", SATURATED))
    ep, dpa = int(m["expert_parallel"]), bool(m["data_parallel_attention"])
    layout = Layout(tp, pp, ep, dpa)
    e = estimate_deployment(
        model,
        precision,
        gpu,
        count,
        users,
        prompt,
        output,
        kv,
        tp,
        pp,
        expert_parallel=ep,
        data_parallel_attention=dpa,
    )
    if not e.fits:
        return 0.0 if case.metric.endswith(("_per_s", "_per_gpu", "_per_user")) else math.inf
    if e.kv_limited and users != SATURATED and case.family != "throughput":
        raise Skip(
            f"{users} requests exceed the {e.max_concurrency} the KV cache holds: the rest "
            "queue for whole request cycles (not modelled)"
        )
    b = e.batch_per_replica
    waves = [
        _ep.layout_prefill_ms(model, precision, gpu, layout, prompt, k) for k in range(1, b + 1)
    ]
    ttft = statistics.fmean(waves)
    tpot = e.tpot_ms + (waves[-1] - ttft) / output
    return {
        "ttft_ms": ttft,
        "tpot_ms": tpot,
        "tokens_per_s_per_user": 1000.0 / tpot,
        "prefill_tokens_per_s": prompt * 1000.0 / ttft,
        "output_tokens_per_s": e.throughput_tokens_per_s,
        "output_tokens_per_s_per_gpu": e.throughput_tokens_per_s / count,
    }[case.metric]


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
    """One fitted value: (row, field) of ``_efficiency.EFFICIENCY`` (a row is a vendor and
    segment, e.g. "AMD datacenter") or (None, name) of a module constant of ``_efficiency``."""

    vendor: str | None
    field: str

    @property
    def label(self) -> str:
        return self.field if self.vendor is None else f"{self.vendor}.{self.field}"

    def get(self) -> float:
        if self.vendor is None:
            return float(getattr(_efficiency, self.field))
        return float(getattr(_efficiency.EFFICIENCY[self.vendor], self.field))

    def set(self, value: float) -> None:
        if self.vendor is None:
            setattr(_efficiency, self.field, value)
        else:
            table = dict(_efficiency.EFFICIENCY)
            table[self.vendor] = attrs.evolve(table[self.vendor], **{self.field: value})
            _efficiency.EFFICIENCY = MappingProxyType(table)
        _roofline.consts.cache_clear()
        _placement.place.cache_clear()
        _placement.placements.cache_clear()
        _sizing.size.cache_clear()


def calibrated() -> list[Constant]:
    """The constants fitted to measurements (not datasheet or protocol figures)."""
    return [Constant(vendor, field) for vendor, field in _efficiency.CALIBRATED]


Predictor = Callable[[], dict[str, float]]


def predictions(cases: Sequence[Case], catalog: Catalog) -> dict[str, float]:
    return {c.id: predict(c, catalog) for c in cases}


def informs(
    const: Constant, cases: Sequence[Case], base: dict[str, float], run: Predictor
) -> set[str]:
    old = const.get()
    const.set(old * 1.1)
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
    "STEP_MS": (0.0, 10.0),
    "kernel_us": (0.5, 40.0),
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
    for title, key in (
        ("by metric family", lambda c: c.family),
        ("by metric", lambda c: c.metric),
        ("by vendor", lambda c: c.vendor),
        ("by engine", lambda c: c.engine),
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
    constants(live, catalog, base, refit)


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
        print(f"  {const.label} = {const.get():.4g}")
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
