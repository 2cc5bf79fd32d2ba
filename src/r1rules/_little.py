"""Little's law for a load given as requests in flight: how long one request lasts when it
meets its targets, and the arrival rate that keeps that many in flight."""

from __future__ import annotations

__all__ = ["DEFAULT_TPOT_MS_FOR_CONCURRENCY", "little_qps", "request_seconds"]

# The time per output token a request is assumed to take when the load is given as
# concurrent requests and no tpot_ms is: MLPerf Inference's DeepSeek-R1 server scenario
# bounds p99 TPOT at 80 ms (and TTFT at 2,000 ms; mlcommons/inference loadgen/mlperf.conf,
# deepseek-r1.Server.tpot_latency). It then becomes the workload's tpot_ms target, so that
# the requests really last no longer than Little's law assumed.
DEFAULT_TPOT_MS_FOR_CONCURRENCY = 80.0


def request_seconds(latency_ms: float, tpot_ms: float | None, output_tokens: int) -> float:
    """How long a request lasts when it meets its targets: the first token within
    ``latency_ms``, each further one within ``tpot_ms`` (default
    :data:`DEFAULT_TPOT_MS_FOR_CONCURRENCY`)."""
    tpot = DEFAULT_TPOT_MS_FOR_CONCURRENCY if tpot_ms is None else tpot_ms
    return (latency_ms + max(0, output_tokens - 1) * tpot) / 1000.0


def little_qps(
    concurrent: float, latency_ms: float, tpot_ms: float | None, output_tokens: int
) -> float:
    """Little's law, L = λW: ``concurrent`` requests in flight, each lasting
    :func:`request_seconds`, arrive at ``concurrent / W`` per second."""
    return concurrent / request_seconds(latency_ms, tpot_ms, output_tokens)
