"""Catalog problems as data: every problem of a catalog load is a ``Problem`` record with its
file, entry, key path and kind, in ``CatalogError.problems``; the message lists their lines.
Inside rule loading (a rule folder's ``catalog/``) the same records reach the RuleError."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
from rulefiles import write_rules

from r1rules import CatalogError, RuleError, load_catalog, load_rules
from r1rules._errors import LOAD_KINDS, Problem
from r1rules.catalog._load import TABLES

GPU = """name = "Test GPU"
vendor = "NVIDIA"
segment = "datacenter"
memory_gb = 80
memory_type = "HBM3"
hbm = true
memory_bandwidth_gbps = 3350
tflops = { fp32 = 67, bf16 = 989, fp16 = 989, fp8 = 1979, int8 = 1979, int4 = 0 }
fp8_native = true
int4_native = false
interconnect = "NVLink"
interconnect_bw_gbps = 900
nvlink_domain = 8
max_per_node = 8
tdp_w = 700
source = "test"
"""

SEVERAL_BAD = (
    "[gpus.h100x]\n"
    + GPU.replace("memory_gb = 80", "memory_gb = -80")
    + 'memroy_type = "HBM3"\n'
    + "[gpus.l4x]\n"
    + GPU.replace('"datacenter"', '"consumr"').replace('source = "test"\n', "")
    + "[models]\nm = 3\n"
    + "[prices]\nx = 1\n"
)


def place(p: Problem) -> tuple[str, str, str, str]:
    return (p.kind, p.file, p.entry, p.key_path)


def test_a_file_with_several_bad_entries_gives_one_error_of_records(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(SEVERAL_BAD, encoding="utf-8")
    missing = tmp_path / "missing.toml"
    with pytest.raises(CatalogError) as caught:
        load_catalog(missing, path, include_default=False)
    problems = caught.value.problems
    file = str(path)
    assert [place(p) for p in problems] == [
        ("unreadable", str(missing), "", ""),
        ("invalid", file, "GPU 'h100x'", "memory_gb"),
        ("unknown-name", file, "GPU 'h100x'", "memroy_type"),
        ("invalid", file, "GPU 'l4x'", "segment"),
        ("load", file, "GPU 'l4x'", "source"),
        ("invalid", file, "model 'm'", ""),
        ("unknown-name", file, "", "prices"),
    ]
    assert all(p.severity == "error" and p.kind in LOAD_KINDS for p in problems)
    assert problems[1].message == "expected a positive number, got -80"
    assert problems[3].message.startswith("unknown value 'consumr' (did you mean 'consumer'?)")
    # The human message is as before: a head, then every problem on a line of its own.
    assert str(caught.value) == "7 problems in the catalog:\n" + "\n".join(
        f"  {p.line}" for p in problems
    )
    assert str(caught.value).splitlines()[2] == (
        f"  {file}: GPU 'h100x': memory_gb: expected a positive number, got -80"
    )
    assert str(caught.value).splitlines()[-1] == (
        f"  {file}: prices: unknown table (did you mean 'gpu_prices'?); "
        "allowed: assumptions, engine_profiles, engines, fabrics, gpu_prices, gpus, hosts, "
        "meta, models"
    )
    back = pickle.loads(pickle.dumps(caught.value))
    assert back.problems == problems and str(back) == str(caught.value)


def test_merge_problems_are_records_too(tmp_path: Path) -> None:
    clash = tmp_path / "1-clash.toml"
    clash.write_text('[gpus.mine]\naliases = ["H100"]\n' + GPU, encoding="utf-8")
    again = tmp_path / "2-again.toml"
    again.write_text(
        "[gpus.mine]\n" + GPU + "[gpus.nothere]\nreplace = true\n" + GPU, encoding="utf-8"
    )
    with pytest.raises(CatalogError) as caught:
        load_catalog(tmp_path)
    assert [place(p) for p in caught.value.problems] == [
        ("load", str(again), "GPU 'mine'", ""),
        ("unknown-name", str(again), "GPU 'nothere'", ""),
        ("load", str(clash), "GPU 'mine'", "aliases[0]"),
    ]
    assert caught.value.problems[2].message == "'H100' already names GPU 'h100-sxm'"


def test_the_top_level_tables_are_one_mapping() -> None:
    assert list(TABLES) == [
        "models",
        "gpus",
        "gpu_prices",
        "hosts",
        "fabrics",
        "assumptions",
        "engines",
        "engine_profiles",
        "meta",
    ]
    assert TABLES["meta"] is None
    kinds = {top: entry.kind for top, entry in TABLES.items() if entry is not None}
    assert kinds == {
        "models": "model",
        "gpus": "gpu",
        "gpu_prices": "gpu_price",
        "hosts": "host",
        "fabrics": "fabric",
        "assumptions": "assumptions",
        "engines": "engine",
        "engine_profiles": "engine_profile",
    }


def test_a_bad_catalog_in_a_rule_folder_reaches_load_rules_as_records(tmp_path: Path) -> None:
    folder = write_rules(tmp_path / "rules")
    catalog = folder / "catalog"
    catalog.mkdir()
    extra = catalog / "extra.toml"
    extra.write_text("[gpus.z]\n" + GPU.replace('name = "Test GPU"', "name = 1"), encoding="utf-8")
    (catalog / "odd.toml").write_text("[gpu.y]\nname = 'Y'\n", encoding="utf-8")
    with pytest.raises(RuleError) as caught:
        load_rules(folder)
    assert [place(p) for p in caught.value.problems] == [
        ("invalid", str(extra), "GPU 'z'", "name"),
        ("unknown-name", str(catalog / "odd.toml"), "", "gpu"),
    ]
    assert all(p.file for p in caught.value.problems)
    assert caught.value.problems[0].line == (
        f"{extra}: GPU 'z': name: expected a non-empty string, got 1"
    )
