"""Static analysis of rule sets: gaps, overlaps, dead and shadowed rules, conflicts."""

from r1rules.check._finding import ERROR, WARNING, Finding
from r1rules.check._loading import default_rules, load_rules
from r1rules.check._run import check_paths, check_rules

__all__ = [
    "ERROR",
    "WARNING",
    "Finding",
    "check_paths",
    "check_rules",
    "default_rules",
    "load_rules",
]
