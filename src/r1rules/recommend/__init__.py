"""Recommendations: evaluate, the Recommendation value, its report and explanations, batches."""

from r1rules.recommend._batch import Batch, evaluate_many, worker_count
from r1rules.recommend._boundaries import Boundary
from r1rules.recommend._evaluate import estimate, evaluate, resolve_rules
from r1rules.recommend._options import Option
from r1rules.recommend._recommendation import GpuChoice, Justification, Message, Recommendation

__all__ = [
    "Batch",
    "Boundary",
    "GpuChoice",
    "Justification",
    "Message",
    "Option",
    "Recommendation",
    "estimate",
    "evaluate",
    "evaluate_many",
    "resolve_rules",
    "worker_count",
]
