"""r1rules plot: the load and Pareto charts, to PNG and SVG; their numbers; the errors."""

from __future__ import annotations

import itertools
import math
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import attrs
import pytest
import tomli
from matplotlib.image import imread

import r1rules
from r1rules.cli._main import main
from r1rules.cli._plot_data import load_chart, loads, pareto_chart

ROOT = Path(__file__).resolve().parents[1]
PROFESSIONAL = str(ROOT / "examples" / "professional.toml")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SVG = "{http://www.w3.org/2000/svg}"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def professional() -> r1rules.Recommendation:
    return r1rules.evaluate(r1rules.Workload(**tomli.loads(Path(PROFESSIONAL).read_text())))


@pytest.mark.parametrize("kind", ["load", "pareto"])
def test_each_chart_renders_to_a_png(
    kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / f"{kind}.png"
    code, out, err = run(capsys, "plot", PROFESSIONAL, "-o", str(output), "--kind", kind)
    assert (code, err) == (0, "") and str(output) in out
    data = output.read_bytes()
    assert data[:8] == PNG_SIGNATURE and len(data) > 20_000
    image = imread(output)
    height, width, channels = image.shape
    assert 500 <= height <= 2_000 and 800 <= width <= 2_500 and channels in (3, 4)
    assert float(image[..., :3].std()) > 0.05  # drawn on, not a blank canvas
    assert not list(tmp_path.glob(".*partial"))  # written whole, nothing left beside it


@pytest.mark.parametrize("kind", ["load", "pareto"])
def test_each_chart_renders_to_an_svg_with_its_text(
    kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / f"{kind}.SVG"  # the suffix in any case
    code, _, err = run(
        capsys, "plot", PROFESSIONAL, "-o", str(output), "--kind", kind, "--points", "6"
    )
    assert (code, err) == (0, "")
    root = ET.parse(output).getroot()
    assert root.tag == f"{SVG}svg"
    texts = " ".join(t for e in root.iter(f"{SVG}text") for t in e.itertext())
    rec = professional()
    assert rec.gpu.id in texts and "the answer" in texts
    assert ("peak load (requests/s)" if kind == "load" else "tokens/s per user") in texts
    # the same chart twice is the same file (no date, fixed ids)
    first = output.read_bytes()
    assert (
        run(capsys, "plot", PROFESSIONAL, "-o", str(output), "--kind", kind, "--points", "6")[0]
        == 0
        and output.read_bytes() == first
    )


def test_the_load_chart_numbers() -> None:
    rec = professional()
    rules = rec.rules
    chart = load_chart(rec, rules, 1.0, 1000.0, 7)
    assert chart.qps == (1.0, 3.162, 10.0, 31.62, 100.0, 316.2, 1000.0)
    gpus = [s.gpu for s in chart.series]
    assert gpus == [o.gpu for o in rec.options if not o.quantized]  # rank order at 28 QPS
    for series in chart.series:
        counts = [c for c in series.gpu_count if c is not None]
        assert counts == sorted(counts) and len(counts) == len(chart.qps)  # more load, more GPUs
    # the answer at each load is the rules' answer there
    for q, answer in zip(chart.qps, chart.answers, strict=True):
        there = r1rules.evaluate(attrs.evolve(rec.workload, peak_qps=q), options=False)
        assert answer is not None and answer[:2] == (there.gpu.id, there.gpu.count)
    # the editions cover the range in order; at each boundary the edition changes
    assert [e for _, _, e in chart.editions] == ["professional", "enterprise"]
    assert chart.editions[0][0] == 1.0 and chart.editions[-1][1] == 1000.0
    edge = chart.editions[1][0]
    assert chart.editions[0][1] == edge
    for factor, edition in ((1.01, "enterprise"), (1 / 1.01, "professional")):
        moved = attrs.evolve(rec.workload, peak_qps=edge * factor)
        assert r1rules.evaluate(moved, options=False).edition == edition
    assert chart.chosen == rec.chosen and chart.workload_qps == 28.0


def test_the_pareto_front_is_the_cheapest_for_its_speed() -> None:
    rec = professional()
    chart = pareto_chart(rec)
    assert chart.options == rec.options and chart.chosen == rec.chosen
    assert chart.chosen_speed == pytest.approx(1000.0 / rec.chosen.tpot_ms)
    front = [chart.options[i] for i in chart.front]
    assert len(front) >= 2 and all(o.meets_targets and not o.excluded_by for o in front)
    speeds = [chart.speed[i] for i in chart.front]
    costs = [o.capital_usd or 0.0 for o in front]
    assert speeds == sorted(speeds) and costs == sorted(costs)  # faster costs more
    for i, option in enumerate(chart.options):  # no option beats a front member on both
        if option.capital_usd is None or not option.meets_targets or option.excluded_by:
            continue
        for j in chart.front:
            cost = chart.options[j].capital_usd
            assert cost is not None
            assert not (option.capital_usd < cost and chart.speed[i] > chart.speed[j])


def test_loads_are_even_on_a_log_scale() -> None:
    found = loads(0.5, 5000.0, 5)
    assert found == (0.5, 5.0, 50.0, 500.0, 5000.0)
    ratios = [b / a for a, b in itertools.pairwise(found)]
    assert all(math.isclose(r, 10.0, rel_tol=1e-3) for r in ratios)


# -- errors --------------------------------------------------------------------------------


def test_an_unknown_image_suffix_is_refused_naming_the_formats(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "chart.pdf"
    code, out, err = run(capsys, "plot", PROFESSIONAL, "-o", str(output))
    assert (code, out) == (2, "")
    assert "--output: 'chart.pdf' has no image format suffix; use .png or .svg" in err
    assert not output.exists()


def test_without_matplotlib_it_says_how_to_install_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` fails
    output = tmp_path / "chart.png"
    code, out, err = run(capsys, "plot", PROFESSIONAL, "-o", str(output))
    assert (code, out) == (2, "")
    assert err == "r1rules: error: r1rules plot needs matplotlib: pip install 'r1rules[plot]'\n"
    assert not output.exists()
    # ... and every other command works without it
    assert run(capsys, "evaluate", PROFESSIONAL)[0] == 0


def test_the_command_does_not_import_matplotlib_until_it_plots() -> None:
    code = (
        "import sys, r1rules, r1rules.cli._main; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'matplotlib'))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--qps-min", "10", "--qps-max", "1"], "--qps-min 10 must be below --qps-max 1"),
        (["--qps-min", "0"], "--qps-min: expected a positive number of requests/s; got 0"),
        (["--qps-max", "nan"], "--qps-max: expected a positive number of requests/s"),
        (["--points", "1"], "--points: expected a whole number from 2 to 200; got 1"),
    ],
)
def test_a_bad_load_range_is_refused(
    options: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "chart.png"
    code, _, err = run(capsys, "plot", PROFESSIONAL, "-o", str(output), *options)
    assert code == 2 and message in err and not output.exists()


def test_an_unwritable_output_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "no-such-folder" / "chart.svg"
    code, _, err = run(capsys, "plot", PROFESSIONAL, "-o", str(output), "--kind", "pareto")
    assert code == 2 and f"--output: cannot write {output}" in err


def test_a_range_where_nothing_can_be_deployed_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "chart.png"
    code, _, err = run(
        capsys, "plot", PROFESSIONAL, "-o", str(output), "--qps-min", "1e8", "--qps-max", "1e9"
    )
    assert code == 2 and "no load from 1e+08 to 1e+09 requests/s could be evaluated" in err
    assert not output.exists()


def test_a_load_given_as_concurrent_requests_is_charted_in_requests_per_second() -> None:
    workload = r1rules.Workload(model="deepseek-r1", latency_ms=2000, concurrent_requests=200)
    rec = r1rules.evaluate(workload)
    chart = load_chart(rec, rec.rules, 0.1, 10.0, 3)
    assert all(answer is not None for answer in chart.answers) and chart.series
    assert chart.workload_qps == rec.workload.peak_qps
