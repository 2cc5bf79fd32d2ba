"""What the command refuses beyond the rules: rule files as options give them, and loads
beyond any real deployment."""

from __future__ import annotations

from r1rules._errors import RuleError, WorkloadError
from r1rules.check import load_rules
from r1rules.recommend import Recommendation, resolve_rules
from r1rules.ruleset import RuleSet

__all__ = ["MAX_GPUS", "beyond_any_deployment", "check_deployable", "rules_option"]

# The largest GPU fleets announced (2025) are a few hundred thousand GPUs: an answer of more
# than a million GPUs is a workload no one deploys (a typo in peak_qps, most likely).
MAX_GPUS = 1_000_000


def rules_option(path: str | None, *, no_shipped: bool = False) -> RuleSet:
    """The rules a ``--rules`` option names: layered on the shipped rules (as ``r1rules
    check --layered`` checks them), or alone with ``--no-shipped``; the shipped rules for
    None. A file that repeats a shipped table is refused with a hint to ``--no-shipped``;
    ``--no-shipped`` alone (no files to use instead) is refused."""
    if path is None:
        if no_shipped:
            raise WorkloadError(
                "--no-shipped needs --rules DIR: the rule files to use instead of the shipped rules"
            )
        return resolve_rules(None)
    if no_shipped:
        return resolve_rules(path)
    try:
        return load_rules(path, include_shipped=True)
    except RuleError as exc:
        if "duplicate" in str(exc):
            raise WorkloadError(
                f"{exc}\n  (--rules layers the files on the shipped rules; give --no-shipped "
                "to use only these files, e.g. a whole copy of the shipped rules)"
            ) from None
        raise


def beyond_any_deployment(rec: Recommendation) -> WorkloadError | None:
    """The error for a recommendation of more than MAX_GPUS GPUs, else None."""
    count = rec.gpu.count
    if count <= MAX_GPUS:
        return None
    return WorkloadError(
        f"peak_qps: {rec.workload.peak_qps:g} requests/s needs {count:,} GPUs "
        f"({rec.gpu.id}), beyond any real deployment (more than {MAX_GPUS:,}); "
        "check peak_qps, or split the load"
    )


def check_deployable(rec: Recommendation) -> Recommendation:
    """``rec`` as it is; raises WorkloadError when it needs more than MAX_GPUS GPUs."""
    error = beyond_any_deployment(rec)
    if error is not None:
        raise error
    return rec
