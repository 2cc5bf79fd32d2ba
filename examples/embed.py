"""Embedding r1rules in a capacity planner: evaluate workloads, read the justified fields."""

from __future__ import annotations

import r1rules


def main() -> None:
    workloads = [
        r1rules.Workload(
            model="deepseek-r1-distill-llama-70b",
            peak_qps=qps,
            latency_ms=1000,
            prompt_tokens=1024,
            output_tokens=1024,
            stage="production",
        )
        for qps in (1, 5, 20)
    ]
    for workload in workloads:
        rec = r1rules.evaluate(workload)
        why = ", ".join(j.rule_id for j in rec.justification_for("gpu_count"))
        print(
            f"{workload.peak_qps:>5g} QPS -> {rec.gpu.count} x {rec.gpu.id} on {rec.nodes} "
            f"node(s), TPOT {rec.estimates.tpot_ms:.1f} ms ({why})"
        )
    # A deployment you already have: what does it do at 64 concurrent users?
    have = r1rules.estimate(
        model="deepseek-r1",
        precision="fp8",
        gpu="h200",
        gpu_count=8,
        concurrency=64,
        prompt_tokens=1024,
        output_tokens=1024,
    )
    print(
        f"8 x H200, R1 FP8, 64 users: TPOT {have.tpot_ms:.1f} ms, "
        f"{have.throughput_tokens_per_s:,.0f} output tokens/s"
    )


if __name__ == "__main__":
    main()
