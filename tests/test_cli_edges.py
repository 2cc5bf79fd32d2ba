"""The command at its edges: closed pipes, SIGTERM, layered --rules, failed sweeps, loads
beyond any deployment, enum case, --version, and the catalog listings."""

from __future__ import annotations

import csv
import importlib.metadata
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, ClassVar, cast

import pytest

import r1rules
from r1rules.catalog import Catalog
from r1rules.cli._catalog_cmd import gpu_rows
from r1rules.cli._limits import MAX_GPUS
from r1rules.cli._main import main

ROOT = Path(__file__).resolve().parents[1]
BASIC = str(ROOT / "examples" / "basic.toml")
COMMAND = [sys.executable, "-m", "r1rules"]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# -- a closed pipe ends quietly ------------------------------------------------------------


def test_stdout_closed_before_any_write_ends_quietly() -> None:
    """`r1rules evaluate ... --json | head -1` with head already gone: no internal error."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(
            [*COMMAND, "evaluate", BASIC, "--json"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    finally:
        os.close(write_end)
    assert done.returncode in (0, 141)
    assert done.stderr == ""


def test_stdout_closed_after_the_first_line_ends_quietly() -> None:
    """A reader that takes one line and closes the pipe, with more than a pipe buffer
    (64 KiB) still to write."""
    argv = [*COMMAND, "evaluate", BASIC]
    argv += ["--why-not", "edition-enterprise-by-size"] * 400
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process:
        assert process.stdout is not None and process.stderr is not None
        assert process.stdout.readline().startswith(b"r1rules recommendation")
        process.stdout.close()
        code = process.wait(timeout=120)
        err = process.stderr.read()
    assert (code, err) in ((0, b""), (141, b""))


class _ClosedPipe(io.StringIO):
    def write(self, _text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


def test_a_broken_pipe_is_exit_141_not_an_internal_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdout", _ClosedPipe())
    assert main(["evaluate", BASIC, "--json"]) == 141
    assert capsys.readouterr().err == ""


# -- SIGTERM in a sweep --------------------------------------------------------------------

SWEEP_GRID = """
[workload]
model = "deepseek-r1-distill-qwen-7b"
[grid]
peak_qps = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
latency_ms = [100, 200, 300, 400, 500, 600, 700, 800, 900, 1000]
prompt_tokens = [128, 512, 2048, 8192, 32768, 65536, 100000, 120000]
output_tokens = [64, 256, 1024, 4096, 16384]
"""
# The sweep with journal blocks of 1,000 rows per process (the default 8,192 would make this
# grid one block), so that SIGTERM lands between journal writes.
SMALL_BLOCKS = (
    "import sys, r1rules.cli._sweep_cmd as m; m.BLOCK_PER_PROCESS = 1000; "
    "from r1rules.cli import main; sys.exit(main(sys.argv[1:]))"
)


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _gone(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def test_sigterm_keeps_the_journal_stops_the_workers_and_resume_finishes(
    tmp_path: Path,
) -> None:
    grid = tmp_path / "grid.toml"
    grid.write_text(SWEEP_GRID, encoding="utf-8")
    output = tmp_path / "plan.csv"
    journal = tmp_path / ".plan.csv.partial"
    argv = [sys.executable, "-c", SMALL_BLOCKS, "sweep", str(grid), "-o", str(output)]
    argv += ["--workers", "2", "--no-progress"]
    with subprocess.Popen(argv, stderr=subprocess.PIPE, text=True) as process:
        code, err, workers = _terminate_mid_sweep(process, journal)
    assert code == 143
    assert "sweep terminated (SIGTERM)" in err and "--resume" in err
    assert "internal error" not in err and "Traceback" not in err
    assert not output.exists()
    kept = journal.read_text(encoding="utf-8").splitlines()
    assert len(kept) >= 2000 and all(json.loads(line) for line in kept)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not all(_gone(pid) for pid in workers):
        time.sleep(0.05)
    assert all(_gone(pid) for pid in workers)

    resumed = subprocess.run(
        [*argv, "--resume"], stderr=subprocess.PIPE, text=True, timeout=300, check=False
    )
    assert resumed.returncode == 0, resumed.stderr
    assert f"{len(kept):,} reused" in resumed.stderr
    with output.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    keys = [(r["peak_qps"], r["latency_ms"], r["prompt_tokens"], r["output_tokens"]) for r in rows]
    assert len(keys) == 4000 and len(set(keys)) == 4000  # every row, exactly once
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grid.toml", "plan.csv"]


def _terminate_mid_sweep(
    process: subprocess.Popen[str], journal: Path
) -> tuple[int, str, list[int]]:
    """SIGTERM once the journal holds a block; the exit code, stderr and the workers."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if journal.exists() and journal.read_bytes().count(b"\n") >= 2000:
            break
        time.sleep(0.02)
    assert process.poll() is None, "the sweep ended before it could be terminated"
    workers = _children(process.pid)
    assert workers  # the sweep really runs worker processes
    process.send_signal(signal.SIGTERM)
    err = process.communicate(timeout=120)[1]
    return process.returncode, err, workers


# -- --rules layers on the shipped rules ---------------------------------------------------

TEAM_TABLE = """
[[tables]]
id = "team-notes"
title = "Our team's notes"
hit_policy = "collect"

  [[tables.rules]]
  id = "team-note-production"
  title = "Production deployments need a quota"
  source = "team policy"
  why = "The platform team allocates GPUs by quota."
  when = { stage = "production" }
  note = "Ask the platform team for a GPU quota first."
"""


@pytest.fixture()
def team(tmp_path: Path) -> Path:
    folder = tmp_path / "team"
    folder.mkdir()
    (folder / "50-team.toml").write_text(TEAM_TABLE, encoding="utf-8")
    return folder


def test_rules_that_only_add_a_table_are_layered_on_the_shipped_rules(
    capsys: pytest.CaptureFixture[str], team: Path
) -> None:
    enterprise = str(ROOT / "examples" / "enterprise.toml")
    code, out, err = run(capsys, "evaluate", enterprise, "--rules", str(team), "--json")
    assert (code, err) == (0, "")
    data = json.loads(out)
    assert data["edition"] == "enterprise"
    assert {
        "text": "Ask the platform team for a GPU quota first.",
        "rule_id": "team-note-production",
    } in data["notes"]
    # the same files as `check --layered` sees them: nothing wrong
    assert run(capsys, "check", str(team), "--layered")[0] == 0
    # alone, they are not a rule set
    code, out, err = run(capsys, "evaluate", enterprise, "--rules", str(team), "--no-shipped")
    assert code == 2 and out == "" and "no rule sets 'edition'" in err


def test_a_sweep_layers_its_rules_too(
    capsys: pytest.CaptureFixture[str], team: Path, tmp_path: Path
) -> None:
    out = tmp_path / "plan.jsonl"
    argv = ["sweep", "--model", "r1", "--peak-qps", "1,2", "--latency-ms", "1000"]
    assert main([*argv, "-o", str(out), "--rules", str(team), "--workers", "1"]) == 0
    assert [json.loads(line)["edition"] for line in out.read_text().splitlines()] == [
        "enterprise",
        "enterprise",
    ]
    capsys.readouterr()


def test_a_file_repeating_a_shipped_table_points_at_no_shipped(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    copy = tmp_path / "copy"
    copy.mkdir()
    shipped = (ROOT / "rules" / "10-edition.toml").read_text(encoding="utf-8")
    (copy / "10-edition.toml").write_text(shipped, encoding="utf-8")
    code, _, err = run(capsys, "evaluate", BASIC, "--rules", str(copy))
    assert code == 2 and "duplicate" in err and "--no-shipped" in err


# -- sweeps whose rows fail ----------------------------------------------------------------


def test_a_sweep_whose_every_row_failed_exits_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "plan.csv"
    argv = ["sweep", "--model", "deepseek-r1-distill-qwen-7b", "--peak-qps", "1,2"]
    argv += ["--latency-ms", "1000", "-o", str(out), "--workers", "1"]
    code, _, err = run(capsys, *argv, "--prompt-tokens", "200000")
    assert code == 2
    assert "2 with errors" in err and "every row of the sweep failed (2 rows)" in err
    assert len(out.read_text(encoding="utf-8").splitlines()) == 3  # the rows, each its error
    # some rows failing is still a sweep: exit 0, the count said
    code, _, err = run(capsys, *argv, "--prompt-tokens", "1024,200000")
    assert code == 0 and "2 with errors" in err and "every row" not in err


# -- loads beyond any real deployment ------------------------------------------------------


def test_a_load_needing_more_than_a_million_gpus_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    argv = ["--model", "deepseek-r1", "--latency-ms", "1000"]
    code, out, err = run(capsys, "evaluate", *argv, "--peak-qps", "1e7")
    assert code == 2 and out == ""
    assert err.startswith("r1rules: error: peak_qps: 1e+07 requests/s needs ")
    assert f"more than {MAX_GPUS:,}" in err
    count = int(err.split(" needs ")[1].split(" GPUs")[0].replace(",", ""))
    assert count > MAX_GPUS
    assert run(capsys, "evaluate", *argv, "--peak-qps", "100")[0] == 0
    # in a sweep, such a point is an error row
    plan = tmp_path / "plan.jsonl"
    code, _, err = run(capsys, "sweep", *argv, "--peak-qps", "100,1e7", "-o", str(plan))
    rows = [json.loads(line) for line in plan.read_text(encoding="utf-8").splitlines()]
    assert code == 0 and rows[0]["error"] is None
    assert rows[1]["gpu_count"] is None and "beyond any real deployment" in rows[1]["error"]


# -- enum values, any case -----------------------------------------------------------------


def test_enum_values_are_case_insensitive(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["evaluate", "--model", "deepseek-r1", "--peak-qps", "10", "--latency-ms", "1000"]
    argv += ["--precision", "FP8", "--stage", "Production", "--kv-cache-precision", " BF16"]
    code, out, err = run(capsys, *argv, "--json")
    assert (code, err) == (0, "")
    workload = json.loads(out)["workload"]
    assert (workload["precision"], workload["stage"], workload["kv_cache_precision"]) == (
        "fp8",
        "production",
        "bf16",
    )
    assert r1rules.Workload(params_b=7, peak_qps=1, latency_ms=9, stage="DEVELOPMENT").stage == (
        "development"
    )
    code, _, err = run(capsys, *argv[:7], "--precision", "fp9")
    assert code == 2 and "precision: 'fp9' is not allowed" in err


# -- --version, models, gpus ---------------------------------------------------------------


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--version")
    assert (code, out, err) == (0, f"r1rules {r1rules.__version__}\n", "")
    assert importlib.metadata.version("r1rules") == r1rules.__version__


def test_models_lists_the_catalog(capsys: pytest.CaptureFixture[str]) -> None:
    catalog = r1rules.default_catalog()
    code, out, err = run(capsys, "models", "--json")
    assert (code, err) == (0, "")
    models = json.loads(out)["models"]
    assert [m["id"] for m in models] == list(catalog.model_ids())
    r1 = next(m for m in models if m["id"] == "deepseek-r1")
    assert r1["aliases"] == ["r1"] and r1["total_params_b"] == 671 and r1["source"]
    code, out, _ = run(capsys, "models")
    lines = out.splitlines()
    assert code == 0 and lines[0].split()[:3] == ["id", "aliases", "params"]
    assert "source" in lines[0] and len(lines) == 1 + len(models)
    assert any(line.startswith("deepseek-r1 ") and "37B active" in line for line in lines)


def test_gpus_lists_the_catalog_with_prices_and_sources(
    capsys: pytest.CaptureFixture[str],
) -> None:
    catalog = r1rules.default_catalog()
    code, out, err = run(capsys, "gpus", "--json")
    assert (code, err) == (0, "")
    gpus = json.loads(out)["gpus"]
    assert [g["id"] for g in gpus] == list(catalog.gpu_ids())
    assert all(g["source"] and g["memory_gb"] > 0 for g in gpus)
    h100 = next(g for g in gpus if g["id"] == "h100-sxm")
    assert h100["memory_gb"] == 80 and "h100" in h100["aliases"]
    code, out, _ = run(capsys, "gpus")
    lines = out.splitlines()
    assert code == 0 and lines[0].split() == [
        "id",
        "aliases",
        "memory",
        "bandwidth",
        "price",
        "source",
    ]
    assert len(lines) == 1 + len(gpus)


class _Price:
    purchase_usd = 30_000.0
    purchase_date = "2025-06"
    purchase_status = "quoted"
    purchase_source = "a vendor quote"


class _Prices:
    gpus: ClassVar[dict[str, _Price]] = {"h100-sxm": _Price()}


class _PricedCatalog:
    """A catalog with a price list, as the catalog gets one (``prices.gpus[id]``)."""

    def __init__(self, catalog: Catalog) -> None:
        self.gpus, self.prices = catalog.gpus, _Prices()
        self.gpu_ids = catalog.gpu_ids


def test_a_price_list_gives_the_price_its_date_and_source() -> None:
    rows = gpu_rows(cast(Catalog, _PricedCatalog(r1rules.default_catalog())))
    h100: dict[str, Any] = next(r for r in rows if r["id"] == "h100-sxm")
    assert h100["price"] == {
        "purchase_usd": 30_000.0,
        "purchase_date": "2025-06",
        "purchase_status": "quoted",
        "source": "a vendor quote",
    }
