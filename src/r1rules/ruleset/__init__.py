"""Rule sets: the rule model, TOML parsing and loading, placeholders, the reference evaluator."""

from r1rules.ruleset._load import PathLike, read_rules
from r1rules.ruleset._model import (
    Alternative,
    Assignment,
    HitPolicy,
    LoadOrigin,
    Rule,
    RuleSet,
    Table,
    Test,
)
from r1rules.ruleset._parse import enum_values
from r1rules.ruleset._placeholders import fill
from r1rules.ruleset._reference import failed_tests, shortfall

__all__ = [
    "Alternative",
    "Assignment",
    "HitPolicy",
    "LoadOrigin",
    "PathLike",
    "Rule",
    "RuleSet",
    "Table",
    "Test",
    "enum_values",
    "failed_tests",
    "fill",
    "read_rules",
    "shortfall",
]
