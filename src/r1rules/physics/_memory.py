"""Memory physics: weight bytes, KV-cache bytes and usable memory per GPU (pure, no I/O).

Units: GB = 10^9 bytes (a GPU's own "GB" is GiB: :func:`device_memory_gb`). Parameter counts
come from the architecture fields of a :class:`~r1rules.catalog._catalog.Model`
(``param_count_derivation`` in the reference models.toml):
attention ``h*H*d + 2*h*KV*d + H*d*h``, gated MLP ``3*h*inter``, two RMSNorms per layer,
embedding and lm_head (untied unless ``tie_word_embeddings``), final norm. Qwen2's q/k/v
biases are left out (the record has no field for them; they are < 0.01 % of any distill).

Mixture-of-experts models (DeepSeek-V3 architecture) take routed experts, shared experts,
the dense FFN of the first layers, router gates, norms and embeddings from the record; the
MLA attention projections need fields the record lacks (``q_lora_rank``, ``v_head_dim``), so
attention is the remainder ``total_params_b`` minus everything else. For DeepSeek-R1 this
gives 187 M params per layer, as the V3 config gives (q_lora 1536, v_head_dim 128).

``total_params_b`` of DeepSeek-R1 is the 671B main model: the 14B multi-token-prediction
(MTP) module shipped in the checkpoint is excluded, as serving without speculative MTP does.

Everything here is cached per (model, precision): the records are frozen and hashable.
"""

from __future__ import annotations

import functools
import math

import attrs

from r1rules._errors import WorkloadError, suggest
from r1rules._vocabulary import PRECISIONS
from r1rules.catalog import Gpu, Model
from r1rules.physics._stages import stage_share

__all__ = [
    "ACTIVATION_SAMPLED_SEQS",
    "ACTIVATION_TOKENS",
    "CUDA_CONTEXT_GB",
    "CUDA_GRAPH_GB",
    "ECC_GDDR_FRACTION",
    "GB",
    "GIB",
    "USABLE_MEMORY_FRACTION",
    "WeightProfile",
    "active_weights_gb",
    "bytes_per_param",
    "check_precision",
    "device_memory_gb",
    "kv_cache_bytes_per_token",
    "kv_cache_bytes_per_token_per_gpu",
    "kv_head_fraction",
    "runtime_overhead_gb",
    "usable_gb_per_gpu",
    "weight_profile",
    "weights_gb",
    "weights_gb_per_gpu",
]

GB = 1e9
GIB = float(2**30)

# --- quantisation formats (bytes of one quantised linear-layer weight, scales included) ---
# FP8: e4m3 weights with one F32 scale per 128x128 block, as DeepSeek ships R1
# (README_WEIGHTS.md, quantization_config weight_block_size=[128, 128]).
FP8_BLOCK = 128 * 128
FP8_SCALE_BYTES = 4.0
# INT8: one scale per output channel (W8A8 / W8A16 as llm-compressor and vLLM store it), in
# BF16, i.e. 2 bytes per row of `in_features` weights.
INT8_SCALE_BYTES = 2.0
# INT4: GPTQ/AWQ group size 128, one FP16 scale plus one 4-bit zero point (packed `qzeros`)
# per group per output column: (2 + 0.5) bytes per 128 weights.
INT4_GROUP = 128
INT4_GROUP_OVERHEAD_BYTES = 2.5
# Bytes of everything that is not a quantised linear weight (embeddings, lm_head, norms,
# router gates) when the linear layers are quantised: they stay BF16. DeepSeek's FP8
# checkpoint keeps embed_tokens, lm_head, norms and mlp.gate in BF16; GPTQ/AWQ and
# llm-compressor quantise only Linear layers inside the blocks (lm_head is ignored by default).
UNQUANTISED_BYTES = 2.0
_PLAIN_BYTES = {"fp32": 4.0, "bf16": 2.0, "fp16": 2.0}
_KV_BITS = {"fp32": 32, "bf16": 16, "fp16": 16, "fp8": 8, "int8": 8, "int4": 4}

# --- runtime memory per GPU ---
# A card's memory is made of DRAM dies of power-of-two density, so the vendor's "GB" is GiB:
# nvidia-smi reports 24,564 MiB on an RTX 4090 ("24 GB"), 81,559 MiB on an H100 ("80 GB"),
# 143,771 MiB on an H200 ("141 GB"). Datacenter GDDR cards run ECC by default, which keeps 1/16
# of GDDR for check bits: 46,068 MiB = 45 GiB on an A40 or L40S ("48 GB"); HBM's ECC is extra.
ECC_GDDR_FRACTION = 15 / 16
# vLLM's default --gpu-memory-utilization: the engine budgets 90 % of device memory for
# weights + activations + KV cache; the rest is left to the driver and other processes.
USABLE_MEMORY_FRACTION = 0.90
# CUDA context with cuBLAS / NCCL workspaces: ~0.5 GB per process on Ampere/Hopper.
CUDA_CONTEXT_GB = 0.5
# CUDA-graph pools: vLLM logs "Graph capturing finished in N secs, took 0.31-0.96 GiB" for
# 8B-30B models in public logs; 1 GB covers that range.
CUDA_GRAPH_GB = 1.0
# Activation peak of vLLM's profiling run: max_num_batched_tokens is 8192 for the API server on
# >= 70 GiB GPUs and 2048 below (vllm/engine/arg_utils.py get_batch_defaults); we take 8192.
ACTIVATION_TOKENS = 8192
# Logits of one sampling step, FP32, for vLLM's default max_num_seqs of 256.
ACTIVATION_SAMPLED_SEQS = 256


def check_precision(precision: str, field: str = "precision") -> str:
    """Return ``precision`` if it is one of PRECISIONS; else WorkloadError naming ``field``."""
    if precision not in _KV_BITS:
        raise WorkloadError(
            f"{field}: unknown precision {precision!r} (expected one of "
            f"{', '.join(PRECISIONS)}){suggest(str(precision), PRECISIONS)}"
        )
    return precision


def bytes_per_param(precision: str, in_features: int = 4096) -> float:
    """Bytes one linear-layer weight takes in ``precision``, quantisation scales included.

    fp32 4, bf16/fp16 2; fp8 1 + 4/16384 (F32 scale per 128x128 block); int8
    1 + 2/in_features (BF16 scale per output channel); int4 0.5 + 2.5/128 (group 128, FP16
    scale and 4-bit zero point). ``in_features`` only matters for int8.
    """
    check_precision(precision)
    if precision in _PLAIN_BYTES:
        return _PLAIN_BYTES[precision]
    if precision == "fp8":
        return 1.0 + FP8_SCALE_BYTES / FP8_BLOCK
    if precision == "int8":
        return 1.0 + INT8_SCALE_BYTES / in_features
    return 0.5 + INT4_GROUP_OVERHEAD_BYTES / INT4_GROUP


@attrs.frozen
class _Params:
    """Parameter counts of one model, split by how they are stored, sharded and read."""

    embedding: float  # input token-embedding table (0 when tied: counted as lm_head)
    lm_head: float
    sharded: float  # attention q/o (all of MLA but kv_a), dense FFN, shared experts
    kv_proj: float  # GQA k/v projections: replicated once tp exceeds the KV heads
    replicated: float  # norms, router gates, MLA kv_a projection: whole on every TP rank
    routed_expert: float  # one routed expert in one MoE layer
    routed_total: float
    moe_layers: int
    linear_unquantised: float  # of `replicated`: norms and router gates stay BF16
    active: float  # parameters one token uses (routed: experts_per_token per MoE layer)
    attention: float  # of `sharded`: the attention projections (q/o; MLA but kv_a)
    attention_all: float  # every attention projection: `attention` + kv_proj + MLA kv_a

    @property
    def total(self) -> float:
        return (
            self.embedding
            + self.lm_head
            + self.sharded
            + self.kv_proj
            + self.replicated
            + self.routed_total
        )


@functools.lru_cache(maxsize=256)
def _params(model: Model) -> _Params:
    h, layers = model.hidden_size, model.num_layers
    table = float(model.vocab_size * h)
    embedding, lm_head = (0.0, table) if model.tie_word_embeddings else (table, table)
    norms = float(2 * h * layers + h)
    moe_layers = layers - model.first_dense_layers if model.kind == "moe" else 0
    expert = float(3 * h * model.moe_intermediate_size)
    routed_total = expert * model.n_routed_experts * moe_layers
    shared = expert * model.n_shared_experts * moe_layers
    dense_ffn = float(3 * h * model.intermediate_size * (layers - moe_layers))
    router = float(model.n_routed_experts * h * moe_layers)
    if model.attention == "mla":
        kv_proj = 0.0
        kv_a = float(h * (model.kv_lora_rank + model.qk_rope_head_dim) * layers)
        # q/kv/o projections need q_lora_rank and v_head_dim, which the record lacks: take
        # attention as what the published total leaves (187 M per layer for R1, as its config).
        known = embedding + lm_head + routed_total + shared + dense_ffn + router + norms
        # a Model record always leaves room for it (catalog._schema refuses totals that don't)
        attention = model.total_params_b * 1e9 - known
        assert attention > kv_a, model.id
        attn_sharded = attention - kv_a
    else:
        kv_a = 0.0
        kv_proj = float(2 * h * model.num_kv_heads * model.head_dim * layers)
        attn_sharded = float(2 * h * model.num_attention_heads * model.head_dim * layers)
    sharded = attn_sharded + dense_ffn + shared
    replicated = norms + router + kv_a
    active = (
        embedding
        + lm_head
        + sharded
        + kv_proj
        + replicated
        + expert * model.experts_per_token * moe_layers
    )
    return _Params(
        embedding,
        lm_head,
        sharded,
        kv_proj,
        replicated,
        expert,
        routed_total,
        moe_layers,
        norms + router,
        active,
        attn_sharded,
        attn_sharded + kv_proj + kv_a,
    )


@attrs.frozen
class WeightProfile:
    """Bytes of one model's weights at one precision, split the way GPUs hold and read them.

    ``total = embedding + lm_head + sharded + kv_proj + replicated + routed_total``.
    Sharded parts divide over tensor-parallel ranks; ``kv_proj`` divides over at most the KV
    heads; ``replicated`` is whole on every rank (norms, router gates, MLA's kv_a projection).
    """

    total_bytes: float
    embedding_bytes: float  # gathered row by row, never streamed whole in decode
    lm_head_bytes: float
    sharded_bytes: float
    kv_proj_bytes: float
    replicated_bytes: float
    routed_expert_bytes: float  # one routed expert of one MoE layer
    routed_total_bytes: float
    moe_layers: int
    active_bytes: float
    matmul_params_per_token: float  # params a token multiplies through, lm_head excluded
    routed_params_per_token: float  # of those, in routed experts (experts_per_token of them)
    lm_head_params: float
    attention_sharded_bytes: float = 0.0  # of sharded_bytes: attention q/o projections
    attention_params: float = 0.0  # every attention projection (kv_a, GQA k/v included)


@functools.lru_cache(maxsize=512)
def weight_profile(model: Model, precision: str) -> WeightProfile:
    """The :class:`WeightProfile` of ``model`` stored in ``precision`` (cached)."""
    check_precision(precision)
    p = _params(model)
    if precision in _PLAIN_BYTES:
        lin = other = _PLAIN_BYTES[precision]
    else:
        lin, other = bytes_per_param(precision, model.hidden_size), UNQUANTISED_BYTES
    replicated = (p.replicated - p.linear_unquantised) * lin + p.linear_unquantised * other
    routed_expert = p.routed_expert * lin
    parts = (p.embedding * other, p.lm_head * other, p.sharded * lin, p.kv_proj * lin, replicated)
    routed_total = p.routed_total * lin
    active_routed = (p.active - (p.total - p.routed_total)) * lin
    return WeightProfile(
        total_bytes=sum(parts) + routed_total,
        embedding_bytes=parts[0],
        lm_head_bytes=parts[1],
        sharded_bytes=parts[2],
        kv_proj_bytes=parts[3],
        replicated_bytes=replicated,
        routed_expert_bytes=routed_expert,
        routed_total_bytes=routed_total,
        moe_layers=p.moe_layers,
        active_bytes=sum(parts) + active_routed,
        matmul_params_per_token=p.active - p.embedding - p.lm_head,
        routed_params_per_token=p.routed_expert * model.experts_per_token * p.moe_layers,
        lm_head_params=p.lm_head,
        attention_sharded_bytes=p.attention * lin,
        attention_params=p.attention_all,
    )


def weights_gb(model: Model, precision: str) -> float:
    """Weight memory of one full copy of ``model`` in ``precision``, in GB, scales included.

    Linear layers take :func:`bytes_per_param`; embeddings, lm_head, norms and router gates
    stay BF16 under fp8/int8/int4 (as DeepSeek's FP8 checkpoint and GPTQ/AWQ do) and take the
    plain width under fp32/bf16/fp16. DeepSeek-R1's 14B MTP module is not included.
    """
    return weight_profile(model, precision).total_bytes / GB


def active_weights_gb(model: Model, precision: str) -> float:
    """Weights one token uses, in GB: all of them for dense models; for MoE attention, dense
    layers, shared experts, ``experts_per_token`` routed experts per MoE layer, router gates,
    norms, embedding and lm_head."""
    return weight_profile(model, precision).active_bytes / GB


def kv_head_fraction(model: Model, tensor_parallel: int) -> float:
    """Share of the model's KV heads one TP rank keeps: ceil(kv_heads / tp) / kv_heads, so at
    least one head per rank (replicated once tp > kv_heads). MLA's latent: 1.0 on every rank."""
    if model.attention == "mla":
        return 1.0
    kv = model.num_kv_heads
    return math.ceil(kv / tensor_parallel) / kv


@functools.lru_cache(maxsize=512)
def kv_cache_bytes_per_token(model: Model, kv_precision: str = "bf16") -> int:
    """KV-cache bytes one token of context takes across all layers (not sharded).

    GQA: ``2 * layers * kv_heads * head_dim * bytes``. MLA: ``(kv_lora_rank +
    qk_rope_head_dim) * layers * bytes`` (DeepSeek-R1 in BF16: 70,272; FP8: 35,136).
    """
    check_precision(kv_precision, "kv_precision")
    if model.attention == "mla":
        values = (model.kv_lora_rank + model.qk_rope_head_dim) * model.num_layers
    else:
        values = 2 * model.num_layers * model.num_kv_heads * model.head_dim
    return values * _KV_BITS[kv_precision] // 8


def kv_cache_bytes_per_token_per_gpu(
    model: Model, kv_precision: str, tensor_parallel: int, pipeline_parallel: int = 1
) -> float:
    """KV-cache bytes one token takes on each GPU of a (tp x pp) replica.

    GQA heads split over TP ranks (each rank keeps at least one head); the MLA latent is
    replicated on every TP rank. Pipeline stages split the layers (``stage_share``: the
    most loaded stage's).
    """
    per_token = kv_cache_bytes_per_token(model, kv_precision)
    return (
        per_token * kv_head_fraction(model, tensor_parallel) * stage_share(model, pipeline_parallel)
    )


def weights_gb_per_gpu(
    model: Model, precision: str, tensor_parallel: int, pipeline_parallel: int = 1
) -> float:
    """Weight GB on each GPU of a (tp x pp) replica.

    Sharded layers divide by tp; GQA k/v projections by at most kv_heads; norms, router gates
    and MLA's kv_a projection stay whole on every rank. Pipeline stages split everything
    as their layers do (``stage_share``, the most loaded stage), embedding and lm_head
    included (an approximation: they sit on the first and last stage in vLLM). MLA's q_a
    projection is treated as sharded although vLLM replicates it (~0.9 GB for R1 in FP8):
    its width, q_lora_rank, is not in the record.
    """
    w = weight_profile(model, precision)
    per_rank = (
        (w.embedding_bytes + w.lm_head_bytes + w.sharded_bytes + w.routed_total_bytes)
        / tensor_parallel
        + w.kv_proj_bytes * kv_head_fraction(model, tensor_parallel)
        + w.replicated_bytes
    )
    return per_rank * stage_share(model, pipeline_parallel) / GB


@functools.lru_cache(maxsize=512)
def runtime_overhead_gb(model: Model, tensor_parallel: int) -> float:
    """Memory per GPU that is neither weights nor KV cache, in GB.

    CUDA context + CUDA graphs (:data:`CUDA_CONTEXT_GB`, :data:`CUDA_GRAPH_GB`) plus the
    activation peak of a profiling batch of :data:`ACTIVATION_TOKENS` tokens: BF16 copies of
    the residual stream (4 x hidden, plus experts_per_token x hidden for the fused-MoE output
    buffer) and the FFN's gate/up output (2 x intermediate / tp), and FP32 logits of
    :data:`ACTIVATION_SAMPLED_SEQS` sampled sequences.
    """
    residual = (4 + model.experts_per_token) * model.hidden_size
    per_token = 2.0 * (residual + 2 * model.intermediate_size / tensor_parallel)
    logits = 4.0 * ACTIVATION_SAMPLED_SEQS * model.vocab_size
    return CUDA_CONTEXT_GB + CUDA_GRAPH_GB + (ACTIVATION_TOKENS * per_token + logits) / GB


def device_memory_gb(gpu: Gpu) -> float:
    """Memory the driver reports for ``gpu``, in GB (10^9 bytes).

    ``Gpu.memory_gb`` is the vendor's figure, which is GiB (:data:`GIB`): "80 GB" is 85.9 GB.
    Datacenter cards with GDDR (no HBM) lose 1/16 to ECC, on by default
    (:data:`ECC_GDDR_FRACTION`): an A40's "48 GB" is 45 GiB = 48.3 GB.
    """
    memory = gpu.memory_gb * GIB / GB
    if not gpu.hbm and gpu.segment == "datacenter":
        memory *= ECC_GDDR_FRACTION
    return memory


def usable_gb_per_gpu(
    gpu: Gpu,
    model: Model,
    tensor_parallel: int,
    fraction: float = USABLE_MEMORY_FRACTION,
    budget: str = "device",
    weights_gb: float = 0.0,
) -> float:
    """GB one GPU offers to weights + KV cache, by the engine's memory budget (default:
    vLLM's, :func:`device_memory_gb` x 0.90 minus the runtime overhead).

    ``budget`` "device": ``fraction`` of the device's memory holds weights, runtime and KV
    cache (vLLM, SGLang). "free": the ``weights_gb`` this GPU holds, plus ``fraction`` of
    what is left once they and the runtime are loaded (TensorRT-LLM, llama.cpp).
    """
    overhead = runtime_overhead_gb(model, tensor_parallel)
    if budget == "free":
        free = device_memory_gb(gpu) - overhead - weights_gb
        return weights_gb + fraction * free if free > 0 else device_memory_gb(gpu) - overhead
    return device_memory_gb(gpu) * fraction - overhead
