"""Tests of the model and GPU catalogs: shipped data, lookups, loader errors, derived models.

Error tests compare whole messages. The shipped data (``rules/catalog/*.toml``) is checked
everywhere: sources, physical bounds, dense (not sparse) tensor rates, internal consistency.
Checks against the project's reference facts (``../shared/reference`` beside the
repository) are an extra that skips when that folder is absent.
"""

from __future__ import annotations

import datetime
import importlib.resources
import json
import math
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs
import pytest
import tomli
from hfconfigs import R1_CONFIG
from hypothesis import given
from hypothesis import strategies as st

import r1rules as r1rules_package
from r1rules._errors import CatalogError
from r1rules.catalog._catalog import (
    PRECISIONS,
    Catalog,
    FrozenMap,
    Gpu,
    Model,
    default_catalog,
    dense_param_count,
    generic_dense_model,
    load_catalog,
    model_from_hf_config,
    shipped_rules_dir,
)
from r1rules.catalog._load import GPU_SCHEMA, MODEL_SCHEMA, _check_entry

REFERENCE = Path(__file__).resolve().parents[1].parent / "shared" / "reference"
MODEL_IDS = (
    "deepseek-r1",
    "deepseek-r1-0528",
    "deepseek-r1-distill-llama-70b",
    "deepseek-r1-distill-llama-8b",
    "deepseek-r1-distill-qwen-1.5b",
    "deepseek-r1-distill-qwen-14b",
    "deepseek-r1-distill-qwen-32b",
    "deepseek-r1-distill-qwen-7b",
)
GPU_IDS = (
    "a10",
    "a100-40gb",
    "a100-40gb-pcie",
    "a100-80gb",
    "a40",
    "b200",
    "b300",
    "gb200",
    "h100-nvl",
    "h100-pcie",
    "h100-sxm",
    "h200",
    "l4",
    "l40s",
    "mi300x",
    "mi325x",
    "rtx-3090",
    "rtx-4090",
    "rtx-5090",
)
MODEL_ALLOWED = ", ".join((*MODEL_SCHEMA, "*_note", "replace", "sources"))

# a valid dense model entry and a valid GPU entry, to break one key at a time
MODEL_FIELDS: dict[str, Any] = {
    "name": "Test 7B",
    "kind": "dense",
    "attention": "gqa",
    "nominal_params_b": 7,
    "total_params_b": 7.6,
    "active_params_b": 7.6,
    "num_layers": 28,
    "hidden_size": 3584,
    "intermediate_size": 18944,
    "num_attention_heads": 28,
    "num_kv_heads": 4,
    "head_dim": 128,
    "vocab_size": 152064,
    "tie_word_embeddings": False,
    "max_context_tokens": 131072,
    "native_precision": "bf16",
    "source": "test",
}
GPU_FIELDS: dict[str, Any] = {
    "name": "Test GPU",
    "vendor": "Test",
    "segment": "datacenter",
    "memory_gb": 80,
    "memory_type": "HBM3",
    "hbm": True,
    "memory_bandwidth_gbps": 3350,
    "tflops": {"fp32": 67, "bf16": 989, "fp16": 989, "fp8": 1979, "int8": 1979, "int4": 0},
    "fp8_native": True,
    "int4_native": False,
    "interconnect": "NVLink",
    "interconnect_bw_gbps": 900,
    "nvlink_domain": 8,
    "max_per_node": 8,
    "tdp_w": 700,
    "source": "test",
}


def _toml_value(value: Any) -> str:
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(value) if isinstance(value, str) else repr(value)


def write_catalog(path: Path, tables: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> Path:
    """Write ``{"models": {id: fields}, "gpus": {...}}`` as a TOML catalog file."""
    lines = []
    for top, entries in tables.items():
        for entry_id, fields in entries.items():
            lines.append(f'[{top}."{entry_id}"]')
            lines += [f"{k} = {_toml_value(v)}" for k, v in fields.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def problems_message(*lines: str) -> str:
    head = "1 problem" if len(lines) == 1 else f"{len(lines)} problems"
    return f"{head} in the catalog:\n" + "\n".join(f"  {line}" for line in lines)


# --- the shipped catalog -------------------------------------------------------------------


def test_every_reference_id_loads() -> None:
    catalog = default_catalog()
    assert catalog.model_ids() == MODEL_IDS
    assert catalog.gpu_ids() == GPU_IDS


def test_schema_keys_are_the_record_fields() -> None:
    assert {"id", *MODEL_SCHEMA} == set(attrs.fields_dict(Model))
    assert {"id", *GPU_SCHEMA} == set(attrs.fields_dict(Gpu))


def test_every_shipped_entry_has_source_and_sources() -> None:
    for name, top in (("models.toml", "models"), ("gpus.toml", "gpus")):
        with (shipped_rules_dir() / "catalog" / name).open("rb") as handle:
            entries = tomli.load(handle)[top]
        for entry_id, fields in entries.items():
            assert fields["source"].strip(), entry_id
            assert fields["sources"] and all(v.strip() for v in fields["sources"].values())


def test_shipped_rules_dir_prefers_the_installed_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checkout = Path(__file__).resolve().parents[1] / "rules"
    installed = Path(r1rules_package.__file__).resolve().parent / "rules"
    # a wheel install carries its own copy; a source checkout or editable install uses rules/
    assert shipped_rules_dir() == (installed if installed.is_dir() else checkout)
    assert (shipped_rules_dir() / "10-edition.toml").is_file()
    (tmp_path / "rules" / "catalog").mkdir(parents=True)
    monkeypatch.setattr(importlib.resources, "files", lambda package: tmp_path)
    assert shipped_rules_dir() == tmp_path / "rules"


def test_default_catalog_is_cached_and_read_only() -> None:
    catalog = default_catalog()
    assert default_catalog() is catalog
    with pytest.raises(TypeError):
        catalog.models["x"] = catalog.model("r1")  # type: ignore[index]
    with pytest.raises(TypeError):
        catalog.gpu("h100").tflops["bf16"] = 1.0  # type: ignore[index]
    assert hash(catalog) == hash(load_catalog())


@pytest.mark.parametrize("model", MODEL_IDS)
def test_dense_counts_reproduce_the_catalog_totals(model: str) -> None:
    """The [meta] formula on a distill's fields gives its total_params_b (to 0.05%)."""
    m = default_catalog().model(model)
    if m.kind == "moe":
        with pytest.raises(CatalogError, match="only for dense GQA models, not moe/mla"):
            dense_param_count(m)
        return
    count = dense_param_count(m, qkv_bias="qwen" in m.id) / 1e9
    assert count == pytest.approx(m.total_params_b, rel=5e-4)


def test_gpu_conventions_hold() -> None:
    for gpu in default_catalog().gpus.values():
        assert set(gpu.tflops) == set(PRECISIONS)
        assert gpu.tflops["fp16"] == gpu.tflops["bf16"], gpu.id
        assert gpu.hbm == gpu.memory_type.lower().startswith("hbm"), gpu.id
        # a fabric wider than a bridge spans at least a whole server (HGX: 8 of 8; NVL72)
        assert gpu.nvlink_domain <= 2 or gpu.max_per_node <= gpu.nvlink_domain, gpu.id


# --- the shipped data within physical bounds (runs in every clone) --------------------------


def _shipped_entries(top: str) -> dict[str, dict[str, Any]]:
    with (shipped_rules_dir() / "catalog" / f"{top}.toml").open("rb") as handle:
        entries: dict[str, dict[str, Any]] = tomli.load(handle)[top]
    return entries


def _texts(value: object) -> Iterator[str]:
    """Every string in a parsed TOML value (notes, sources, source)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for child in value.values():
            yield from _texts(child)
    elif isinstance(value, list):
        for child in value:
            yield from _texts(child)


# a URL, a host/path, or one of the short keys gpus.toml's header defines for its sources
_ADDRESS = re.compile(
    r"https?://\S|\b[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}/\S|\b(MLENG|MLNET|VDUMA)\b"
)


# Sources that cite a document without an address (a datasheet via the reference facts, the
# reference's own form-factor field); listed so that a new one, or a fixed one, shows here.
UNADDRESSED_SOURCES = {"a100-40gb": {"int4"}, "mi300x": {"max_per_node"}}


def test_every_shipped_source_names_where_it_comes_from() -> None:
    """Every model and GPU has a non-empty source and a sources table whose entries name a
    web address (``https://...``, ``github.com/owner/repo ...`` or a short key the header
    defines), but for the listed exceptions."""
    for top in ("models", "gpus"):
        entries = _shipped_entries(top)
        assert set(entries) == set(MODEL_IDS if top == "models" else GPU_IDS)
        for entry_id, fields in entries.items():
            assert isinstance(fields["source"], str) and fields["source"].strip(), entry_id
            assert isinstance(fields["sources"], dict) and fields["sources"], entry_id
            unnamed = {k for k, url in fields["sources"].items() if not _ADDRESS.search(url)}
            assert len(unnamed) < len(fields["sources"]), entry_id
            assert unnamed == UNADDRESSED_SOURCES.get(entry_id, set()), entry_id


# Blackwell Ultra cut INT8 to 0.15 POPS dense a GPU (HGX B300 Tech Brief table; gpus.toml)
INT8_CUT = {"b300"}


def test_shipped_gpu_figures_are_physically_plausible() -> None:
    """Memory, bandwidth, rates, power and fabric of every GPU within what hardware of its
    kind has; the precision ladder as tensor cores have it (fp8 = 2 x bf16, int4 = 2 x
    int8, 0 where there is no native support, matching the *_native flags)."""
    for gpu in default_catalog().gpus.values():
        t = gpu.tflops
        assert 8 <= gpu.memory_gb <= 512, gpu.id
        assert 250 <= gpu.memory_bandwidth_gbps <= 20_000, gpu.id
        if gpu.hbm:
            assert gpu.memory_bandwidth_gbps >= 1_500, gpu.id
        else:
            assert gpu.memory_bandwidth_gbps <= 2_000, gpu.id
        assert 0 < t["fp32"] < t["bf16"] <= 5_000, gpu.id  # tensor cores beat plain FP32
        # FLOPs per byte of memory traffic: every part sits between 50 and 600
        assert 50 <= t["bf16"] * 1e3 / gpu.memory_bandwidth_gbps <= 600, gpu.id
        assert (t["fp8"] > 0) == gpu.fp8_native and (t["int4"] > 0) == gpu.int4_native, gpu.id
        if t["fp8"]:
            assert 1.9 <= t["fp8"] / t["bf16"] <= 2.1, gpu.id
        if gpu.id in INT8_CUT:  # a cut INT8 unit: below BF16, served dequantised
            assert 0 < t["int8"] < t["bf16"], gpu.id
        else:
            assert t["int8"] >= 1.9 * t["bf16"], gpu.id
        if t["int4"]:
            assert 1.95 <= t["int4"] / t["int8"] <= 2.05, gpu.id
        assert 50 <= gpu.tdp_w <= 1_500, gpu.id
        assert gpu.nvlink_domain in (1, 2, 8, 72), gpu.id
        assert (gpu.nvlink_domain == 1) == (gpu.interconnect_bw_gbps == 0), gpu.id
        assert 0 <= gpu.interconnect_bw_gbps <= 2_000, gpu.id
        assert 1 <= gpu.max_per_node <= 8, gpu.id
        if gpu.price_usd is not None:
            assert 500 <= gpu.price_usd <= 100_000, gpu.id
        if gpu.cloud_usd_per_hour is not None:
            assert 0.05 <= gpu.cloud_usd_per_hour <= 20, gpu.id


def test_shipped_consumer_cards_cost_less_than_data_center_parts() -> None:
    gpus = default_catalog().gpus.values()
    consumer = [g.price_usd for g in gpus if g.segment == "consumer" and g.price_usd]
    datacenter = [g.price_usd for g in gpus if g.segment == "datacenter" and g.price_usd]
    assert consumer and datacenter and max(consumer) < min(datacenter)


# "142 dense (284 sparse)", "1,248 dense / 2,496 sparse", "149.7 | 299.4 sparse"
_DENSE_SPARSE = re.compile(
    r"([\d,]+(?:\.\d+)?)\s*(?:dense)?\s*(?:\(|/|\|)\s*([\d,]+(?:\.\d+)?) sparse"
)


def test_every_sparse_figure_quoted_is_twice_its_dense_one() -> None:
    """The [meta] rule: dense = sparse / 2. Every "X dense / Y sparse" pair the notes and
    sources quote has Y = 2X (within rounding); the shipped rates are the dense ones (their
    ratios are checked in test_shipped_gpu_figures_are_physically_plausible)."""
    pairs = 0
    for gpu_id, fields in _shipped_entries("gpus").items():
        for text in _texts({k: v for k, v in fields.items() if k != "tflops"}):
            for dense, sparse in _DENSE_SPARSE.findall(text):
                d, sp = float(dense.replace(",", "")), float(sparse.replace(",", ""))
                pairs += 1
                assert sp == pytest.approx(2 * d, rel=0.01), (gpu_id, text)
    assert pairs >= 5  # the pattern still finds the catalog's quotes


def test_shipped_model_figures_are_consistent() -> None:
    """Parameter counts, attention shapes, checkpoint sizes and context windows agree with
    each other and with the model's kind."""
    bytes_per_param = {"fp8": 1, "bf16": 2}
    for model in default_catalog().models.values():
        assert 0 < model.active_params_b <= model.total_params_b, model.id
        assert 0.75 <= model.nominal_params_b / model.total_params_b <= 1.25, model.id
        assert model.num_attention_heads % model.num_kv_heads == 0, model.id
        assert 32_768 <= model.max_context_tokens <= 1_048_576, model.id
        if model.kind == "dense":
            assert model.active_params_b == model.total_params_b, model.id
            assert model.attention == "gqa", model.id
            assert model.num_attention_heads * model.head_dim == model.hidden_size, model.id
        else:
            assert model.active_params_b < model.total_params_b / 5, model.id
            assert model.n_routed_experts and model.experts_per_token, model.id
            assert model.experts_per_token < model.n_routed_experts, model.id
        if model.attention == "mla":
            assert model.kv_lora_rank and model.qk_rope_head_dim, model.id
        if model.checkpoint_size_gb is not None:
            weights = model.total_params_b * bytes_per_param[model.native_precision]
            assert 0.95 <= model.checkpoint_size_gb / weights <= 1.1, model.id
        assert model.hf_repo is not None and model.hf_repo.startswith("deepseek-ai/"), model.id


# --- lookups -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("deepseek-r1", "deepseek-r1"),
        ("R1", "deepseek-r1"),
        ("r1-0528", "deepseek-r1-0528"),
        ("deepseek-ai/DeepSeek-R1", "deepseek-r1"),
        ("DEEPSEEK-AI/deepseek-r1-0528", "deepseek-r1-0528"),
        ("deepseek-ai/DeepSeek-R1-Distill-Qwen-7B", "deepseek-r1-distill-qwen-7b"),
        ("DeepSeek-R1-Distill-Qwen-1.5B", "deepseek-r1-distill-qwen-1.5b"),
        ("r1-distill-qwen-7b", "deepseek-r1-distill-qwen-7b"),
        ("qwen-7b", "deepseek-r1-distill-qwen-7b"),
        ("llama-70b", "deepseek-r1-distill-llama-70b"),
        ("Llama 8B", "deepseek-r1-distill-llama-8b"),
    ],
)
def test_model_names_resolve(name: str, expected: str) -> None:
    assert default_catalog().model(name).id == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("H100", "h100-sxm"),
        ("4090", "rtx-4090"),
        ("RTX 4090", "rtx-4090"),
        ("rtx_4090", "rtx-4090"),
        ("GeForce RTX 3090", "rtx-3090"),
        ("A100", "a100-80gb"),
        ("A100 40GB", "a100-40gb"),
        ("H200", "h200"),
        ("B200", "b200"),
        ("B300", "b300"),
        ("HGX B300", "b300"),
        ("GB200 NVL72", "gb200"),
        ("MI300X", "mi300x"),
        ("AMD MI325X", "mi325x"),
        (" l40s ", "l40s"),
    ],
)
def test_gpu_names_resolve(name: str, expected: str) -> None:
    assert default_catalog().gpu(name).id == expected


def test_every_hf_repo_id_resolves() -> None:
    catalog = default_catalog()
    for model in catalog.models.values():
        assert model.hf_repo is not None
        assert catalog.model(model.hf_repo) is model


def test_unknown_model_message() -> None:
    with pytest.raises(CatalogError) as err:
        default_catalog().model("deepseek-r1-distil-qwen-7b")
    assert str(err.value) == (
        "unknown model 'deepseek-r1-distil-qwen-7b' (did you mean 'deepseek-r1-distill-qwen-7b'?); "
        "known models: deepseek-r1, deepseek-r1-0528, deepseek-r1-distill-llama-70b, "
        "deepseek-r1-distill-llama-8b, deepseek-r1-distill-qwen-1.5b, "
        "deepseek-r1-distill-qwen-14b, deepseek-r1-distill-qwen-32b, deepseek-r1-distill-qwen-7b"
    )


def test_unknown_gpu_message() -> None:
    with pytest.raises(CatalogError) as err:
        default_catalog().gpu("RTX-4080")
    assert str(err.value) == (
        "unknown GPU 'RTX-4080' (did you mean 'rtx-4090'?); known GPUs: a10, a100-40gb, "
        "a100-40gb-pcie, a100-80gb, a40, b200, b300, gb200, h100-nvl, h100-pcie, h100-sxm, h200, "
        "l4, l40s, mi300x, mi325x, rtx-3090, rtx-4090, rtx-5090"
    )


def test_unknown_name_without_a_close_match() -> None:
    empty = Catalog(models={}, gpus={})
    with pytest.raises(CatalogError) as err:
        empty.gpu("tpu-v5")
    assert str(err.value) == "unknown GPU 'tpu-v5'; known GPUs: (none)"


def test_catalog_built_in_code_rejects_name_clashes() -> None:
    r1 = default_catalog().model("r1")
    twin = attrs.evolve(r1, id="twin", hf_repo=None, aliases=("R1",))
    with pytest.raises(CatalogError) as err:
        Catalog(models={"deepseek-r1": r1, "twin": twin}, gpus={})
    assert str(err.value) == "model name 'R1' names both 'deepseek-r1' and 'twin'"
    with pytest.raises(CatalogError) as err:
        Catalog(models={"other": r1}, gpus={})
    assert str(err.value) == "model stored under 'other' has id 'deepseek-r1'"


def test_records_validate_their_categories() -> None:
    with pytest.raises(CatalogError) as err:
        attrs.evolve(default_catalog().model("r1"), kind="MoE")
    assert str(err.value) == "kind: unknown value 'MoE' (did you mean 'moe'?); allowed: dense, moe"
    with pytest.raises(CatalogError) as err:
        attrs.evolve(default_catalog().gpu("h100"), tflops={"bf16": 1.0})
    assert str(err.value) == "tflops: expected the keys fp32, bf16, fp16, fp8, int8, int4, got bf16"


# --- loading user files --------------------------------------------------------------------


def test_extra_files_add_entries(tmp_path: Path) -> None:
    write_catalog(
        tmp_path / "extra.toml",
        {
            "models": {
                "my-7b": {
                    **MODEL_FIELDS,
                    "aliases": ["mine"],
                    "sources": {"x": "y"},
                    "size_note": "free text",
                }
            },
            "gpus": {"my-gpu": GPU_FIELDS},
        },
    )
    catalog = load_catalog(tmp_path)
    assert catalog.model("MINE").id == "my-7b"
    assert catalog.gpu("my-gpu").tflops["fp8"] == 1979.0
    assert catalog.gpu("my-gpu").price_usd is None
    assert set(catalog.model_ids()) == {*MODEL_IDS, "my-7b"}
    alone = load_catalog(str(tmp_path / "extra.toml"), include_default=False)
    assert alone.model_ids() == ("my-7b",) and alone.gpu_ids() == ("my-gpu",)


def test_malformed_files_report_every_problem(tmp_path: Path) -> None:
    model = {
        **MODEL_FIELDS,
        "kind": "MoE",
        "nominal_params_b": True,
        "total_params_b": math.nan,
        "active_params_b": -1,
    }
    model["num_layer"] = model.pop("num_layers")
    first = write_catalog(tmp_path / "a.toml", {"models": {"bad-model": model}})
    tflops = {"fp32": 67, "bf16": 989, "fp16": 989, "fp9": 1979, "int8": 1979, "int4": 0}
    gpu = {**GPU_FIELDS, "hbm": "yes", "tflops": tflops, "nvlink_domain": 0}
    second = write_catalog(tmp_path / "b.toml", {"gpus": {"bad-gpu": gpu}})
    with pytest.raises(CatalogError) as err:
        load_catalog(tmp_path)
    assert str(err.value) == problems_message(
        f"{first}: model 'bad-model': kind: unknown value 'MoE' (did you mean 'moe'?); "
        "allowed: dense, moe",
        f"{first}: model 'bad-model': nominal_params_b: expected a number, got true (a boolean)",
        f"{first}: model 'bad-model': total_params_b: expected a finite number, got nan",
        f"{first}: model 'bad-model': active_params_b: expected a positive number, got -1",
        f"{first}: model 'bad-model': num_layer: unknown key (did you mean 'num_layers'?); "
        f"allowed: {MODEL_ALLOWED}",
        f"{first}: model 'bad-model': num_layers: missing required key",
        f"{second}: GPU 'bad-gpu': hbm: expected true or false, got 'yes'",
        f"{second}: GPU 'bad-gpu': tflops.fp9: unknown key (did you mean 'fp8'?); "
        "allowed: fp32, bf16, fp16, fp8, int8, int4",
        f"{second}: GPU 'bad-gpu': tflops.fp8: missing required key",
        f"{second}: GPU 'bad-gpu': nvlink_domain: expected a positive integer, got 0",
    )


ONE_KEY_CASES = [
    ("model", {"aliases": "r1"}, ["aliases: expected an array of strings, got 'r1'"]),
    ("model", {"aliases": ["ok", ""]}, ["aliases[1]: expected a non-empty string, got ''"]),
    ("model", {"name": 7}, ["name: expected a non-empty string, got 7"]),
    ("model", {"sources": "x"}, ["sources: expected a table of strings, got 'x'"]),
    ("model", {"sources": {"a": 1}}, ["sources.a: expected a non-empty string, got 1"]),
    ("model", {"size_note": " "}, ["size_note: expected a non-empty string, got ' '"]),
    ("model", {"replace": "yes"}, ["replace: expected true or false, got 'yes'"]),
    ("model", {"kv_lora_rank": -1}, ["kv_lora_rank: expected a non-negative integer, got -1"]),
    ("model", {"num_layers": 1.5}, ["num_layers: expected an integer, got 1.5"]),
    (
        "model",
        {"active_params_b": 9},
        [
            "active_params_b: must not exceed total_params_b (7.6)",
            "active_params_b: must equal total_params_b when kind = 'dense'",
        ],
    ),
    (
        "model",
        {"kind": "moe", "active_params_b": 1},
        [
            "n_routed_experts: must be positive when kind = 'moe'",
            "experts_per_token: must be positive when kind = 'moe'",
            "moe_intermediate_size: must be positive when kind = 'moe'",
        ],
    ),
    (
        "model",
        {
            "kind": "moe",
            "active_params_b": 1,
            "n_routed_experts": 4,
            "experts_per_token": 8,
            "moe_intermediate_size": 1,
            "first_dense_layers": 28,
        },
        [
            "experts_per_token: must not exceed n_routed_experts (4)",
            "first_dense_layers: must be below num_layers (28)",
        ],
    ),
    (
        "model",
        {"attention": "mla"},
        [
            "kv_lora_rank: must be positive when attention = 'mla'",
            "qk_rope_head_dim: must be positive when attention = 'mla'",
        ],
    ),
    (
        "model",
        {"kv_lora_rank": 512},
        ["kv_lora_rank: must be 0 (or absent) when attention = 'gqa'"],
    ),
    (
        "gpu",
        {"tflops": 5},
        ["tflops: expected a table with keys fp32, bf16, fp16, fp8, int8, int4, got 5"],
    ),
    (
        "gpu",
        {"tflops": {**GPU_FIELDS["tflops"], "int8": -1}},
        ["tflops.int8: expected a non-negative number, got -1"],
    ),
    ("gpu", {"memory_gb": [1]}, ["memory_gb: expected a number, got an array"]),
    ("gpu", {"memory_gb": {"a": 1}}, ["memory_gb: expected a number, got a table"]),
    ("gpu", {"memory_gb": datetime.date(2024, 1, 1)}, ["memory_gb: expected a number, got a date"]),
    (
        "gpu",
        {"segment": "Consumer"},
        [
            "segment: unknown value 'Consumer' (did you mean "
            "'consumer'?); allowed: consumer, datacenter"
        ],
    ),
]


@pytest.mark.parametrize(("kind", "changes", "problems"), ONE_KEY_CASES)
def test_one_bad_key_gives_its_exact_problems(
    tmp_path: Path, kind: str, changes: dict[str, Any], problems: list[str]
) -> None:
    fields = {**(MODEL_FIELDS if kind == "model" else GPU_FIELDS), **changes}
    path = write_catalog(tmp_path / "x.toml", {f"{kind}s": {"x": fields}})
    noun = "model" if kind == "model" else "GPU"
    with pytest.raises(CatalogError) as err:
        load_catalog(path, include_default=False)
    assert str(err.value) == problems_message(*(f"{path}: {noun} 'x': {p}" for p in problems))


def test_entry_that_is_not_a_table_and_unreadable_files(tmp_path: Path) -> None:
    path = tmp_path / "x.toml"
    path.write_text("[models]\nbad = 3\n", encoding="utf-8")
    (tmp_path / "sub.toml").mkdir()
    with pytest.raises(CatalogError) as err:
        load_catalog(tmp_path, include_default=False)
    assert str(err.value) == problems_message(
        f"{tmp_path / 'sub.toml'}: cannot read: is a folder, not a file",
        f"{path}: model 'bad': expected a table, got 3",
    )


def test_inconsistent_entries_are_reported(tmp_path: Path) -> None:
    model = {**MODEL_FIELDS, "n_routed_experts": 8, "num_kv_heads": 3, "hf_repo": "no-owner"}
    tflops = {**GPU_FIELDS["tflops"], "fp8": 0}
    gpu = {**GPU_FIELDS, "tflops": tflops, "memory_type": "GDDR6", "nvlink_domain": 1}
    path = write_catalog(tmp_path / "c.toml", {"models": {"m": model}, "gpus": {"g": gpu}})
    with pytest.raises(CatalogError) as err:
        load_catalog(path, include_default=False)
    assert str(err.value) == problems_message(
        f"{path}: model 'm': num_kv_heads: must divide num_attention_heads (28)",
        f"{path}: model 'm': n_routed_experts: must be 0 (or absent) when kind = 'dense'",
        f"{path}: model 'm': hf_repo: expected 'owner/name', got 'no-owner'",
        f"{path}: GPU 'g': fp8_native: is true but tflops.fp8 is 0",
        f"{path}: GPU 'g': hbm: is true but memory_type is 'GDDR6'",
        f"{path}: GPU 'g': nvlink_domain: is 1 but interconnect_bw_gbps is 900 "
        "(1 goes with 0: PCIe only)",
    )


def test_redefining_an_id_needs_replace(tmp_path: Path) -> None:
    path = write_catalog(tmp_path / "dup.toml", {"models": {"deepseek-r1": MODEL_FIELDS}})
    shipped = shipped_rules_dir() / "catalog" / "models.toml"
    with pytest.raises(CatalogError) as err:
        load_catalog(path)
    assert str(err.value) == problems_message(
        f"{path}: model 'deepseek-r1': already defined in {shipped}; "
        "add replace = true to redefine it"
    )


def test_replace_redefines_an_entry_whole(tmp_path: Path) -> None:
    fields = {**MODEL_FIELDS, "replace": True}
    path = write_catalog(tmp_path / "r.toml", {"models": {"deepseek-r1": fields}})
    catalog = load_catalog(path)
    assert catalog.model("deepseek-r1").name == "Test 7B"
    assert catalog.model_ids() == MODEL_IDS
    with pytest.raises(CatalogError, match="unknown model 'r1'"):
        catalog.model("r1")  # the replacement has no aliases


def test_replace_needs_an_earlier_entry(tmp_path: Path) -> None:
    fields = {**MODEL_FIELDS, "replace": True}
    path = write_catalog(tmp_path / "r.toml", {"models": {"deepseek-r2": fields}})
    with pytest.raises(CatalogError) as err:
        load_catalog(path)
    assert str(err.value) == problems_message(
        f"{path}: model 'deepseek-r2': replace = true but no earlier model 'deepseek-r2' "
        "(did you mean 'deepseek-r1'?)"
    )


def test_alias_clashes_are_reported(tmp_path: Path) -> None:
    gpu = {**GPU_FIELDS, "aliases": ["my gpu", "H100"]}
    model = {**MODEL_FIELDS, "hf_repo": "deepseek-ai/DeepSeek-R1"}
    path = write_catalog(tmp_path / "x.toml", {"gpus": {"my-gpu": gpu}, "models": {"m": model}})
    with pytest.raises(CatalogError) as err:
        load_catalog(path)
    assert str(err.value) == problems_message(
        f"{path}: model 'm': hf_repo: 'deepseek-ai/DeepSeek-R1' already names model 'deepseek-r1'",
        f"{path}: GPU 'my-gpu': aliases[1]: 'H100' already names GPU 'h100-sxm'",
    )


def test_file_level_problems(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("[models\n", encoding="utf-8")
    with pytest.raises(tomli.TOMLDecodeError) as toml_error:
        tomli.loads("[models\n")
    odd = write_catalog(tmp_path / "odd.toml", {"models": {"Bad_Id": MODEL_FIELDS}})
    odd.write_text('model = 1\ngpus = "none"\n' + odd.read_text(encoding="utf-8"), encoding="utf-8")
    empty = tmp_path / "empty"
    empty.mkdir()
    missing = tmp_path / "missing.toml"
    with pytest.raises(CatalogError) as err:
        load_catalog(broken, odd, empty, missing, include_default=False)
    assert str(err.value) == problems_message(
        f"{empty}: folder holds no *.toml catalog files",
        f"{missing}: no such file or folder",
        f"{broken}: invalid TOML: {toml_error.value}",
        f"{odd}: model: unknown table (did you mean 'models'?); allowed: assumptions, "
        "engine_profiles, engines, fabrics, gpu_prices, gpus, hosts, meta, models",
        f"{odd}: gpus: expected a table of entries, got 'none'",
        f"{odd}: model 'Bad_Id': id: expected lower-case letters and digits joined by '.' or '-'",
    )


def test_a_folder_loads_its_files_in_name_order(tmp_path: Path) -> None:
    write_catalog(tmp_path / "1-base.toml", {"models": {"m": MODEL_FIELDS}})
    write_catalog(
        tmp_path / "2-fix.toml",
        {"models": {"m": {**MODEL_FIELDS, "name": "Fixed", "replace": True}}},
    )
    (tmp_path / "notes.txt").write_text("not a catalog", encoding="utf-8")
    assert load_catalog(tmp_path, include_default=False).model("m").name == "Fixed"


# --- generic models ------------------------------------------------------------------------


@pytest.mark.parametrize("params_b", [1, 7, 13, 33, 65, 175])
def test_generic_model_counts_match_its_size(params_b: float) -> None:
    model = generic_dense_model(params_b)
    assert dense_param_count(model) / 1e9 == pytest.approx(params_b, rel=0.03)
    assert model.total_params_b == model.active_params_b == model.nominal_params_b == params_b


def test_generic_model_shape() -> None:
    """13B and 65B take the LLaMA-1 width and depth; GQA with 8 KV heads; bf16; 128K."""
    m13, m65 = generic_dense_model(13), generic_dense_model(65.2)
    assert (m13.id, m13.hidden_size, m13.num_layers) == ("generic-13b", 5120, 40)
    assert (m65.id, m65.hidden_size, m65.num_layers) == ("generic-65.2b", 8192, 80)
    assert (m13.num_kv_heads, m13.head_dim, m13.native_precision) == (8, 128, "bf16")
    assert m13.max_context_tokens == 131072 and m13.kind == "dense" and m13.attention == "gqa"
    assert m13.assumption and "LLaMA-1" in m13.assumption and "arXiv" in m13.source
    assert generic_dense_model(1.5).id == "generic-1.5b"
    assert generic_dense_model(0.0001).id == "generic-0.0001b"


@pytest.mark.parametrize("bad", [0, -1, 10000.5, math.nan, math.inf, True, "13"])
def test_generic_model_rejects_bad_sizes(bad: Any) -> None:
    with pytest.raises(CatalogError) as err:
        generic_dense_model(bad)
    assert str(err.value) == (
        f"generic model size must be a number in (0, 10000] billion parameters, got {bad!r}"
    )


def _as_entry_fields(model: Model) -> dict[str, Any]:
    fields = attrs.asdict(model, recurse=False)
    del fields["id"]
    return {k: list(v) if isinstance(v, tuple) else v for k, v in fields.items() if v is not None}


sizes = st.floats(min_value=1e-6, max_value=10000, allow_nan=False, exclude_min=False)


@given(sizes)
def test_generic_models_are_valid_catalog_entries(params_b: float) -> None:
    """Law: any size in (0, 10000] gives a deterministic model the catalog schema accepts."""
    model = generic_dense_model(params_b)
    assert generic_dense_model(params_b) == model
    entry, problems = _check_entry("model", model.id, _as_entry_fields(model), "generic")
    assert problems == []
    assert entry is not None and entry.fields["total_params_b"] == params_b


@given(sizes, sizes)
def test_generic_kv_cache_grows_with_size(a: float, b: float) -> None:
    """Law: a bigger generic model never has a smaller KV cache per token."""
    small, big = generic_dense_model(min(a, b)), generic_dense_model(max(a, b))
    assert small.num_layers * small.num_kv_heads <= big.num_layers * big.num_kv_heads


@given(st.floats(min_value=1, max_value=10000, allow_nan=False))
def test_generic_counts_within_3_percent_from_1b(params_b: float) -> None:
    """Law: from 1B up, the derived architecture has params_b parameters to within 3%."""
    count = dense_param_count(generic_dense_model(params_b)) / 1e9
    assert abs(count - params_b) <= 0.03 * params_b


# --- Hugging Face config.json --------------------------------------------------------------

QWEN_7B_CONFIG = {
    "_name_or_path": "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B",
    "architectures": ["Qwen2ForCausalLM"],
    "model_type": "qwen2",
    "hidden_size": 3584,
    "intermediate_size": 18944,
    "num_hidden_layers": 28,
    "num_attention_heads": 28,
    "num_key_value_heads": 4,
    "vocab_size": 152064,
    "max_position_embeddings": 131072,
    "max_window_layers": 28,
    "rope_theta": 10000,
    "tie_word_embeddings": False,
    "torch_dtype": "bfloat16",
}
ARCH_FIELDS = (
    "kind",
    "attention",
    "num_layers",
    "hidden_size",
    "intermediate_size",
    "num_attention_heads",
    "num_kv_heads",
    "head_dim",
    "vocab_size",
    "tie_word_embeddings",
    "max_context_tokens",
    "native_precision",
    "kv_lora_rank",
    "qk_rope_head_dim",
    "n_routed_experts",
    "n_shared_experts",
    "experts_per_token",
    "moe_intermediate_size",
    "first_dense_layers",
)


def architecture(model: Model) -> dict[str, Any]:
    return {field: getattr(model, field) for field in ARCH_FIELDS}


def write_config(folder: Path, config: Mapping[str, Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    return path


def test_hf_config_of_the_7b_distill(tmp_path: Path) -> None:
    model = model_from_hf_config(write_config(tmp_path / "anything", QWEN_7B_CONFIG))
    expected = default_catalog().model("qwen-7b")
    assert model.total_params_b == pytest.approx(expected.total_params_b, rel=0.01)
    assert (model.id, model.hf_repo) == (expected.id, expected.hf_repo)
    assert architecture(model) == architecture(expected)


def test_hf_config_of_r1(tmp_path: Path) -> None:
    folder = tmp_path / "DeepSeek-R1"
    write_config(folder, R1_CONFIG)
    model = model_from_hf_config(folder)  # a folder holding config.json
    expected = default_catalog().model("r1")
    assert model.id == "deepseek-r1" and model.hf_repo is None
    assert model.total_params_b == pytest.approx(expected.total_params_b, rel=0.01)
    assert model.active_params_b == pytest.approx(expected.active_params_b, rel=0.02)
    assert architecture(model) == architecture(expected)


def test_hf_config_llama_defaults(tmp_path: Path) -> None:
    config = {
        "architectures": ["LlamaForCausalLM"],
        "hidden_size": 4096,
        "intermediate_size": 11008,
        "num_hidden_layers": 32,
        "num_attention_heads": 32,
        "vocab_size": 32000,
        "max_position_embeddings": 2048,
        "torch_dtype": "float16",
    }
    model = model_from_hf_config(write_config(tmp_path / "llama-7b", config), model_id="l7")
    assert (model.id, model.num_kv_heads, model.head_dim, model.native_precision) == (
        "l7",
        32,
        128,
        "fp16",
    )
    assert model.total_params_b == pytest.approx(6.738, abs=0.001)  # LLaMA-1 7B


def test_hf_config_unsupported_architecture(tmp_path: Path) -> None:
    path = write_config(tmp_path, {"architectures": ["MistralForCausalLM"]})
    with pytest.raises(CatalogError) as err:
        model_from_hf_config(path)
    assert str(err.value) == (
        f"{path}: unsupported architecture 'MistralForCausalLM'; "
        "supported: DeepseekV3ForCausalLM, LlamaForCausalLM, Qwen2ForCausalLM"
    )


def test_hf_config_reports_every_missing_or_bad_field(tmp_path: Path) -> None:
    config = {
        "architectures": ["LlamaForCausalLM"],
        "hidden_size": True,
        "intermediate_size": 11008,
        "num_hidden_layers": 0,
        "num_attention_heads": 32,
        "vocab_size": 32000,
        "torch_dtype": "int8",
    }
    path = write_config(tmp_path, config)
    with pytest.raises(CatalogError) as err:
        model_from_hf_config(path)
    assert str(err.value) == (
        "4 problems in the Hugging Face config:\n"
        f"  {path}: hidden_size: expected an integer, got true (a boolean)\n"
        f"  {path}: num_hidden_layers: expected a positive integer, got 0\n"
        f"  {path}: missing field 'max_position_embeddings'\n"
        f"  {path}: torch_dtype: unknown value 'int8'; allowed: bfloat16, float16, float32"
    )


def test_hf_config_optional_fields_and_dtype(tmp_path: Path) -> None:
    config = {**QWEN_7B_CONFIG, "num_key_value_heads": "4", "moe_layer_freq": 2}
    del config["torch_dtype"]
    path = write_config(tmp_path, config)
    with pytest.raises(CatalogError) as err:
        model_from_hf_config(path)
    assert str(err.value) == (
        "3 problems in the Hugging Face config:\n"
        f"  {path}: num_key_value_heads: expected an integer, got '4'\n"
        f"  {path}: moe_layer_freq: only 1 is supported, got 2\n"
        f"  {path}: missing field 'torch_dtype'"
    )
    with pytest.raises(CatalogError) as err:
        model_from_hf_config(tmp_path / "missing" / "config.json")
    assert str(err.value).startswith("1 problem in the Hugging Face config:\n  ")
    assert str(err.value).endswith("config.json: cannot read: No such file or directory")


def test_frozen_map_repr() -> None:
    assert repr(FrozenMap({"a": 1})) == "FrozenMap({'a': 1})"


def test_hf_config_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(CatalogError, match=r"^1 problem in the Hugging Face config:\n  .*JSON"):
        model_from_hf_config(path)


# --- the reference facts (../shared/reference), when present --------------------------------


def _reference(name: str) -> dict[str, Any]:
    path = REFERENCE / name
    if not path.is_file():
        pytest.skip(f"reference facts not present at {path}")
    with path.open("rb") as handle:
        return tomli.load(handle)


MODEL_REFERENCE_KEYS = {
    "hf_repo": "hf_repo",
    "total_params_b": "total_params_b",
    "active_params_b": "active_params_b",
    "num_hidden_layers": "num_layers",
    "hidden_size": "hidden_size",
    "intermediate_size": "intermediate_size",
    "num_attention_heads": "num_attention_heads",
    "num_key_value_heads": "num_kv_heads",
    "head_dim": "head_dim",
    "vocab_size": "vocab_size",
    "max_position_embeddings": "max_context_tokens",
    "tie_word_embeddings": "tie_word_embeddings",
    "kv_lora_rank": "kv_lora_rank",
    "qk_rope_head_dim": "qk_rope_head_dim",
    "n_routed_experts": "n_routed_experts",
    "n_shared_experts": "n_shared_experts",
    "num_experts_per_tok": "experts_per_token",
    "moe_intermediate_size": "moe_intermediate_size",
    "first_k_dense_replace": "first_dense_layers",
    "checkpoint_size_gb": "checkpoint_size_gb",
}


def test_models_match_the_reference() -> None:
    reference = _reference("models.toml")["models"]
    catalog = default_catalog()
    assert set(reference) == set(catalog.models)
    for model_id, facts in reference.items():
        model = catalog.model(model_id)
        for ref_key, field in MODEL_REFERENCE_KEYS.items():
            if ref_key in facts:
                assert getattr(model, field) == facts[ref_key], (model_id, ref_key)
        if "kind" in facts:
            assert model.kind == facts["kind"]
        assert model.native_precision == ("fp8" if model.kind == "moe" else "bf16")


GPU_REFERENCE_RATES = {
    "fp32_tflops": "fp32",
    "bf16_dense_tflops": "bf16",
    "fp8_dense_tflops": "fp8",
    "int8_dense_tops": "int8",
    "int4_dense_tops": "int4",
}
GPU_REFERENCE_KEYS = {
    "memory_gb": "memory_gb",
    "memory_bandwidth_gbps": "memory_bandwidth_gbps",
    "interconnect_bw_gbps": "interconnect_bw_gbps",
    "tdp_w": "tdp_w",
    "fp8_supported": "fp8_native",
    "int4_supported": "int4_native",
}
# deliberate departures from the reference, each explained in the catalog's notes
GPU_DEPARTURES = {("rtx-5090", "fp8_dense_tflops")}
# GPUs the reference does not list, each with its own sources in the catalog entry
# (test_every_shipped_source_names_where_it_comes_from holds them to an address each)
GPUS_BEYOND_REFERENCE = {"b300"}


def test_gpus_match_the_reference() -> None:
    reference = _reference("gpus.toml")["gpus"]
    catalog = default_catalog()
    assert set(reference) == set(catalog.gpus) - GPUS_BEYOND_REFERENCE
    assert GPUS_BEYOND_REFERENCE <= set(catalog.gpus)
    for gpu_id, facts in reference.items():
        gpu = catalog.gpu(gpu_id)
        for ref_key, field in GPU_REFERENCE_KEYS.items():
            assert getattr(gpu, field) == facts[ref_key], (gpu_id, ref_key)
        for ref_key, precision in GPU_REFERENCE_RATES.items():
            if ref_key in facts and (gpu_id, ref_key) not in GPU_DEPARTURES:
                assert gpu.tflops[precision] == facts[ref_key], (gpu_id, ref_key)
        prices = [v for k, v in facts.items() if k.endswith("price_usd") and isinstance(v, int)]
        assert gpu.price_usd == (prices[0] if prices else None), gpu_id
        assert (gpu.cloud_usd_per_hour is None) == ("unknown" in facts["cloud_usd_per_gpu_hr"])
