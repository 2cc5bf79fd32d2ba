"""Rule-file text for tests: a minimal complete policy to build test tables on."""

from __future__ import annotations

from pathlib import Path

# One rule that sets every fact evaluate() and the sizing physics need, so that a test can
# add just the tables it is about.
MINIMAL = """
[[tables]]
id = "base"
title = "Everything a recommendation needs"
hit_policy = "unique"
complete = true

  [[tables.rules]]
  id = "base-all"
  title = "Fixed choices"
  source = "test"
  why = "test fixture"
  set = { edition = "basic", candidate_gpu = "h100-sxm", upgrade_ladder = [], headroom_fraction = 0.2, max_nodes_per_replica = 4, cpu = "any", memory_gb = 64, storage = "any", network = "any" }

[[tables]]
id = "deploy"
title = "Deploy what sizing found"
hit_policy = "unique"
complete = true

  [[tables.rules]]
  id = "deploy-all"
  title = "Sized deployment"
  source = "test"
  why = "test fixture"
  set = { gpu = { fact = "deploy_gpu" }, gpu_count = { fact = "sized_gpu_count" }, nodes = { fact = "sized_nodes" } }
"""


def write_rules(folder: Path, *extra: str, minimal: bool = True) -> Path:
    """Write the minimal policy (optionally) and extra rule files into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    if minimal:
        (folder / "00-minimal.toml").write_text(MINIMAL, encoding="utf-8")
    for i, text in enumerate(extra, 1):
        (folder / f"{i:02d}-extra.toml").write_text(text, encoding="utf-8")
    return folder
