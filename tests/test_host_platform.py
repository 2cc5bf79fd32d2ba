"""The host CPU and RAM follow the platform the answer's GPU comes on: the edition's
(seed §2.1, §3.1, §4.1) for GPUs that plug into slots, a dual-socket server for GPUs sold
eight to a baseboard, and the built-in Grace CPUs of a rack-scale GB200 system."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import LAW, Reach

from r1rules import Recommendation, Workload, default_catalog, evaluate

CATALOG = default_catalog()
DESKTOP = "Intel Core i7-13700K or AMD Ryzen 9 5900X"
EPYC_7543 = "AMD EPYC 7543 (32 cores, PCIe 4.0 x16)"
GENOA = "2 x AMD EPYC 9004 'Genoa' (64 cores each, PCIe 5.0)"
BASEBOARD = "2 x server CPUs (dual socket), as an 8-GPU baseboard server carries"
GRACE = "NVIDIA Grace, built in: 2 per 4-GPU compute tray (72 Arm Neoverse V2 cores each)"


def _set_by(rec: Recommendation, field: str) -> str:
    return rec.justification_for(field)[-1].rule_id


@pytest.mark.parametrize(
    ("workload", "gpu", "cpu", "cpu_rule", "memory_gb"),
    [
        # the professional example: 33B at 28 QPS within 200 ms answers 8-GPU MI300X boards
        (
            dict(params_b=33, peak_qps=28, latency_ms=200, stage="production"),
            "mi300x",
            BASEBOARD,
            "cpu-baseboard-server",
            2048,
        ),
        # the same edition on a GPU that plugs into a slot keeps the article's host
        (
            dict(params_b=33, peak_qps=28, latency_ms=200, stage="production", gpu="l40s"),
            "l40s",
            EPYC_7543,
            "cpu-professional",
            256,
        ),
        # the enterprise example answers GB200 trays, whose Grace CPUs are built in
        (
            dict(params_b=65, peak_qps=150, latency_ms=100, stage="production"),
            "gb200",
            GRACE,
            "cpu-grace",
            960,
        ),
        (
            dict(params_b=65, peak_qps=150, latency_ms=100, stage="production", gpu="h200"),
            "h200",
            GENOA,
            "cpu-enterprise",
            2048,
        ),
        (
            dict(model="deepseek-r1-distill-qwen-7b", peak_qps=8, latency_ms=500, gpu="rtx-4090"),
            "rtx-4090",
            DESKTOP,
            "cpu-basic",
            64,
        ),
    ],
)
def test_the_host_is_the_platforms(
    workload: dict[str, object], gpu: str, cpu: str, cpu_rule: str, memory_gb: float
) -> None:
    rec = evaluate(Workload(**workload), options=False)  # type: ignore[arg-type]
    assert (rec.gpu.id, rec.cpu, rec.memory_gb) == (gpu, cpu, memory_gb)
    assert _set_by(rec, "cpu") == cpu_rule
    assert _set_by(rec, "memory_gb") == cpu_rule.replace("cpu-", "host-memory-")
    baseboard_note = [n for n in rec.notes if n.rule_id == "cpu-baseboard-server"]
    assert len(baseboard_note) == (cpu_rule == "cpu-baseboard-server")


def test_the_a40_pairing_advice_only_comes_with_a40s() -> None:
    on_mi300x = evaluate(Workload(params_b=33, peak_qps=28, latency_ms=200, stage="production"))
    on_a40 = evaluate(
        Workload(params_b=33, peak_qps=28, latency_ms=200, stage="production", gpu="a40")
    )
    rule = "topology-professional-nvlink-pairs"
    assert on_mi300x.edition == on_a40.edition == "professional"
    assert rule not in {n.rule_id for n in on_mi300x.notes}
    assert rule in {n.rule_id for n in on_a40.notes}


PLATFORM = Reach("a host chosen for a GPU of every platform")
SLOT_HOSTS = {DESKTOP, EPYC_7543, GENOA}


@LAW
@given(
    gpu=st.sampled_from(sorted(CATALOG.gpus)),
    params_b=st.sampled_from([7, 14, 33, 70, 671]),
    peak_qps=st.sampled_from([0.5, 5, 50]),
    latency_ms=st.sampled_from([150, 2000]),
    stage=st.sampled_from(["development", "production"]),
)
def test_no_host_contradicts_its_gpus_platform(
    gpu: str, params_b: float, peak_qps: float, latency_ms: float, stage: str
) -> None:
    PLATFORM.run()
    rec = evaluate(
        Workload(
            params_b=params_b,
            peak_qps=peak_qps,
            latency_ms=latency_ms,
            stage=stage,
            gpu=gpu,
            precision="int4",
        ),
        options=False,
    )
    domain = CATALOG.gpu(rec.gpu.id).nvlink_domain
    if domain > 8:
        assert (rec.cpu, rec.memory_gb) == (GRACE, 960)
    elif domain == 8:
        assert rec.cpu in (BASEBOARD, GENOA) and rec.memory_gb == 2048
    else:
        assert rec.cpu in SLOT_HOSTS and rec.memory_gb in (64, 256, 2048)
    PLATFORM.hit(f"a fabric of {'more than 8' if domain > 8 else domain} GPUs, {rec.edition}")


def test_no_host_contradicts_its_gpus_platform_reach() -> None:
    PLATFORM.check(0.9)
