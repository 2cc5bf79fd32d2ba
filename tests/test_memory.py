"""Memory physics against published checkpoint sizes and KV-cache arithmetic.

Records come from the shipped catalog when it loads; until then from hand-built copies of
the reference TOML (``shared/reference/models.toml`` and ``gpus.toml``), so these tests run
on their own. ``test_roofline.py`` imports :func:`model` and :func:`gpu` from here.
"""

from __future__ import annotations

import functools
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from r1rules._errors import CatalogError, R1RulesError, WorkloadError
from r1rules._vocabulary import PRECISIONS
from r1rules.catalog import Gpu, Model
from r1rules.physics._memory import (
    CUDA_CONTEXT_GB,
    CUDA_GRAPH_GB,
    ECC_GDDR_FRACTION,
    GIB,
    USABLE_MEMORY_FRACTION,
    active_weights_gb,
    bytes_per_param,
    device_memory_gb,
    kv_cache_bytes_per_token,
    kv_cache_bytes_per_token_per_gpu,
    runtime_overhead_gb,
    usable_gb_per_gpu,
    weights_gb,
    weights_gb_per_gpu,
)

_DENSE: dict[str, tuple[Any, ...]] = {
    # id: (total_b, layers, hidden, inter, heads, kv_heads, vocab, repo, checkpoint GB)
    "deepseek-r1-distill-qwen-1.5b": (1.777, 28, 1536, 8960, 12, 2, 151936, "Qwen-1.5B", 3.55),
    "deepseek-r1-distill-qwen-7b": (7.616, 28, 3584, 18944, 28, 4, 152064, "Qwen-7B", 15.23),
    "deepseek-r1-distill-llama-8b": (8.030, 32, 4096, 14336, 32, 8, 128256, "Llama-8B", 16.06),
    "deepseek-r1-distill-qwen-14b": (14.770, 48, 5120, 13824, 40, 8, 152064, "Qwen-14B", 29.54),
    "deepseek-r1-distill-qwen-32b": (32.764, 64, 5120, 27648, 40, 8, 152064, "Qwen-32B", 65.5),
    "deepseek-r1-distill-llama-70b": (70.554, 80, 8192, 28672, 64, 8, 128256, "Llama-70B", 141.1),
}
DISTILLS = tuple(_DENSE)

_GPUS: dict[str, tuple[Any, ...]] = {
    # id: (memory GB, GB/s, {bf16, fp8, int8, int4, fp32}, link GB/s, nvlink domain, per node)
    "h100-sxm": (80, 3350, (989, 1979, 1979, 0, 67), 900, 8, 8),
    "h200": (141, 4800, (989, 1979, 1979, 0, 67), 900, 8, 8),
    "a100-40gb": (40, 1555, (312, 0, 624, 1248, 19.5), 600, 8, 8),
    "a100-80gb": (80, 2039, (312, 0, 624, 1248, 19.5), 600, 8, 8),
    "l40s": (48, 864, (362, 733, 733, 1466, 91.6), 0, 1, 8),
    "rtx-4090": (24, 1008, (165.2, 330.3, 660.6, 1321.2, 82.6), 0, 1, 8),
}


def _hand_model(model_id: str) -> Model:
    common: dict[str, Any] = {
        "id": model_id,
        "aliases": (),
        "max_context_tokens": 131072,
        "source": "shared/reference/models.toml",
    }
    if model_id == "deepseek-r1":
        return Model(
            name="DeepSeek-R1",
            hf_repo="deepseek-ai/DeepSeek-R1",
            kind="moe",
            attention="mla",
            nominal_params_b=671,
            total_params_b=671,
            active_params_b=37,
            num_layers=61,
            hidden_size=7168,
            intermediate_size=18432,
            num_attention_heads=128,
            num_kv_heads=128,
            head_dim=128,
            vocab_size=129280,
            tie_word_embeddings=False,
            native_precision="fp8",
            kv_lora_rank=512,
            qk_rope_head_dim=64,
            n_routed_experts=256,
            n_shared_experts=1,
            experts_per_token=8,
            moe_intermediate_size=2048,
            first_dense_layers=3,
            checkpoint_size_gb=689,
            **common,
        )
    total, layers, hidden, inter, heads, kv, vocab, repo, size = _DENSE[model_id]
    return Model(
        name=f"DeepSeek-R1-Distill-{repo}",
        hf_repo=f"deepseek-ai/DeepSeek-R1-Distill-{repo}",
        kind="dense",
        attention="gqa",
        nominal_params_b=total,
        total_params_b=total,
        active_params_b=total,
        num_layers=layers,
        hidden_size=hidden,
        intermediate_size=inter,
        num_attention_heads=heads,
        num_kv_heads=kv,
        head_dim=128,
        vocab_size=vocab,
        tie_word_embeddings=False,
        native_precision="bf16",
        checkpoint_size_gb=size,
        **common,
    )


def _hand_gpu(gpu_id: str) -> Gpu:
    memory, bandwidth, (bf16, fp8, int8, int4, fp32), link, domain, per_node = _GPUS[gpu_id]
    rates = {"fp32": fp32, "bf16": bf16, "fp16": bf16, "fp8": fp8, "int8": int8, "int4": int4}
    return Gpu(
        id=gpu_id,
        name=gpu_id,
        vendor="NVIDIA",
        aliases=(),
        segment="datacenter",
        memory_gb=memory,
        memory_type="HBM",
        hbm=True,
        memory_bandwidth_gbps=bandwidth,
        tflops=rates,
        fp8_native=fp8 > 0,
        int4_native=int4 > 0,
        interconnect="",
        interconnect_bw_gbps=link,
        nvlink_domain=domain,
        max_per_node=per_node,
        tdp_w=700,
        price_usd=None,
        cloud_usd_per_hour=None,
        source="shared/reference/gpus.toml",
    )


@functools.cache
def _catalog() -> Any:
    try:
        from r1rules.catalog._catalog import default_catalog

        return default_catalog()
    except (ImportError, R1RulesError, OSError):
        return None


def model(model_id: str) -> Model:
    """The catalog's record for ``model_id``, or the hand-built copy of the reference."""
    catalog = _catalog()
    return catalog.model(model_id) if catalog is not None else _hand_model(model_id)


def gpu(gpu_id: str) -> Gpu:
    """The catalog's record for ``gpu_id``, or the hand-built copy of the reference."""
    catalog = _catalog()
    return catalog.gpu(gpu_id) if catalog is not None else _hand_gpu(gpu_id)


ALL_MODELS = ("deepseek-r1", *DISTILLS)


# --- bytes per parameter -------------------------------------------------------------------


def test_bytes_per_param_counts_the_scales() -> None:
    assert bytes_per_param("fp32") == 4.0
    assert bytes_per_param("bf16") == bytes_per_param("fp16") == 2.0
    assert bytes_per_param("fp8") == 1.0 + 4.0 / (128 * 128)  # F32 scale per 128x128 block
    assert bytes_per_param("int8", in_features=4096) == 1.0 + 2.0 / 4096  # BF16 per channel
    assert bytes_per_param("int4") == 0.5 + 2.5 / 128  # group 128: FP16 scale + 4-bit zero


def test_unknown_precision_names_the_field() -> None:
    with pytest.raises(WorkloadError, match=r"^precision: unknown precision 'bf61'.*'bf16'"):
        bytes_per_param("bf61")
    with pytest.raises(WorkloadError, match=r"^kv_precision: unknown precision 'fp4'"):
        kv_cache_bytes_per_token(model("deepseek-r1"), "fp4")


# --- weights --------------------------------------------------------------------------------

# Official BF16 safetensors totals (GB = 10^9 B) on each distill's Hugging Face "Files" page,
# as listed in shared/reference/models.toml: 1.5B 3.55 (one shard); 7B 8.61 + 6.62 = 15.23;
# 8B 8.67 + 7.39 = 16.06; 14B 8.71 + 8.67 + 8.67 + 3.49 = 29.54; 32B 65.5 and 70B 141.1
# (32.764B / 70.554B params x 2 bytes; their shard lists were not captured whole).
PUBLISHED_BF16_GB = {
    "deepseek-r1-distill-qwen-1.5b": 3.55,
    "deepseek-r1-distill-qwen-7b": 15.23,
    "deepseek-r1-distill-llama-8b": 16.06,
    "deepseek-r1-distill-qwen-14b": 29.54,
    "deepseek-r1-distill-qwen-32b": 65.5,
    "deepseek-r1-distill-llama-70b": 141.1,
}


@pytest.mark.parametrize("model_id", DISTILLS)
def test_distill_bf16_weights_match_the_checkpoint(model_id: str) -> None:
    published = PUBLISHED_BF16_GB[model_id]
    assert weights_gb(model(model_id), "bf16") == pytest.approx(published, rel=0.03)


def test_r1_fp8_weights_are_671b_bytes_plus_bf16_embeddings_and_scales() -> None:
    w = weights_gb(model("deepseek-r1"), "fp8")
    # 671B main-model params (R1 README) at ~1 byte, + 2 x 129280 x 7168 BF16 embedding/head
    # (1.85B params, 3.7 GB) + norms/router in BF16 + F32 block scales (0.16 GB).
    assert 671 < w < 680
    # The HF checkpoint (~689 GB, models.toml checkpoint_size_gb) adds the 14B MTP module:
    # ~11.5B FP8 params + its BF16 copies of embedding and head (~15 GB). We leave it out.
    assert 10 < 689 - w < 22
    # 8 x H100 80GB (640 GB in all) can never hold it; 8 x H200 at vLLM's 0.90 can.
    assert 640 < w < 8 * 141 * 0.9


def test_r1_bf16_weights_are_two_bytes_per_param() -> None:
    # DeepSeek's fp8_cast_bf16.py "roughly doubles" the size (R1 README): 671B x 2 bytes.
    assert weights_gb(model("deepseek-r1"), "bf16") == pytest.approx(1342, rel=0.002)


def test_r1_active_weights_match_the_published_activated_params() -> None:
    # README_WEIGHTS.md: 36.7B activated incl. 0.9B embedding + 0.9B head; R1 README: 37B;
    # models.toml derives ~37.5B from the config. BF16 bytes / 2 = params.
    active_b = active_weights_gb(model("deepseek-r1"), "bf16") / 2
    assert 36.7 <= active_b <= 37.6


def test_mla_total_too_small_for_its_parts_is_a_catalog_error() -> None:
    # 256 experts x 58 layers alone are 654B params: a 600B total leaves nothing for attention,
    # so the record is refused before any physics could take attention as a negative rest
    r1 = model("deepseek-r1")
    with pytest.raises(
        CatalogError, match=r"^total_params_b: 600 leaves no room for MLA attention"
    ):
        attrs.evolve(r1, total_params_b=600.0, active_params_b=30.0, nominal_params_b=600)


@pytest.mark.parametrize("model_id", DISTILLS)
def test_dense_models_use_all_their_weights(model_id: str) -> None:
    m = model(model_id)
    assert active_weights_gb(m, "int4") == weights_gb(m, "int4")


def test_quantised_weights_keep_embeddings_in_bf16() -> None:
    m = model("deepseek-r1-distill-qwen-1.5b")
    table_gb = 2 * 151936 * 1536 * 2 / 1e9  # untied embedding + lm_head, BF16
    body_params = 1.777e9 - 2 * 151936 * 1536
    expected = table_gb + body_params * bytes_per_param("int4") / 1e9
    assert weights_gb(m, "int4") == pytest.approx(expected, rel=0.005)


@given(st.sampled_from(ALL_MODELS))
def test_fewer_bits_never_weigh_more(model_id: str) -> None:
    """Law: fp32 > bf16 = fp16 > int8 >= fp8 > int4, for every model."""
    m = model(model_id)
    sizes = [weights_gb(m, p) for p in ("fp32", "bf16", "int8", "fp8", "int4")]
    assert sizes == sorted(sizes, reverse=True)
    assert weights_gb(m, "bf16") == weights_gb(m, "fp16")


# --- KV cache -------------------------------------------------------------------------------

# models.toml: 2 (K,V) x layers x kv_heads x 128 x 2 bytes for the distills;
# MLA: (512 + 64) x 61 x 2 = 70,272 B (DeepSeek's hardware paper: ~70 KB/token).
KV_BF16 = {
    "deepseek-r1": 70272,
    "deepseek-r1-distill-qwen-1.5b": 28672,
    "deepseek-r1-distill-qwen-7b": 57344,
    "deepseek-r1-distill-llama-8b": 131072,
    "deepseek-r1-distill-qwen-14b": 196608,
    "deepseek-r1-distill-qwen-32b": 262144,
    "deepseek-r1-distill-llama-70b": 327680,
}


@pytest.mark.parametrize("model_id", ALL_MODELS)
def test_kv_bytes_per_token(model_id: str) -> None:
    m = model(model_id)
    assert kv_cache_bytes_per_token(m) == KV_BF16[model_id]
    assert kv_cache_bytes_per_token(m, "fp8") == KV_BF16[model_id] // 2


def test_r1_fp8_kv_halves_to_35136() -> None:
    assert kv_cache_bytes_per_token(model("deepseek-r1"), "fp8") == 35136


def test_gqa_heads_split_over_tp_but_each_rank_keeps_one() -> None:
    m = model("deepseek-r1-distill-llama-70b")  # 8 KV heads
    assert kv_cache_bytes_per_token_per_gpu(m, "bf16", 4) == 327680 / 4
    assert kv_cache_bytes_per_token_per_gpu(m, "bf16", 8) == 327680 / 8
    assert kv_cache_bytes_per_token_per_gpu(m, "bf16", 16) == 327680 / 8  # replicated
    assert kv_cache_bytes_per_token_per_gpu(m, "bf16", 4, 2) == 327680 / 8  # PP halves layers


def test_mla_latent_is_replicated_on_every_rank() -> None:
    m = model("deepseek-r1")
    assert kv_cache_bytes_per_token_per_gpu(m, "bf16", 8) == 70272
    # two pipeline stages of R1's 61 layers: the larger holds 31 of them
    assert kv_cache_bytes_per_token_per_gpu(m, "fp8", 8, 2) == pytest.approx(35136 * 31 / 61)


@given(
    st.sampled_from(ALL_MODELS), st.sampled_from((1, 2, 4, 8, 16)), st.sampled_from(("bf16", "fp8"))
)
def test_more_tp_never_adds_kv_per_gpu(model_id: str, tp: int, kv: str) -> None:
    """Law: a GPU's share of a token's KV never grows with tensor parallelism."""
    m = model(model_id)
    assert kv_cache_bytes_per_token_per_gpu(m, kv, 2 * tp) <= kv_cache_bytes_per_token_per_gpu(
        m, kv, tp
    )


# --- per-GPU weights and usable memory -------------------------------------------------------


def test_dense_weights_split_evenly_over_tp_and_pp() -> None:
    m = model("deepseek-r1-distill-llama-70b")
    whole = weights_gb(m, "bf16")
    assert weights_gb_per_gpu(m, "bf16", 4, 1) == pytest.approx(whole / 4, rel=0.001)
    assert weights_gb_per_gpu(m, "bf16", 4, 2) == pytest.approx(whole / 8, rel=0.001)


def test_r1_replicated_parts_stay_whole_on_each_rank() -> None:
    m = model("deepseek-r1")
    per_gpu, even = weights_gb_per_gpu(m, "fp8", 8, 1), weights_gb(m, "fp8") / 8
    # norms, router gates (256 x 7168 x 58, BF16) and kv_a (7168 x 576 x 61, FP8) on every rank
    assert even < per_gpu < even + 1.0


@given(
    st.sampled_from(ALL_MODELS),
    st.sampled_from(PRECISIONS),
    st.sampled_from((1, 2, 4, 8)),
    st.integers(1, 4),
)
def test_weights_per_gpu_shrink_with_parallelism(
    model_id: str, precision: str, tp: int, pp: int
) -> None:
    """Law: more TP or PP ranks never put more weight bytes on one GPU."""
    m = model(model_id)
    here = weights_gb_per_gpu(m, precision, tp, pp)
    assert weights_gb_per_gpu(m, precision, 2 * tp, pp) <= here
    assert weights_gb_per_gpu(m, precision, tp, pp + 1) <= here


def test_usable_memory_is_vllm_fraction_of_the_device_minus_overhead() -> None:
    # Changed on purpose: "80 GB" was read as 80 x 10^9 bytes; it is 80 GiB.
    m, h100 = model("deepseek-r1-distill-llama-8b"), gpu("h100-sxm")
    overhead = runtime_overhead_gb(m, 1)
    assert CUDA_CONTEXT_GB + CUDA_GRAPH_GB < overhead < 3.0  # + ~0.9 GB activations at 8192 tok
    assert usable_gb_per_gpu(h100, m, 1) == pytest.approx(
        80 * 2**30 / 1e9 * USABLE_MEMORY_FRACTION - overhead
    )


# nvidia-smi's totals: RTX 4090 24,564 MiB, H100 SXM 81,559 MiB, H200 143,771 MiB (the
# vendor's GiB less a few hundred MiB the driver keeps), A40 46,068 MiB = 45 GiB (ECC on).
NVIDIA_SMI_MIB = {"rtx-4090": 24_564, "h100-sxm": 81_559, "h200": 143_771, "a40": 46_068}


@pytest.mark.parametrize(("gpu_id", "mib"), sorted(NVIDIA_SMI_MIB.items()))
def test_device_memory_is_the_vendors_gib(gpu_id: str, mib: int) -> None:
    g = gpu(gpu_id) if gpu_id != "a40" else _a40()
    reported_gb = mib * 2**20 / 1e9
    assert device_memory_gb(g) == pytest.approx(reported_gb, rel=0.005)
    assert device_memory_gb(g) >= reported_gb  # the driver's reserve is not ours to guess


def _a40() -> Gpu:
    """The catalog's A40 (48 GB GDDR6, datacenter: ECC on), or a hand-built one."""
    try:
        return gpu("a40")
    except (KeyError, R1RulesError):
        return attrs.evolve(gpu("l40s"), id="a40", memory_gb=48, hbm=False, memory_type="GDDR6")


def test_gddr_datacenter_cards_lose_a_sixteenth_to_ecc() -> None:
    h100 = gpu("h100-sxm")
    gddr = attrs.evolve(h100, hbm=False, memory_type="GDDR6")
    geforce = attrs.evolve(gddr, segment="consumer")
    assert device_memory_gb(h100) == device_memory_gb(geforce) == 80 * GIB / 1e9
    assert device_memory_gb(gddr) == 80 * GIB / 1e9 * ECC_GDDR_FRACTION


@given(st.floats(1.0, 1024.0), st.booleans(), st.sampled_from(("consumer", "datacenter")))
def test_device_memory_grows_with_the_card(memory: float, hbm: bool, segment: str) -> None:
    """Law: more nominal memory never reports less; GiB are never fewer bytes than GB."""
    memory_type = "HBM3" if hbm else "GDDR6"
    base = attrs.evolve(
        gpu("h100-sxm"), hbm=hbm, memory_type=memory_type, segment=segment, memory_gb=memory
    )
    bigger = attrs.evolve(base, memory_gb=memory + 1.0)
    assert device_memory_gb(bigger) > device_memory_gb(base)
    assert device_memory_gb(base) >= memory * ECC_GDDR_FRACTION * GIB / 1e9 * (1 - 1e-12)


def test_llama_70b_bf16_needs_four_l40s() -> None:
    m, l40s = model("deepseek-r1-distill-llama-70b"), gpu("l40s")
    seq_gb = 2048 * kv_cache_bytes_per_token_per_gpu(m, "bf16", 4) / 1e9
    # 3 x 48 GB x 0.9 = 129.6 GB < 141.1 GB of weights: three L40S can never hold it ...
    assert 3 * usable_gb_per_gpu(l40s, m, 4) < weights_gb(m, "bf16")
    # ... four can, with room for KV (the seed audit cites 4 x L40S runs of the 70B distill).
    assert weights_gb_per_gpu(m, "bf16", 4) + seq_gb < usable_gb_per_gpu(l40s, m, 4)
