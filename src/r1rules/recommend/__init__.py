"""Recommendations: evaluate, the Recommendation value, its report and explanations, batches."""

from r1rules.recommend._batch import Batch, Outcome
from r1rules.recommend._boundaries import Boundary
from r1rules.recommend._evaluate import estimate, evaluate, resolve_rules
from r1rules.recommend._fleet import Fleet, FleetCapacity, fleet
from r1rules.recommend._many import evaluate_many, worker_count
from r1rules.recommend._options import Option
from r1rules.recommend._recommendation import GpuChoice, Justification, Message, Recommendation
from r1rules.recommend._rows import OPTION_COLUMNS, ROW_COLUMNS, option_row, rows

__all__ = [
    "OPTION_COLUMNS",
    "ROW_COLUMNS",
    "Batch",
    "Boundary",
    "Fleet",
    "FleetCapacity",
    "GpuChoice",
    "Justification",
    "Message",
    "Option",
    "Outcome",
    "Recommendation",
    "estimate",
    "evaluate",
    "evaluate_many",
    "fleet",
    "option_row",
    "resolve_rules",
    "rows",
    "worker_count",
]
