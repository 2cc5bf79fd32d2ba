"""The host figures of an engine profile: per sequence a pass carries (``seq_us``) and per
request before its first token (``request_ms``), against hand-computed differences."""

from __future__ import annotations

import attrs
import pytest

from r1rules.catalog import Engine, default_catalog
from r1rules.physics import estimate_in
from r1rules.physics._roofline import decode_step_ms

CATALOG = default_catalog()
H100 = CATALOG.gpu("h100-sxm")
LLAMA = CATALOG.model("deepseek-r1-distill-llama-8b")


def _with(*, seq_us: float = 0.0, request_ms: float = 0.0) -> Engine:
    engine = CATALOG.engine("vllm")
    kind = "NVIDIA datacenter"
    profiles = dict(engine.profiles)
    profiles[kind] = attrs.evolve(profiles[kind], seq_us=seq_us, request_ms=request_ms)
    return attrs.evolve(engine, profiles=profiles)


@pytest.mark.parametrize("batch", [1, 8, 64])
def test_seq_us_adds_its_time_for_every_sequence_of_a_decode_step(batch: int) -> None:
    none, some = _with(seq_us=0.0), _with(seq_us=50.0)
    args = (LLAMA, "bf16", "bf16", H100, 1, 1, batch, 2048)
    extra = decode_step_ms(*args, engine=some) - decode_step_ms(*args, engine=none)
    assert extra == pytest.approx(batch * 50.0 / 1000.0)


def test_request_ms_adds_to_ttft_alone() -> None:
    base = estimate_in(
        model=LLAMA, gpu=H100, gpu_count=1, concurrency=4, engine=_with(request_ms=0.0)
    )
    later = estimate_in(
        model=LLAMA, gpu=H100, gpu_count=1, concurrency=4, engine=_with(request_ms=120.0)
    )
    assert later.ttft_ms - base.ttft_ms == pytest.approx(120.0)
    assert (later.tpot_ms, later.throughput_tokens_per_s) == (
        base.tpot_ms,
        base.throughput_tokens_per_s,
    )
