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
  set = { edition = "basic", candidate_gpu = "h100-sxm", upgrade_ladder = [], headroom_fraction = 0.2, max_nodes_per_replica = 4, max_nodes_per_ep_replica = 4, cpu = "any", memory_gb = 64, storage = "any", network = "any" }

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


# Two collect tables: one sets `source` above 300 QPS, a later one copies it above 200 QPS,
# so the copy may read a fact with no value (the checker's unset-copy warning).
UNSET_COPY = """
[[facts]]
name = "source"
type = "number"
description = "set only above 300 QPS"

[[facts]]
name = "copy"
type = "number"
description = "copied above 200 QPS"

[[tables]]
id = "set-source"
title = "set"
hit_policy = "collect"
  [[tables.rules]]
  id = "set-source-1"
  title = "set"
  source = "test"
  why = "test"
  when = { peak_qps = { gt = 300 } }
  set = { source = 1 }

[[tables]]
id = "copy-source"
title = "copy"
hit_policy = "collect"
  [[tables.rules]]
  id = "copy-source-1"
  title = "copy"
  source = "test"
  why = "test"
  when = { peak_qps = { gt = 200 } }
  set = { copy = { fact = "source" } }
  note = "{copy}"
"""


# One table that decides only the edition: a policy missing every other recommendation field.
ONLY_EDITION = """
[[tables]]
id = "e"
title = "edition only"
hit_policy = "unique"
  [[tables.rules]]
  id = "e1"
  title = "all basic"
  source = "test"
  why = "test"
  set = { edition = "basic" }
"""


def write_rules(folder: Path, *extra: str, minimal: bool = True) -> Path:
    """Write the minimal policy (optionally) and extra rule files into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    if minimal:
        (folder / "00-minimal.toml").write_text(MINIMAL, encoding="utf-8")
    for i, text in enumerate(extra, 1):
        (folder / f"{i:02d}-extra.toml").write_text(text, encoding="utf-8")
    return folder
