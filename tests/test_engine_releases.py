"""Engine profiles name the oldest release they were fitted on (``since``), and a version
text reads as a release number."""

from __future__ import annotations

from pathlib import Path

import pytest

import r1rules
from r1rules import CatalogError, load_catalog
from r1rules.catalog import FIGURES, default_catalog, release


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("v0.21.0rc2 (built from source)", (0, 21, 0)),
        ("0.17.post1.dev (commit 9b931c0f)", (0, 17)),
        ("1.3.0rc14", (1, 3, 0)),
        ("0.5.12 (lmsysorg/sglang:v0.5.12-cu130)", (0, 5, 12)),
        ("1.0 (docs)", (1, 0)),
        ("unknown", None),
        ("NIM 1.8.0", None),  # another product's number, not the engine's
        ("commit b6261862", None),
        ("", None),
    ],
)
def test_a_version_text_reads_as_the_release_it_starts_with(
    text: str, expected: tuple[int, ...] | None
) -> None:
    assert release(text) == expected


def test_releases_order_as_numbers_not_as_text() -> None:
    old, new = release("0.9.2"), release("0.21.0")
    assert old is not None and new is not None and old < new


def test_every_fitted_data_center_profile_names_its_oldest_release() -> None:
    for engine in default_catalog().engines.values():
        for profile in engine.profiles.values():
            fitted = any(s.startswith("fitted") for s in profile.sources.values())
            if fitted and engine.id != "llama.cpp":  # llama.cpp builds carry no release
                assert profile.since is not None and release(profile.since) is not None


def _profile_file(tmp_path: Path, since: str) -> Path:
    shipped = default_catalog().engine("vllm").profiles["NVIDIA datacenter"]
    figures = "".join(f"{name} = {getattr(shipped, name)!r}\n" for name in FIGURES)
    sources = ", ".join(f"{name} = 's'" for name in dict(shipped.sources))
    path = tmp_path / "engines.toml"
    path.write_text(
        '[engine_profiles.vllm-nvidia-datacenter]\nreplace = true\nengine = "vllm"\n'
        f'vendor = "NVIDIA"\nsegment = "datacenter"\nsince = {since}\n{figures}'
        f"sources = {{ {sources} }}\n",
        encoding="utf-8",
    )
    return path


def test_a_since_that_is_no_release_number_is_a_problem_naming_it(tmp_path: Path) -> None:
    with pytest.raises(CatalogError) as caught:
        load_catalog(_profile_file(tmp_path, '"latest"'))
    (problem,) = caught.value.problems
    assert (problem.entry, problem.key_path) == (
        "engine profile 'vllm-nvidia-datacenter'",
        "since",
    )
    assert "a release number" in problem.message and "'latest'" in problem.message
    catalog = load_catalog(_profile_file(tmp_path, '"0.11"'))
    assert catalog.engine("vllm").profiles["NVIDIA datacenter"].since == "0.11"


def test_the_report_names_the_release_line_of_the_engines_profile() -> None:
    def engine_line(engine: str) -> str:
        workload = r1rules.Workload(
            model="deepseek-r1-distill-qwen-7b",
            peak_qps=2.0,
            latency_ms=2000,
            gpu="rtx-4090",
            engine=engine,
        )
        report = r1rules.evaluate(workload, options=False).report()
        (line,) = [x for x in report.splitlines() if x.strip().startswith("engine ")]
        return line

    since = default_catalog().engine("sglang").profiles["NVIDIA consumer"].since
    assert since is not None
    assert engine_line("sglang").endswith(f"sglang; profile of releases {since} and later")
    assert engine_line("llama.cpp").split() == ["engine", "llama.cpp"]  # builds, no release
    hopper = r1rules.Workload(
        model="deepseek-r1", peak_qps=2.0, latency_ms=5000, gpu="h200", engine="trtllm"
    )
    report = r1rules.evaluate(hopper, options=False).report()
    (line,) = [x for x in report.splitlines() if x.strip().startswith("engine ")]
    trt = default_catalog().engine("trtllm").profiles["NVIDIA datacenter hopper"]
    assert line.endswith(f"trtllm; its Hopper profile, of releases {trt.since} and later")
