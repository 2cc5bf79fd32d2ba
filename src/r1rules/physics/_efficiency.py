"""How close serving kernels come to a GPU's datasheet: the roofline's efficiencies.

Pure data and one lookup. Each field of :class:`Efficiency` is a fraction of a datasheet rate
(memory bandwidth, dense tensor TFLOPS) or a time the datasheet has no rate for (a kernel's
launch-and-drain; :data:`STEP_MS`, the host's work per forward pass). One row per vendor and
segment: kernels, clocks and power limits differ between a GeForce card and an HBM part.

A value is either *sourced* (a published microbenchmark, named beside it) or *fitted* on the
training split of ``benchmarks/measurements.toml`` by ``python benchmarks/accuracy.py
--calibrate N`` (listed in :data:`CALIBRATED`, with the training cases that inform it named
beside it); ``benchmarks/accuracy.py`` prints each fitted value's error on the held-out split.
The measurements mix engines (vLLM, SGLang, TensorRT-LLM, llama.cpp); until engines are a
catalog entry (``rules/catalog/engines.toml``) one row serves every engine.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import attrs

from r1rules.catalog import Gpu

__all__ = ["CALIBRATED", "EFFICIENCY", "STEP_MS", "Efficiency", "efficiency", "step_ms"]


@attrs.frozen
class Efficiency:
    """One kind of GPU's kernel efficiencies: fractions of its datasheet, a kernel's latency."""

    bandwidth: float  # of memory_bandwidth_gbps, streaming weights and KV cache
    dense_gemm: float  # of the dense tensor rate: attention projections, dense FFN, shared experts
    expert_gemm: float  # ... routed experts: grouped GEMMs on 1/tp of every expert
    attention: float  # of the BF16 rate: attention scores and values (any weight precision)
    kernel_us: float  # launch-and-drain of each kernel of each layer, once per forward pass
    # ... routed experts under expert parallelism: whole experts per rank, grouped GEMMs
    # (DeepGEMM / CUTLASS grouped MoE), far denser than 1/tp slices of every expert
    expert_gemm_ep: float = 0.25


# Host work per forward pass (scheduling, sampling, launching the graph), in ms: CPU-side, so
# the same on every GPU. Fitted on the single-stream decode of small dense models, where it is
# a fifth to a half of a step: qwen-vllm-qwen25-{1.5b-bf16,7b-bf16,7b-awq,32b-awq}-1xa100-bs1-
# decode, vllm-llama31-8b-bf16-1xa100-40gb-c1-1024-128-decode, llamacpp-llama3-8b-q4km-1x{3090,
# 4090}-tg512, nim-llama33-70b-fp8-2xh100-c1-5000-500-itl, trtllm-llama31-8b-fp8-1xh100-128-
# 2048-maxtput.
STEP_MS = 2.1

# Sourced values. Bandwidth: STREAM on an Azure ND H100 v5 copies at 2.90 and triads at 2.97
# TB/s of 3.35 (87-89 %; Azure AI-benchmarking-guide ND_H100_v5_results.md); the MI300X
# reaches ~81 % of its 5.3 TB/s (aiweekly.co/alerts/amd-mi300x-hits-only-45-of-peak-flops-in-
# practice, summarising peer-reviewed measurements), which also finds ~45 % of peak FLOPs on
# real workloads: AMD's dense GEMMs and attention. NVIDIA attention: FlashAttention-2 reaches
# 73 % of an A100's BF16 peak forward, FlashAttention-3 ~75 % of an H100's (their papers).
EFFICIENCY: Mapping[str, Efficiency] = MappingProxyType(
    {
        "NVIDIA datacenter": Efficiency(
            bandwidth=0.87,
            # fitted on prefill of dense models: nim-llama33-70b-fp8-2xh100-c1-5000-500-ttft,
            # dbmart-vllm-r1-distill-llama-8b-fp16-1xa40-c50-ttft, and the prefill share of
            # trtllm-llama31-8b-fp8-1xh100-1000-1000-maxtput, trtllm-llama33-70b-fp8-1x{h200,
            # 2xh100}-1000-1000-maxtput, nim-llama33-70b-fp8-2xh100-c{50,250}-5000-500-output-tput
            dense_gemm=0.50,
            # fitted on R1 FP8 at TP8/TP16, each rank holding 256-wide slices of all 256 experts
            # (vLLM, early 2025): dstack-vllm-r1-8xh200-c32-3200-800-{tpot,output-tput},
            # dstack-vllm-r1-8xh200-c128-3200-800-tpot, tt-r10528-fp8-16xh100-c1-1024-128-ttft.
            # Expert-parallel engines (DeepGEMM, EP32: ~25 % of FP8 peak,
            # lmsys.org/blog/2025-05-05-large-scale-ep) are not modelled.
            expert_gemm=0.010,
            attention=0.70,
            # fitted on decode: the STEP_MS cases, trtllm-llama33-70b-fp8-1xh200-1000-1000-
            # maxtput, trtllm-llama33-70b-fp8-2xh100-1000-1000-maxtput and
            # dstack-vllm-r1-8xh200-c32-3200-800-{tpot,output-tput} (R1: 1,952 kernels a pass)
            kernel_us=4.7,
        ),
        "NVIDIA consumer": Efficiency(
            bandwidth=0.87,
            # fitted, of the FP16-accumulate rate, on one training case:
            # llamacpp-llama3-8b-q4km-1x4090-pp512 (GeForce boards are power-limited). The
            # 70B pp512 runs on 2 x 24 GiB join it once estimates count memory in GiB (a refit
            # with them gives 0.35).
            dense_gemm=0.32,
            expert_gemm=0.010,  # no MoE model fits a GeForce card: the datacenter value
            attention=0.70,
            kernel_us=4.7,  # too small to fit here (STEP_MS dominates): the datacenter value
        ),
        "AMD datacenter": Efficiency(
            bandwidth=0.81,
            dense_gemm=0.45,
            # fitted on R1 FP8 TP8 on 8 x MI300X (ROCm vLLM and SGLang, early 2025):
            # dstack-vllm-r1-8xmi300x-c128-3200-800-{ttft,tpot,output-tput},
            # dstack-vllm-r1-8xmi300x-c32-3200-800-tpot, dstack-vllm-r1-8xmi300x-c4-3200-800-
            # ttft, dstack-sglang-r1-8xmi300x-c128-3200-800-{tpot,output-tput},
            # vultr-vllm-dsv32-fp8-8xmi325x-2048-512-peak-tput
            expert_gemm=0.014,
            attention=0.45,
            # fitted on decode on 8 x MI300X: dstack-vllm-r1-8xmi300x-c{4,32,128}-3200-800-tpot,
            # dstack-vllm-r1-8xmi300x-c128-3200-800-output-tput,
            # dstack-sglang-r1-8xmi300x-c128-3200-800-{tpot,output-tput}
            kernel_us=20.0,
        ),
    }
)

# Every fitted value, as (row, field) of EFFICIENCY or (None, name) of a module constant, for
# benchmarks/accuracy.py to perturb and refit. The other values above are sourced.
CALIBRATED: tuple[tuple[str | None, str], ...] = (
    (None, "STEP_MS"),
    ("NVIDIA datacenter", "dense_gemm"),
    ("NVIDIA datacenter", "expert_gemm"),
    ("NVIDIA datacenter", "kernel_us"),
    ("NVIDIA consumer", "dense_gemm"),
    ("AMD datacenter", "expert_gemm"),
    ("AMD datacenter", "kernel_us"),
)


def efficiency(gpu: Gpu) -> Efficiency:
    """The row of ``gpu``'s vendor and segment; another vendor gets NVIDIA's row of its
    segment (the best-measured)."""
    table = EFFICIENCY
    row = table.get(f"{gpu.vendor} {gpu.segment}") or table.get(f"NVIDIA {gpu.segment}")
    return row or table["NVIDIA datacenter"]


def step_ms() -> float:
    """Host work per forward pass, in ms (:data:`STEP_MS`)."""
    return STEP_MS
