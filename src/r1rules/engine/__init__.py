"""The durable-rules adapter: the only place that imports durable-rules."""

from r1rules.engine._adapter import CompiledRules, Session, compiled, live_sessions
from r1rules.engine._compile import capacity_problems, encode_fact

__all__ = [
    "CompiledRules",
    "Session",
    "capacity_problems",
    "compiled",
    "encode_fact",
    "live_sessions",
]
