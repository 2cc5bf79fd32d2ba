"""One placement search behind sizing and estimates (issue 10): invariants and the EP target.

DeepSeek open-infra-index day 6: ~14.8k output tokens/s per 8 x H800 node in decode and
~73.7k input tokens/s per node in prefill; 20 QPS of 2k prompt / 4k output is therefore
80,000 / 14,800 x 8 + 40,000 / 73,700 x 8 = 47.6 GPUs.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import Reach

import r1rules
from r1rules import WorkloadError
from r1rules.catalog import default_catalog
from r1rules.physics import (
    _roofline,
    estimate_deployment,
    estimate_in,
    kv_cache_bytes_per_token,
    size,
)
from r1rules.physics._efficiency import efficiency
from r1rules.physics._memory import kv_cache_bytes_per_token_per_gpu, weights_gb_per_gpu
from r1rules.physics._roofline import consts
from r1rules.physics._stages import stage_balance, stage_share

CATALOG = default_catalog()
R1 = CATALOG.model("deepseek-r1")
R1_KV_BF16 = kv_cache_bytes_per_token(R1, "bf16")


def _budget(e: object) -> float:
    return float(e.usable_memory_per_gpu_gb + e.runtime_overhead_gb)  # type: ignore[attr-defined]


def test_mi300x_at_200_users_never_fits_above_its_memory() -> None:
    e = estimate_in(model="deepseek-r1", gpu="mi300x", gpu_count=8, concurrency=200)
    assert e.fits and e.memory_per_gpu_gb <= _budget(e) + 1e-9
    assert e.memory_per_gpu_gb < 192 * 2**30 / 1e9
    forced = estimate_in(
        model="deepseek-r1",
        gpu="mi300x",
        gpu_count=8,
        concurrency=200,
        tensor_parallel=4,
        pipeline_parallel=1,
    )
    assert forced.memory_per_gpu_gb <= _budget(forced) + 1e-9
    assert forced.kv_limited and forced.batch_per_replica * forced.replicas < 200


def test_24_h100_use_every_gpu_or_say_which_sit_idle() -> None:
    e16 = estimate_in(model="deepseek-r1", gpu="h100-sxm", gpu_count=16, concurrency=200)
    e24 = estimate_in(model="deepseek-r1", gpu="h100-sxm", gpu_count=24, concurrency=200)
    assert e24.replicas * (e24.gpu_count - e24.idle_gpus) // e24.replicas == 24 - e24.idle_gpus
    assert e24.idle_gpus == 0
    assert e24.throughput_tokens_per_s > e16.throughput_tokens_per_s
    plain = estimate_in(
        model="deepseek-r1", gpu="h100-sxm", gpu_count=24, concurrency=200, tensor_parallel=8
    )
    assert plain.idle_gpus == 24 - plain.replicas * 8 * plain.pipeline_parallel


def test_the_largest_pipeline_stage_holds_its_whole_layers() -> None:
    """61 layers over 3 stages are 21, 20 and 20 (vLLM's and SGLang's get_pp_indices): the
    most loaded stage's GPUs hold 21/61 of the weights and of each token's cache."""
    assert stage_share(R1, 1) == 1.0
    assert stage_share(R1, 3) == pytest.approx(21 / 61)
    assert stage_share(R1, 61) == pytest.approx(1 / 61)
    assert weights_gb_per_gpu(R1, "fp8", 2, 3) == pytest.approx(
        weights_gb_per_gpu(R1, "fp8", 2) * 21 / 61
    )
    assert kv_cache_bytes_per_token_per_gpu(R1, "bf16", 2, 3) == pytest.approx(
        kv_cache_bytes_per_token_per_gpu(R1, "bf16", 2) * 21 / 61
    )


def test_a_decode_round_is_paced_by_the_most_loaded_stage(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With 3 micro-batches in flight on 3 stages of 21, 20 and 20 layers each stage steps
    3 times a round, so the round is 3 x 21 layers' steps, 63/61 of a pass; one micro-batch
    in flight passes every stage once (61 layers' steps); an even split changes nothing."""
    assert stage_balance(61, 3, 3) == pytest.approx(63 / 61)
    assert stage_balance(61, 3, 1) == 1.0
    assert stage_balance(61, 3, 2) == 1.0  # 42 layers' steps < 61
    assert stage_balance(80, 4, 4) == 1.0
    assert stage_balance(61, 1, 1) == 1.0

    gpu = CATALOG.gpu("h100-sxm")
    c, eff = consts(R1, "fp8", "bf16", 4), efficiency(gpu, None)
    hops = _roofline.pp_hops_ms(gpu, 4, 3, 1, c.hidden)
    paced = _roofline.decode_core_ms(c, gpu, eff, "fp8", 3, 3, 2048.0)
    monkeypatch.setattr(_roofline, "stage_balance", lambda *_: 1.0)
    even = _roofline.decode_core_ms(c, gpu, eff, "fp8", 3, 3, 2048.0)
    assert paced - hops == pytest.approx((even - hops) * 63 / 61)


@pytest.mark.parametrize(
    ("gpu", "count", "stages"),
    [("h200", 6, 3), ("b300", 3, 3), ("h100-sxm", 12, 3), ("h100-sxm", 10, 5)],
)
def test_a_fleet_no_usual_layout_holds_runs_uneven_pipeline_stages(
    gpu: str, count: int, stages: int
) -> None:
    """R1 in FP8 on 6 x H200 (846 GB), 3 x B300 or 12 x H100: no power-of-two tensor
    parallelism within a node holds it and a pipeline of whole nodes needs 16 GPUs, but
    stages of whole layers over the GPUs given do, as vLLM's guide says for GPU counts
    that do not divide the model evenly; the stated layouts' memory still holds."""
    e = estimate_in(
        model="deepseek-r1", gpu=gpu, gpu_count=count, concurrency=32, output_tokens=1024
    )
    assert e.fits and e.pipeline_parallel == stages and e.idle_gpus == 0
    assert e.tensor_parallel * e.pipeline_parallel * e.replicas == count
    assert e.memory_per_gpu_gb <= _budget(e) + 1e-9
    # every layer's cache counted once, however many stages split them
    one_copy = R1_KV_BF16 * (1024 + 1024) * 32 / 1e9
    assert e.kv_cache_gb == pytest.approx(one_copy * e.tensor_parallel)  # MLA: every TP rank
    widest = 1 << (count.bit_length() - 1)  # the widest tensor parallelism on the GPUs
    stated = estimate_in(
        model="deepseek-r1",
        gpu=gpu,
        gpu_count=count,
        concurrency=32,
        tensor_parallel=widest,
        pipeline_parallel=1,
    )
    assert not stated.fits  # stated degrees are searched as stated: no fallback


def test_a_usual_layout_that_holds_the_model_keeps_the_fleet_off_uneven_stages() -> None:
    """8 x H200 hold R1 at TP 8, so the fleet keeps it (uneven stages are the edge case)."""
    e = estimate_in(model="deepseek-r1", gpu="h200", gpu_count=8, concurrency=32)
    assert e.fits and e.pipeline_parallel == 1


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"expert_parallel": 0}, "expert_parallel"),
        ({"expert_parallel": 512}, "expert_parallel"),
        ({"pipeline_parallel": 0}, "pipeline_parallel"),
        ({"data_parallel_attention": "yes"}, "data_parallel_attention"),
        ({"mtp_acceptance": 1.5}, "mtp_acceptance"),
        ({"tensor_parallel": 8, "expert_parallel": 16}, "expert_parallel"),
    ],
)
def test_bad_degrees_name_the_argument(kwargs: dict[str, object], name: str) -> None:
    with pytest.raises(WorkloadError, match=name):
        estimate_in(model="deepseek-r1", gpu="h200", gpu_count=16, concurrency=8, **kwargs)  # type: ignore[arg-type]


def test_too_many_stated_gpus_name_their_product() -> None:
    with pytest.raises(WorkloadError, match=r"pipeline_parallel \(16\) must be <= gpu_count \(8\)"):
        estimate_in(
            model="deepseek-r1",
            gpu="h200",
            gpu_count=8,
            concurrency=8,
            tensor_parallel=4,
            pipeline_parallel=4,
        )


@pytest.mark.parametrize(
    ("model", "gpu", "count", "stages"),
    [
        ("deepseek-r1", "h200", 8, 3),
        ("deepseek-r1-distill-qwen-32b", "rtx-3090", 3, 3),
        ("deepseek-r1-distill-qwen-32b", "rtx-3090", 4, 3),
    ],
)
def test_stated_stages_alone_take_a_layout_within_the_gpus(
    model: str, gpu: str, count: int, stages: int
) -> None:
    e = estimate_in(model=model, gpu=gpu, gpu_count=count, concurrency=4, pipeline_parallel=stages)
    assert e.pipeline_parallel == stages
    assert e.tensor_parallel * stages <= count


def test_dense_models_refuse_expert_parallelism() -> None:
    with pytest.raises(WorkloadError, match="expert_parallel"):
        estimate_in(
            model="deepseek-r1-distill-llama-8b",
            gpu="h100-sxm",
            gpu_count=8,
            concurrency=1,
            expert_parallel=8,
        )


@pytest.mark.parametrize("mtp", [0.0, 0.7])
def test_sizing_and_estimate_of_the_same_layout_agree(mtp: float) -> None:
    """With MTP too: a first token waits for one whole decode step, which emits 1 + the
    acceptance tokens (sizing had taken one token's time)."""
    h200 = CATALOG.gpu("h200")
    for qps, latency in ((0.05, 60_000.0), (5.0, 60_000.0), (20.0, 60_000.0)):
        s = size(
            R1,
            "fp8",
            "bf16",
            h200,
            peak_qps=qps,
            latency_ms=latency,
            prompt_tokens=2000,
            output_tokens=1000,
            headroom_fraction=0.2,
            max_nodes=4,
            mtp_acceptance=mtp,
        )
        p = s.placement
        e = estimate_deployment(
            R1,
            "fp8",
            h200,
            s.sized_gpu_count,
            s.replicas * s.batch_per_replica,
            2000,
            1000,
            "bf16",
            p.tensor_parallel,
            p.pipeline_parallel,
            expert_parallel=p.expert_parallel,
            data_parallel_attention=p.data_parallel_attention,
            mtp_acceptance=mtp,
        )
        assert (e.tensor_parallel, e.expert_parallel) == (p.tensor_parallel, p.expert_parallel)
        assert e.batch_per_replica == s.batch_per_replica
        assert e.tpot_ms == pytest.approx(s.tpot_ms, rel=1e-9)
        assert e.ttft_ms == pytest.approx(s.ttft_ms, rel=1e-9)
        assert e.throughput_tokens_per_s == pytest.approx(s.output_tokens_per_s, rel=1e-9)
        assert e.weights_per_gpu_gb == pytest.approx(p.weights_gb_per_gpu)


def test_expert_parallel_memory_per_gpu_is_below_tensor_parallel_at_large_batch() -> None:
    h200 = CATALOG.gpu("h200")
    common = (R1, "fp8", h200, 8, 256, 2000, 2000, "bf16")
    tp = estimate_deployment(*common, 8, 1)
    ep = estimate_deployment(*common, 1, 1, expert_parallel=8, data_parallel_attention=True)
    assert tp.fits and ep.fits
    assert ep.memory_per_gpu_gb < tp.memory_per_gpu_gb or tp.kv_limited
    assert ep.max_concurrency > tp.max_concurrency


def test_mtp_speeds_decoding_by_its_acceptance() -> None:
    h200 = CATALOG.gpu("h200")
    common = (R1, "fp8", h200, 8, 32, 2000, 2000, "bf16", 8, 1)
    off = estimate_deployment(*common)
    on = estimate_deployment(*common, mtp_acceptance=0.85)
    assert on.tpot_ms < off.tpot_ms
    assert on.throughput_tokens_per_s > off.throughput_tokens_per_s


def test_ep_sizing_is_within_1_5x_of_deepseeks_per_node_throughput() -> None:
    implied = 20 * 4000 / 14_800 * 8 + 20 * 2000 / 73_700 * 8
    s = size(
        R1,
        "fp8",
        "bf16",
        CATALOG.gpu("h100-sxm"),
        peak_qps=20.0,
        latency_ms=60_000.0,
        prompt_tokens=2000,
        output_tokens=4000,
        headroom_fraction=0.2,
        max_nodes=8,
    )
    assert s.placement.expert_parallel > 1 and s.placement.data_parallel_attention
    assert implied / 1.5 <= s.sized_gpu_count <= implied * 1.5


MODELS = ["deepseek-r1", "deepseek-r1-distill-llama-8b", "deepseek-r1-distill-qwen-32b"]
FITS = Reach("nothing reported fitting exceeds usable memory")
MORE = Reach("adding GPUs never lowers throughput")


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
    database=None,
)
@given(
    model=st.sampled_from(MODELS),
    gpu=st.sampled_from(["h100-sxm", "h200", "mi300x", "a100-80gb", "l40s", "b200"]),
    count=st.integers(1, 32),
    users=st.integers(1, 2000),
    degrees=st.sampled_from([{}, {"tensor_parallel": 8}, {"tensor_parallel": 4}, {"ep": 8}]),
)
def test_nothing_reported_fitting_exceeds_usable_memory(
    model: str, gpu: str, count: int, users: int, degrees: dict[str, int]
) -> None:
    FITS.run()
    kwargs: dict[str, object] = {}
    if "tensor_parallel" in degrees:
        kwargs["tensor_parallel"] = 1 << (min(degrees["tensor_parallel"], count).bit_length() - 1)
    if "ep" in degrees and model == "deepseek-r1" and count >= 8:
        kwargs["expert_parallel"] = 8
    e = estimate_in(model=model, gpu=gpu, gpu_count=count, concurrency=users, **kwargs)  # type: ignore[arg-type]
    assert e.idle_gpus == count - e.replicas * (count - e.idle_gpus) // max(1, e.replicas)
    if not e.fits:
        FITS.note("does not fit")
        return
    FITS.hit()
    assert e.memory_per_gpu_gb <= _budget(e) + 1e-6
    assert e.batch_per_replica * e.replicas <= e.max_concurrency
    assert math.isfinite(e.ttft_ms) and math.isfinite(e.tpot_ms)


def test_nothing_reported_fitting_exceeds_usable_memory_reach() -> None:
    FITS.check(0.5)


@settings(max_examples=40, deadline=None, derandomize=True, database=None)
@given(
    model=st.sampled_from(MODELS),
    gpu=st.sampled_from(["h100-sxm", "h200", "mi300x", "a100-80gb"]),
    count=st.integers(8, 40),  # R1 needs at least 8 of these: most examples must fit
    extra=st.integers(1, 16),
    users=st.integers(1, 1000),
)
def test_adding_gpus_never_lowers_throughput(
    model: str, gpu: str, count: int, extra: int, users: int
) -> None:
    MORE.run()
    few = estimate_in(model=model, gpu=gpu, gpu_count=count, concurrency=users)
    more = estimate_in(model=model, gpu=gpu, gpu_count=count + extra, concurrency=users)
    if not few.fits:
        MORE.note("the smaller deployment does not fit")
        return
    MORE.hit()
    assert more.fits
    assert more.throughput_tokens_per_s >= few.throughput_tokens_per_s * (1 - 1e-9)


def test_adding_gpus_never_lowers_throughput_reach() -> None:
    MORE.check(0.5)


def test_sizing_searches_as_many_stages_as_whole_layers_need() -> None:
    """R1 in FP32 (2.7 TB) on 24 GB A10s: a node of 8 holds 3 of its 61 layers at TP 8, so
    a replica needs 21 stages. The search reach counted bytes, not whole layers (18
    nodes), and found no layout: a valid workload was refused."""
    w = r1rules.Workload(
        peak_qps=1.0, latency_ms=1.0, model="deepseek-r1", precision="fp32", gpu="a10"
    )
    e = r1rules.evaluate(w).estimates
    assert e.fits and e.pipeline_parallel >= 21
    assert e.memory_per_gpu_gb <= _budget(e) + 1e-9
