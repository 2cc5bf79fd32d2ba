"""The package installs (wheel and editable) and finds its rules from any directory.

Each test builds into a fresh virtual environment without network access: dependencies
come from the running environment (a .pth file), the build backend (hatchling, a test
extra) is used without build isolation.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

import r1rules

ROOT = Path(__file__).resolve().parents[1]
PROBE = (
    "import r1rules; "
    "rec = r1rules.evaluate(r1rules.Workload(model='deepseek-r1-distill-qwen-7b', "
    "peak_qps=8, latency_ms=500, stage='development', objective='article')); "
    "print(r1rules.__file__); print(rec.edition, rec.gpu.id, len(r1rules.default_rules().rules), "
    "len(r1rules.default_catalog().prices.gpus))"
)


def _venv(where: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True)
    python = where / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    )
    outer = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    Path(site.stdout.strip(), "zz_outer_deps.pth").write_text("\n".join(sorted(outer)) + "\n")
    return python


def _copy_source(where: Path) -> Path:
    ignore = shutil.ignore_patterns(
        ".git",
        ".venv",
        "__pycache__",
        "*.egg-info",
        "build",
        "dist",
        ".hypothesis",
        ".pytest_cache",
    )
    return Path(shutil.copytree(ROOT, where, ignore=ignore))


@pytest.mark.slow
@pytest.mark.parametrize("editable", [False, True], ids=["wheel", "editable"])
def test_install_and_run_from_another_directory(tmp_path: Path, editable: bool) -> None:
    pytest.importorskip("hatchling")
    source = _copy_source(tmp_path / "src")
    python = _venv(tmp_path / "venv")
    target = ["-e", str(source)] if editable else [str(source)]
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            *target,
        ],
        check=True,
        cwd=tmp_path,
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = subprocess.run(
        [str(python), "-c", PROBE], check=True, capture_output=True, text=True, cwd=elsewhere
    )
    location, decision = result.stdout.splitlines()
    if editable:
        assert location.startswith(str(source / "src"))
    else:
        assert location.startswith(str(tmp_path / "venv"))
    edition, gpu, count, priced = decision.split()
    assert (edition, gpu) == ("basic", "rtx-4090") and int(count) > 50
    assert int(priced) == len(r1rules.default_catalog().gpus)  # prices.toml was installed
    cli = subprocess.run(
        [
            str(tmp_path / "venv" / "bin" / "r1rules"),
            "evaluate",
            str(source / "examples" / "basic.toml"),
        ],
        capture_output=True,
        text=True,
        cwd=elsewhere,
    )
    assert cli.returncode == 0, cli.stderr
    assert cli.stdout.splitlines()[2].split() == ["edition", "basic"]
