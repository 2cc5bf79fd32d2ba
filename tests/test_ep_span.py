"""Wide expert parallelism: a replica of experts spread over ranks may span more nodes than a
tensor x pipeline one (the rules' ``max_nodes_per_ep_replica``).

DeepSeek serves R1 in decode units of 18 nodes, "Routed Expert EP144, MLA/Shared Expert
DP144", and prefills in units of 4 nodes (open-infra-index, day 6); the shipped enterprise
and pinned-GPU rules allow 4 nodes a pipeline and 18 an expert-parallel replica.
"""

from __future__ import annotations

import math

from hypothesis import event, given, settings
from hypothesis import strategies as st

from r1rules import Workload, evaluate
from r1rules.catalog import default_catalog
from r1rules.physics import Sizing, size

CATALOG = default_catalog()
R1 = CATALOG.model("deepseek-r1")
H100 = CATALOG.gpu("h100-sxm")
BF16_ON_H100 = Workload(
    model="deepseek-r1",
    precision="bf16",
    gpu="h100-sxm",
    peak_qps=10,
    latency_ms=2000,
    prompt_tokens=2048,
    output_tokens=4096,
)


def _size(gpu_id: str, precision: str, qps: float, spans: tuple[int, int], **kw: int) -> Sizing:
    return size(
        R1,
        precision,
        "bf16",
        CATALOG.gpu(gpu_id),
        peak_qps=qps,
        latency_ms=kw.get("latency_ms", 2000),
        prompt_tokens=kw.get("prompt_tokens", 2048),
        output_tokens=kw.get("output_tokens", 4096),
        headroom_fraction=0.2,
        max_nodes=spans[0],
        max_ep_nodes=spans[1],
    )


def test_r1_in_bf16_on_h100_takes_an_expert_parallel_replica_beyond_four_nodes() -> None:
    rec = evaluate(BF16_ON_H100)
    f = rec.facts
    assert (f["max_nodes_per_replica"], f["max_nodes_per_ep_replica"]) == (4, 18)
    assert f["deploy_feasible"] is True
    assert f["data_parallel_attention"] is True
    nodes = f["nodes_per_replica"]
    assert isinstance(nodes, int) and 4 < nodes <= 18
    assert nodes == math.ceil(int(str(f["gpus_per_replica"])) / H100.max_per_node)
    # the narrower span (4 nodes for every layout, as before) leaves only tensor x pipeline
    # replicas, each holding the MLA cache on every rank: far more GPUs for the same load
    narrow = _size("h100-sxm", "bf16", 10, (4, 4))
    assert narrow.placement.expert_parallel == 1
    assert rec.gpu.count * 4 < narrow.sized_gpu_count
    spans = {j.rule_id for j in rec.justification_for("max_nodes_per_ep_replica")}
    assert spans == {"replica-span-pinned"}
    assert not any(w.rule_id == "pinned-gpu-too-small" for w in rec.warnings)


def test_an_expert_parallel_replica_over_consumer_nodes_is_flagged() -> None:
    rec = evaluate(
        Workload(model="deepseek-r1", precision="int4", gpu="rtx-4090", peak_qps=1, latency_ms=1e4)
    )
    f = rec.facts
    ep, nodes = int(str(f["expert_parallel"])), int(str(f["nodes_per_replica"]))
    assert f["pipeline_parallel"] == 1 and ep > 8 and nodes > 1
    flagged = [w.text for w in rec.warnings if w.rule_id == "replica-spans-nodes-without-rdma"]
    assert flagged == [
        f"One replica spans {nodes} nodes of rtx-4090 without an RDMA fabric: "
        "impractical; prefer GPUs with more memory."
    ]


def _spans(s: Sizing, gpu_id: str) -> int:
    return math.ceil(s.placement.gpus / CATALOG.gpu(gpu_id).max_per_node)


@settings(max_examples=200, deadline=None)
@given(
    gpu_id=st.sampled_from(["h100-sxm", "h200", "a100-80gb", "mi300x", "l40s", "b200"]),
    precision=st.sampled_from(["bf16", "fp8", "int4"]),
    qps=st.floats(0.05, 60.0),
    narrow=st.integers(1, 4),
    extra=st.integers(0, 14),
    latency_ms=st.sampled_from([300, 2000, 30_000]),
)
def test_a_wider_expert_parallel_span_never_needs_more_gpus(
    gpu_id: str, precision: str, qps: float, narrow: int, extra: int, latency_ms: int
) -> None:
    """Widening the EP span only adds placements: a feasible sizing stays feasible, one
    that met its targets still does, with no more GPUs by physics; and the chosen replica
    stays within the span of its kind."""
    a = _size(gpu_id, precision, qps, (narrow, narrow), latency_ms=latency_ms)
    b = _size(gpu_id, precision, qps, (narrow, narrow + extra), latency_ms=latency_ms)
    for s, ep_span in ((a, narrow), (b, narrow + extra)):
        if s.feasible:
            limit = ep_span if s.placement.data_parallel_attention else narrow
            assert _spans(s, gpu_id) <= limit
    assert b.feasible or not a.feasible
    if a.feasible and a.meets_latency:
        event("narrow span met the target")
        assert b.meets_latency
        assert b.physics_gpu_count <= a.physics_gpu_count
        if b.physics_gpu_count < a.physics_gpu_count:
            event("the wider span needed fewer GPUs")
            assert b.placement.data_parallel_attention


def test_expert_parallelism_without_nvlink_is_flagged() -> None:
    def warned(gpu_id: str) -> tuple[int, list[str]]:
        rec = evaluate(Workload(model="deepseek-r1", gpu=gpu_id, peak_qps=2, latency_ms=10_000))
        ep = int(str(rec.facts["expert_parallel"]))
        assert ep > 1
        return ep, [w.text for w in rec.warnings if w.rule_id == "expert-parallel-over-pcie"]

    ep, texts = warned("l40s")  # PCIe only: NVLink domain 1
    assert CATALOG.gpu("l40s").nvlink_domain == 1
    assert texts == [
        f"Expert parallelism over {ep} l40s GPUs dispatches tokens between GPUs without NVLink "
        "(NVLink domain: 1); DeepEP needs NVLink within a node, so expect slower decoding "
        "than the estimate."
    ]
    assert warned("h100-sxm")[1] == []  # NVLink across its node's 8


def test_a_pinned_gpu_too_small_for_the_spans_gets_expert_parallel_what_if_figures() -> None:
    """Nothing holds R1 on RTX 5090 within the spans; the what-if search spreads the experts
    over as many nodes as it takes (each rank keeps the attention weights whole), which
    needs far fewer GPUs than tensor x pipeline replicas and meets the 2 s target."""
    rec = evaluate(Workload(model="deepseek-r1", gpu="rtx-5090", peak_qps=10, latency_ms=2000))
    f = rec.facts
    assert f["deploy_feasible"] is False and f["meets_latency"] is True
    ep, nodes = int(str(f["expert_parallel"])), int(str(f["nodes_per_replica"]))
    assert f["data_parallel_attention"] is True and ep <= R1.n_routed_experts
    assert nodes > int(str(f["max_nodes_per_ep_replica"]))
    plain = min(
        (s for s in (_size("rtx-5090", "fp8", 10, (n, 1)) for n in (4, 8, 16)) if s.feasible),
        key=lambda s: s.sized_gpu_count,
    )
    assert plain.placement.expert_parallel == 1
    assert rec.gpu.count < plain.sized_gpu_count
    assert [w.text for w in rec.warnings if w.rule_id == "pinned-gpu-too-small"] == [
        "The pinned rtx-5090 cannot hold deepseek-r1 in fp8 within 4 nodes per tensor x "
        f"pipeline replica or 18 per expert-parallel one; the count assumes {nodes} nodes per "
        "replica. Quantize, or choose a GPU with more memory."
    ]
