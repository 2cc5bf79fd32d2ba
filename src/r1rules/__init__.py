"""r1rules: what hardware serves a DeepSeek-R1-family model for a workload, and why.

>>> import r1rules
>>> rec = r1rules.evaluate(r1rules.Workload(model="deepseek-r1-distill-qwen-7b",
...                                          peak_qps=8, latency_ms=500))
>>> rec.edition
'basic'
"""

from r1rules._errors import (
    CatalogError,
    EvaluationError,
    Problem,
    R1RulesError,
    RuleError,
    WorkloadError,
)
from r1rules._workload import Workload
from r1rules.catalog import (
    Catalog,
    Gpu,
    Model,
    PriceList,
    default_catalog,
    load_catalog,
    model_from_hf_config,
)
from r1rules.check import default_rules, load_rules
from r1rules.engine import set_rule_set_limit
from r1rules.physics import Cost, Estimates
from r1rules.recommend import (
    Boundary,
    Fleet,
    FleetCapacity,
    GpuChoice,
    Justification,
    Message,
    Option,
    Recommendation,
    estimate,
    evaluate,
    evaluate_many,
    fleet,
    rows,
)
from r1rules.ruleset import RuleSet

__version__ = "0.1.0"

__all__ = [
    "Boundary",
    "Catalog",
    "CatalogError",
    "Cost",
    "Estimates",
    "EvaluationError",
    "Fleet",
    "FleetCapacity",
    "Gpu",
    "GpuChoice",
    "Justification",
    "Message",
    "Model",
    "Option",
    "PriceList",
    "Problem",
    "R1RulesError",
    "Recommendation",
    "RuleError",
    "RuleSet",
    "Workload",
    "WorkloadError",
    "default_catalog",
    "default_rules",
    "estimate",
    "evaluate",
    "evaluate_many",
    "fleet",
    "load_catalog",
    "load_rules",
    "model_from_hf_config",
    "rows",
    "set_rule_set_limit",
]
