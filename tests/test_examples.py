"""Every shipped example runs and gives the edition its name promises."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

from r1rules.cli._main import main

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


WORKLOADS = {
    "basic.toml": "basic",
    "professional.toml": "professional",
    "enterprise.toml": "enterprise",
    "r1-full.toml": "enterprise",
}
SWEEPS = {"sweep.toml"}


def test_every_example_file_is_exercised() -> None:
    assert {p.name for p in EXAMPLES.glob("*.toml")} == set(WORKLOADS) | SWEEPS


@pytest.mark.parametrize("name", sorted(WORKLOADS))
def test_workload_examples_evaluate(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", str(EXAMPLES / name)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[2].split() == ["edition", WORKLOADS[name]]


def test_embedding_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    runpy.run_path(str(EXAMPLES / "embed.py"), run_name="__main__")
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4 and lines[-1].startswith("8 x H200, R1 FP8, 64 users: TPOT ")
