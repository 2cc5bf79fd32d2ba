"""The fact vocabulary: every name a rule may read or set, with its type, domain and producer.

Facts flow one way: the workload and the model's memory physics give the *input* facts;
rules set *decision* facts (some of which are recommendation fields); the sizing physics
reads the decisions it needs (the candidate GPU, the upgrade ladder, the headroom) and
gives the *sizing* facts that later rules act on. A rule file may declare further facts of
its own (``[[facts]]``) for forward chaining between its tables.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType

from r1rules._fact_spec import (
    FactSpec,
    Kind,
    Producer,
    bool_fact,
    enum_fact,
    number_fact,
    text_fact,
)

__all__ = [
    "BUILTIN_FACTS",
    "DECISION_INPUTS",
    "ENGINES",
    "FABRICS",
    "KV_PRECISIONS",
    "OBJECTIVES",
    "OPTION_INPUTS",
    "PRECISIONS",
    "RECOMMENDATION_FIELDS",
    "SIZING_INPUTS",
    "STAGES",
    "FactSpec",
    "Kind",
    "Producer",
]


_num, _enum, _bool, _text = number_fact, enum_fact, bool_fact, text_fact
_W, _R, _S = Producer.WORKLOAD, Producer.RULES, Producer.SIZING
PRECISIONS = ("fp32", "bf16", "fp16", "fp8", "int8", "int4")
KV_PRECISIONS = ("fp32", "bf16", "fp16", "fp8")
STAGES = ("development", "production")
OBJECTIVES = ("cost", "latency", "article")
FABRICS = ("ethernet-1g", "ethernet-10g", "infiniband-ndr")
# Serving engines with an efficiency profile in rules/catalog/engines.toml.
ENGINES = ("vllm", "sglang", "trtllm", "llama.cpp")

_SPECS: tuple[FactSpec, ...] = (
    # --- the workload -------------------------------------------------------------------
    _enum(
        "model", _W, "catalog id of the model, or generic-<N>b for params_b", values_from="models"
    ),
    _enum("model_kind", _W, "dense or mixture of experts", ("dense", "moe")),
    _num("params_b", _W, "total parameters", "billion", 0.0, 10_000.0),
    _num(
        "size_class_b",
        _W,
        "the nominal size the model is named by (7 for the 7.6B distill)",
        "billion",
        0.0,
        10_000.0,
    ),
    _num("active_params_b", _W, "parameters active per token", "billion", 0.0, 10_000.0),
    _enum("precision", _W, "weight precision", PRECISIONS),
    _bool(
        "precision_is_native", _W, "the weights are served in the precision they were released in"
    ),
    _enum("kv_cache_precision", _W, "KV cache precision", KV_PRECISIONS),
    _enum(
        "engine",
        _W,
        "serving engine: its efficiency profile per GPU kind (rules/catalog/engines.toml) and "
        "the layouts it can run (llama.cpp: no expert parallelism)",
        ENGINES,
    ),
    _bool("gpu_pinned", _W, "the workload names a GPU that must be used"),
    _enum("pinned_gpu", _W, "the GPU the workload names, or none", values_from="gpus+none"),
    _num("peak_qps", _W, "peak requests per second", "req/s", 0.0, 1e9),
    _num("latency_ms", _W, "time-to-first-token target", "ms", 0.0, 1e9),
    _num(
        "tpot_target_ms",
        _W,
        "time-per-output-token target (Workload.tpot_ms), when the workload gives one",
        "ms",
        0.0,
        1e9,
        optional=True,
    ),
    _bool("has_tpot_target", _W, "the workload gives a time-per-output-token target"),
    _num(
        "concurrent_requests",
        _W,
        "requests in flight at peak, when the workload gives its load that way (peak_qps is "
        "then derived by Little's law)",
        "requests",
        0.0,
        1e9,
        optional=True,
    ),
    _num(
        "fleet_gpu_count",
        _W,
        "GPUs of a fleet the user already has (Workload.gpu_count)",
        "GPUs",
        1.0,
        1e6,
        integer=True,
        optional=True,
    ),
    _num(
        "request_overhead_ms",
        _W,
        "a request's way to its first token off the GPU on the user's own stack (API server, "
        "tokenizer, scheduler admission, streaming the token back), when the user measured "
        "it (Workload.request_overhead_ms; absent: the engine profile's request_ms)",
        "ms",
        0.0,
        10_000.0,
        optional=True,
    ),
    _num("prompt_tokens", _W, "mean prompt length", "tokens", 1.0, 1e8, integer=True),
    _num("output_tokens", _W, "mean output length", "tokens", 1.0, 1e8, integer=True),
    _num("sequence_tokens", _W, "prompt + output tokens", "tokens", 2.0, 2e8, integer=True),
    _enum("stage", _W, "development or production", STAGES),
    _bool("has_budget", _W, "the workload gives a budget"),
    _enum(
        "objective",
        _W,
        "what the answer optimises: cost (cheapest meeting the targets), latency (fastest "
        "within budget) or article (the article's configuration)",
        OBJECTIVES,
    ),
    # at least $1: a purchase budget below a dollar buys nothing (and its shares overflow)
    _num("budget_usd", _W, "total hardware budget", "USD", 1.0, 1e15, optional=True),
    _num("weights_gb", _W, "weight memory at this precision (scales included)", "GB"),
    _num(
        "kv_cache_bytes_per_token",
        _W,
        "KV cache per token of context, whole model",
        "bytes",
        integer=True,
    ),
    _num("context_window_tokens", _W, "the model's context window", "tokens", integer=True),
    # --- decisions made by rules ----------------------------------------------------------
    _enum(
        "edition", _R, "the article's edition (seed §1.1)", ("basic", "professional", "enterprise")
    ),
    _enum("candidate_gpu", _R, "the GPU the rules choose before sizing", values_from="gpus"),
    FactSpec(
        "upgrade_ladder",
        Kind.GPU_LIST,
        _R,
        "GPUs to try, in order, when the candidate cannot hold the model",
    ),
    _num("headroom_fraction", _R, "spare capacity kept for bursts", "fraction", 0.0, 10.0),
    _num(
        "max_nodes_per_replica",
        _R,
        "nodes one model replica may span (pipeline)",
        "nodes",
        1.0,
        1024.0,
        integer=True,
    ),
    _num(
        "max_nodes_per_ep_replica",
        _R,
        "nodes one expert-parallel replica (data-parallel attention) may span",
        "nodes",
        1.0,
        1024.0,
        integer=True,
    ),
    _enum("gpu", _R, "the recommended GPU", values_from="gpus"),
    _num("gpu_count", _R, "recommended GPUs in all", "GPUs", 1.0, integer=True),
    _num("nodes", _R, "recommended servers", "nodes", 1.0, integer=True),
    _text("cpu", "recommended host CPU"),
    _num("memory_gb", _R, "recommended host RAM per node", "GB", 0.0),
    _text("storage", "recommended storage"),
    _text("network", "recommended network"),
    _enum(
        "network_class",
        _R,
        "network class the latency target calls for (seed §5)",
        ("ethernet", "professional", "rdma"),
    ),
    _enum(
        "gpu_class",
        _R,
        "GPU class the model scale calls for (seed §5)",
        ("consumer", "datacenter", "hbm"),
    ),
    _enum(
        "selection",
        _R,
        "how the answer is chosen among the options: pinned, article, cheapest or fastest",
        ("pinned", "article", "cheapest", "fastest"),
    ),
    _enum("fabric", _R, "the scale-out network priced between nodes", FABRICS),
    _bool(
        "option_excluded",
        _R,
        "a rule rules this option out as an answer (it is still listed and priced)",
    ),
    # --- sizing physics -------------------------------------------------------------------
    _enum(
        "deploy_gpu",
        _S,
        "the GPU sizing settled on: the candidate, or the first of the ladder that holds the model",
        values_from="gpus",
    ),
    _bool("candidate_feasible", _S, "the candidate GPU holds one replica within its limits"),
    _bool("deploy_feasible", _S, "the deploy GPU holds one replica within its limits"),
    _bool("fits_on_one_gpu", _S, "weights + one request's KV fit one deploy GPU"),
    _num(
        "min_gpus_for_memory",
        _S,
        "fewest deploy GPUs that hold weights + the load's KV cache",
        "GPUs",
        1.0,
        integer=True,
    ),
    _num("tensor_parallel", _S, "tensor-parallel degree of a replica", "GPUs", 1.0, integer=True),
    _num(
        "pipeline_parallel", _S, "pipeline stages (nodes) of a replica", "stages", 1.0, integer=True
    ),
    _num(
        "expert_parallel",
        _S,
        "expert-parallel degree of a replica (1: experts not sharded)",
        "GPUs",
        1.0,
        integer=True,
    ),
    _bool(
        "data_parallel_attention",
        _S,
        "attention runs data-parallel: each rank keeps only its own requests' KV cache",
    ),
    _num("gpus_per_replica", _S, "GPUs in one replica", "GPUs", 1.0, integer=True),
    _num("nodes_per_replica", _S, "nodes one replica spans", "nodes", 1.0, integer=True),
    _num("replicas", _S, "replicas for the peak load with headroom", "replicas", 1.0, integer=True),
    _num("physics_gpu_count", _S, "GPUs the physics sizing needs", "GPUs", 1.0, integer=True),
    _num("formula_gpu_count", _S, "GPUs by the seed §4.3 formula", "GPUs", 1.0, integer=True),
    _num(
        "sized_gpu_count",
        _S,
        "the larger of physics_gpu_count and formula_gpu_count, rounded up to whole replicas",
        "GPUs",
        1.0,
        integer=True,
    ),
    _num("sized_nodes", _S, "nodes holding sized_gpu_count", "nodes", 1.0, integer=True),
    _num("gpus_per_node", _S, "deploy GPUs per node", "GPUs", 1.0, integer=True),
    _bool("formula_exceeds_physics", _S, "the §4.3 formula asks for more GPUs than physics"),
    _num("concurrency", _S, "requests in flight at peak (Little's law)", "requests", 0.0),
    _num("ttft_ms", _S, "estimated time to first token at peak", "ms", 0.0),
    _num("best_ttft_ms", _S, "lowest time to first token the deploy GPU can reach", "ms", 0.0),
    _num("tpot_ms", _S, "estimated time per output token at peak", "ms", 0.0),
    _bool("meets_latency", _S, "the estimated time to first token meets latency_ms"),
    _bool(
        "meets_tpot",
        _S,
        "the estimated time per output token meets the workload's tpot_ms (true without one)",
    ),
    _num("memory_per_gpu_gb", _S, "memory used per GPU at peak", "GB", 0.0),
    _num("gpu_memory_gb", _S, "memory of one deploy GPU", "GB", 0.0),
    _enum("gpu_segment", _S, "consumer or datacenter part", ("consumer", "datacenter")),
    _bool("gpu_hbm", _S, "the deploy GPU has HBM memory"),
    _bool("gpu_fp8_native", _S, "the deploy GPU has FP8 tensor cores"),
    _bool("precision_native_on_gpu", _S, "the deploy GPU computes natively in this precision"),
    _num(
        "gpu_nvlink_domain",
        _S,
        "GPUs sharing the deploy GPU's fast fabric",
        "GPUs",
        1.0,
        integer=True,
    ),
    _bool("tp_over_pcie", _S, "the tensor-parallel group is larger than the GPU's NVLink domain"),
    _bool(
        "ep_over_pcie",
        _S,
        "the expert-parallel ranks within a node are more than the GPU's NVLink domain",
    ),
    _num("gpu_memory_bandwidth_gbps", _S, "memory bandwidth of one deploy GPU", "GB/s"),
    _bool("gpu_price_known", _S, "a sourced price exists for the deploy GPU"),
    _bool(
        "option_meets_targets",
        _S,
        "the deployment holds the model within its node span and meets latency_ms (and "
        "tpot_ms, when given)",
    ),
    _num("output_tokens_per_s", _S, "output tokens/s at the operating batch", "tokens/s", 0.0),
    _num(
        "gpu_cost_usd",
        _S,
        "sized_gpu_count x the deploy GPU's approximate price",
        "USD",
        optional=True,
    ),
    _num(
        "network_cost_usd", _S, "NICs, switch ports and optics between nodes", "USD", optional=True
    ),
    _num("capital_cost_usd", _S, "GPUs + hosts + fabric, approximate", "USD", optional=True),
    _num(
        "onprem_usd_per_hour",
        _S,
        "capital amortized over the stated period, plus power",
        "USD/h",
        optional=True,
    ),
    _num("cloud_usd_per_hour", _S, "the GPUs at on-demand cloud rates", "USD/h", optional=True),
    _num(
        "usd_per_million_tokens",
        _S,
        "on-premises cost per million output tokens at the operating batch",
        "USD",
        optional=True,
    ),
    _num("gpu_budget_share", _S, "gpu_cost_usd / budget_usd", "fraction", optional=True),
    _num("budget_share", _S, "capital_cost_usd / budget_usd", "fraction", optional=True),
    _num(
        "over_budget_usd", _S, "capital_cost_usd above budget_usd (0 within)", "USD", optional=True
    ),
    _enum("article_gpu", _S, "the GPU of the article's configuration", values_from="gpus"),
    _num(
        "article_gpu_count",
        _S,
        "GPUs in the article's configuration",
        "GPUs",
        1.0,
        integer=True,
    ),
    _bool("article_is_answer", _S, "this deployment is the article's configuration"),
    _bool("article_meets_targets", _S, "the article's configuration meets the targets"),
    _num("article_ttft_ms", _S, "time to first token of the article's configuration", "ms", 0.0),
    _num(
        "article_capital_usd",
        _S,
        "capital cost of the article's configuration",
        "USD",
        optional=True,
    ),
    _num(
        "savings_usd",
        _S,
        "article_capital_usd - capital_cost_usd (negative: this costs more)",
        "USD",
        -math.inf,
        optional=True,
    ),
)

# Read-only: every rule set starts from it, so no caller may change it.
BUILTIN_FACTS: Mapping[str, FactSpec] = MappingProxyType({spec.name: spec for spec in _SPECS})

# Recommendation fields: each must be set by a fired rule for every workload.
RECOMMENDATION_FIELDS = (
    "edition",
    "gpu",
    "gpu_count",
    "nodes",
    "cpu",
    "memory_gb",
    "storage",
    "network",
)

# Decision facts the sizing physics reads; it runs once all of them are known.
SIZING_INPUTS = (
    "candidate_gpu",
    "upgrade_ladder",
    "headroom_fraction",
    "max_nodes_per_replica",
    "max_nodes_per_ep_replica",
)

# Facts the decision reads when a rule sets them (none is required; see recommend/_decide):
# before sizing, how to choose among the options and which fabric to price; after sizing,
# whether a rule excludes an option from being the answer.
DECISION_INPUTS = ("selection", "fabric")
OPTION_INPUTS = ("option_excluded",)
