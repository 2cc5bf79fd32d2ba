"""The durable-rules adapter: the only place that imports durable-rules."""

from r1rules.engine._adapter import (
    DEFAULT_RULE_SET_LIMIT,
    RULE_SET_LIMIT_VARIABLE,
    CompiledRules,
    Session,
    compiled,
    live_sessions,
    set_rule_set_limit,
)
from r1rules.engine._compile import capacity_problems, encode_fact

__all__ = [
    "DEFAULT_RULE_SET_LIMIT",
    "RULE_SET_LIMIT_VARIABLE",
    "CompiledRules",
    "Session",
    "capacity_problems",
    "compiled",
    "encode_fact",
    "live_sessions",
    "set_rule_set_limit",
]
