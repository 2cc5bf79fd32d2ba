"""Catalog figures are bounded and catalog texts are plain: a figure no hardware has, or a
text with a terminal escape, is refused where it is written (file, entry, key, range),
not met later as an overflow or a coloured report. The same holds for a config.json and
the arguments of ``model_from_hf_config``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attrs
import pytest
from hfconfigs import LLAMA_CONFIG, R1_CONFIG

from r1rules import CatalogError, model_from_hf_config
from r1rules.catalog import default_catalog, load_catalog

CATALOG = default_catalog()
H100 = CATALOG.gpu("h100-sxm")
QWEN_7B = CATALOG.model("deepseek-r1-distill-qwen-7b")
LLAMA = LLAMA_CONFIG


@pytest.mark.parametrize(
    ("record", "changes", "message"),
    [
        (H100, {"memory_gb": 1e308}, "memory_gb: expected a number in (0, 1e+06], got 1e+308"),
        (
            H100,
            {"tflops": {**H100.tflops, "bf16": 2e6}},
            "tflops.bf16: expected 0 or a number in [0.01, 1e+06], got 2000000.0",
        ),
        (H100, {"max_per_node": 1025}, "max_per_node: expected an integer in (0, 1024], got 1025"),
        (H100, {"price_usd": 2e9}, "price_usd: expected a number in (0, 1e+09], got 2000000000.0"),
        (
            QWEN_7B,
            {"total_params_b": 1e308},
            "total_params_b: expected a number in (0, 10000], got 1e+308",
        ),
        (
            QWEN_7B,
            {"vocab_size": 10**5000},
            "vocab_size: expected an integer in (0, 1e+09], got an integer of 5001 digits",
        ),
        (
            H100,
            {"name": "evil\x1b[31m"},
            "name: 'evil\\x1b[31m': contains the control character U+001B; write plain text",
        ),
        (
            H100,
            {"aliases": ("ok", "rtl\u202e")},
            "aliases[1]: 'rtl\\u202e': contains the control character U+202E; write plain text",
        ),
        (
            QWEN_7B,
            {"source": "a\nb"},
            "source: 'a\\nb': contains the control character U+000A; write plain text",
        ),
    ],
    ids=lambda value: str(value)[:20] if isinstance(value, str) else "",
)
def test_records_refuse_figures_beyond_any_hardware_and_escapes(
    record: Any, changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(CatalogError) as caught:
        attrs.evolve(record, **changes)
    assert str(caught.value) == message


def test_catalog_files_name_file_entry_key_and_range(tmp_path: Path) -> None:
    path = tmp_path / "prices.toml"
    path.write_text(
        "[gpu_prices.h100-sxm]\nreplace = true\nhost = 'hgx-8'\npurchase_usd = 1e308\n"
        "purchase_usd_high = 1e308\npurchase_date = '2025'\npurchase_status = 'sourced'\n"
        "purchase_basis = 'x'\npurchase_source = 'y'\nsources = { a = \"b\\u001b\" }\n"
        'cloud_note = "\\u2066"\n',
        encoding="utf-8",
    )
    with pytest.raises(CatalogError) as caught:
        load_catalog(path)
    lines = str(caught.value).splitlines()[1:]
    where = f"  {path}: price of GPU 'h100-sxm'"
    assert lines == [
        f"{where}: purchase_usd: expected a number in (0, 1e+09], got 1e+308",
        f"{where}: purchase_usd_high: expected a number in [0, 1e+09], got 1e+308",
        f"{where}: sources.a: 'b\\x1b': contains the control character U+001B; write plain text",
        f"{where}: cloud_note: '\\u2066': contains the control character U+2066; write plain text",
    ]


def _config(tmp_path: Path, config: dict[str, Any]) -> Path:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("config", "problem"),
    [
        (
            {**LLAMA, "torch_dtype": ["bfloat16"]},
            "torch_dtype: expected a string, got an array; allowed: bfloat16, float16, float32",
        ),
        # DeepSeek's own code builds MoE layers whatever the count: none would route nowhere
        (
            {**R1_CONFIG, "n_routed_experts": 0},
            "n_routed_experts: DeepseekV3ForCausalLM is a mixture of experts: expected a "
            "positive integer, got 0",
        ),
        (
            {**LLAMA, "_name_or_path": "org/bad\x1bname"},
            "_name_or_path: 'org/bad\\x1bname': contains the control character U+001B; "
            "write plain text",
        ),
        (
            {**LLAMA, "max_position_embeddings": 10**12},
            "max_position_embeddings: expected an integer in (0, 1e+09], got 1000000000000",
        ),
    ],
    ids=["dtype-list", "no-routed-experts", "name-escape", "context-too-long"],
)
def test_a_config_json_problem_names_its_key(
    tmp_path: Path, config: dict[str, Any], problem: str
) -> None:
    path = _config(tmp_path, config)
    with pytest.raises(CatalogError) as caught:
        model_from_hf_config(path)
    assert str(caught.value) == f"1 problem in the Hugging Face config:\n  {path}: {problem}"


@pytest.mark.parametrize(
    ("path", "model_id", "message"),
    [
        (5, None, "path: expected a path to a config.json (str or PathLike), got int 5"),
        (None, None, "path: expected a path to a config.json (str or PathLike), got NoneType None"),
        ("", None, "path: expected a path to a config.json, got an empty path"),
        # an empty id is no id: it does not fall back to the folder's name
        ("config.json", "", "model_id: expected a non-empty string, got ''"),
        ("config.json", 7, "model_id: expected a non-empty string, got 7"),
        (
            "config.json",
            "x\x1b[31mRED\u202e",
            "model_id: 'x\\x1b[31mRED\\u202e': contains the control character U+001B; "
            "write plain text",
        ),
    ],
    ids=["int", "none", "empty-path", "empty-id", "int-id", "escape-id"],
)
def test_model_from_hf_config_refuses_bad_arguments_naming_them(
    tmp_path: Path, path: Any, model_id: Any, message: str
) -> None:
    _config(tmp_path, LLAMA)
    if isinstance(path, str) and path:
        path = tmp_path / path
    with pytest.raises(CatalogError) as caught:
        model_from_hf_config(path, model_id=model_id)
    assert str(caught.value) == message
    assert model_from_hf_config(tmp_path, model_id="my-llama").id == "my-llama"
