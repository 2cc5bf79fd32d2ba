"""Physics: memory, rooflines, placement and sizing, estimates for a deployment."""

from r1rules.physics._cost import HOURS_PER_YEAR, Cost, cost_of
from r1rules.physics._efficiency import with_overhead
from r1rules.physics._estimates import Estimates, estimate_deployment, estimate_in
from r1rules.physics._memory import kv_cache_bytes_per_token, usable_gb_per_gpu, weights_gb
from r1rules.physics._sizing import SIZING_CACHE_SIZE, Sizing, size

__all__ = [
    "HOURS_PER_YEAR",
    "SIZING_CACHE_SIZE",
    "Cost",
    "Estimates",
    "Sizing",
    "cost_of",
    "estimate_deployment",
    "estimate_in",
    "kv_cache_bytes_per_token",
    "size",
    "usable_gb_per_gpu",
    "weights_gb",
    "with_overhead",
]
