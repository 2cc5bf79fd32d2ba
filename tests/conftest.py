"""Fixtures shared by several test files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from r1rules.catalog._catalog import shipped_rules_dir
from r1rules.engine import set_rule_set_limit

# The test run builds far more distinct rule sets in one process than a service should
# (each test's own rule folder); the production cap (256) is tested in test_rule_set_cap.
set_rule_set_limit(100_000)


@pytest.fixture
def rules_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the shipped rule files (not the catalog, which the loader always includes)
    in ``<tmp>/rules``, with ``<tmp>`` as the working directory."""
    folder = tmp_path / "rules"
    folder.mkdir()
    for file in sorted(shipped_rules_dir().glob("*.toml")):
        shutil.copy(file, folder / file.name)
    monkeypatch.chdir(tmp_path)
    return folder
