"""Generic dense models: a LLaMA-style architecture for a parameter count (``params_b``)."""

from __future__ import annotations

import functools
import itertools
import math
from decimal import Decimal

from r1rules._errors import CatalogError
from r1rules.catalog._records import Model
from r1rules.catalog._schema import dense_count

__all__ = ["GENERIC_MAX_PARAMS_B", "generic_dense_model"]

# (params_b, d_model, layers) of LLaMA-1 7B/13B/33B/65B: arXiv:2302.13971, Table 2
_LLAMA1_SHAPES = ((6.7, 4096, 32), (13.0, 5120, 40), (32.5, 6656, 60), (65.2, 8192, 80))
GENERIC_MAX_PARAMS_B = 10000.0
_GENERIC_SOURCE = (
    "derived: width and depth interpolated in log-params between the LLaMA-1 7B/13B/33B/65B "
    "shapes (arXiv:2302.13971, Table 2), FFN width fitted to the parameter count; GQA with "
    "8 KV heads and a 131072-token context as Llama 3.1 (arXiv:2407.21783) and the R1 "
    "distills' config.json"
)
_GENERIC_ASSUMPTION = (
    "generic dense decoder, not a real checkpoint: LLaMA-style (SwiGLU FFN, RMSNorm, untied "
    "32000-token embeddings as LLaMA-1, head_dim 128); d_model and layers interpolated "
    "log-log between LLaMA-1 7B/13B/33B/65B (extrapolated outside; d_model rounded to a "
    "multiple of 1024), FFN width (multiple of 256) fitted so the count matches params_b "
    "(within 3% from 1B up); GQA with 8 KV heads (LLaMA-1 used full multi-head attention; "
    "a 128K context with MHA would be unrealistic), context 131072 tokens, native bf16"
)


def _llama1_interpolate(params_b: float, column: int) -> float:
    """Column 1 (d_model) or 2 (layers) of the LLaMA-1 shapes, log-log piecewise linear."""
    points = [(math.log(row[0]), math.log(row[column])) for row in _LLAMA1_SHAPES]
    segments = list(itertools.pairwise(points))
    x = math.log(params_b)
    (x0, y0), (x1, y1) = next((s for s in segments if x <= s[1][0]), segments[-1])
    return math.exp(y0 + (y1 - y0) * (x - x0) / (x1 - x0))


@functools.lru_cache(maxsize=1024, typed=True)
def generic_dense_model(params_b: float) -> Model:
    """A generic LLaMA-style dense decoder of ``params_b`` billion parameters.

    Deterministic; valid for any ``params_b`` in (0, 10000]; its architecture's parameter
    count is within 3% of ``params_b`` from 1B up (below ~0.5B the fixed embedding dominates).
    Its id is ``generic-<params>b``. Raises ``CatalogError`` for a size outside (0, 10000].
    """
    if (
        isinstance(params_b, bool)
        or not isinstance(params_b, (int, float))
        or not 0 < params_b <= GENERIC_MAX_PARAMS_B
    ):
        raise CatalogError(
            f"generic model size must be a number in (0, 10000] billion "
            f"parameters, got {params_b!r}"
        )
    width = _llama1_interpolate(params_b, 1)
    unit = 1024 if width >= 1024 else 128  # 1024 = 8 KV heads x head_dim 128
    vocab, head_dim, hidden = 32000, 128, max(128, unit * round(width / unit))
    heads = hidden // head_dim
    kv_heads = 8 if heads % 8 == 0 else heads
    layers = max(1, round(_llama1_interpolate(params_b, 2)))
    shape = {
        "hidden_size": hidden,
        "num_attention_heads": heads,
        "num_kv_heads": kv_heads,
        "head_dim": head_dim,
        "vocab_size": vocab,
        "tie_word_embeddings": False,
        "num_layers": layers,
    }
    rest = params_b * 1e9 - dense_count({**shape, "intermediate_size": 0})
    inter = max(256, 256 * round(rest / (3 * hidden * layers) / 256))
    size = format(Decimal(repr(float(params_b))), "f")
    size = size.rstrip("0").rstrip(".") if "." in size else size
    return Model(
        id=f"generic-{size}b",
        name=f"Generic dense {size}B (LLaMA-style)",
        hf_repo=None,
        aliases=(),
        kind="dense",
        attention="gqa",
        nominal_params_b=float(params_b),
        total_params_b=float(params_b),
        active_params_b=float(params_b),
        num_layers=layers,
        hidden_size=hidden,
        intermediate_size=inter,
        num_attention_heads=heads,
        num_kv_heads=kv_heads,
        head_dim=head_dim,
        vocab_size=vocab,
        tie_word_embeddings=False,
        max_context_tokens=131072,
        native_precision="bf16",
        source=_GENERIC_SOURCE,
        assumption=_GENERIC_ASSUMPTION,
    )
