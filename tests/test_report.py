"""The text report leads with the answer (issue 11): what to buy, its cost, the targets,
the workload's warnings; then the inputs with defaults marked; then the details; the
corrections of the article in their own section; the firing trace only when verbose."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest
import tomli

import r1rules
from r1rules import Recommendation, Workload
from r1rules.cli._main import main
from r1rules.recommend._report_blocks import usd

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
NAMES = ("basic.toml", "professional.toml", "r1-full.toml")
SECTION = "where the article is wrong (corrections that concern this answer):"
TRACE = "fired rules, in order:"


def example(name: str) -> Recommendation:
    return r1rules.evaluate(Workload(**tomli.loads((EXAMPLES / name).read_text())))


@pytest.fixture(scope="module")
def reports() -> dict[str, Recommendation]:
    return {name: example(name) for name in NAMES}


@pytest.fixture(scope="module")
def troubled() -> Recommendation:
    """A pinned consumer card in production, a tight target and a small budget: many
    warnings about the workload, and corrections of the article beside them."""
    return r1rules.evaluate(
        Workload(
            model="deepseek-r1",
            peak_qps=20,
            latency_ms=300,
            gpu="rtx-4090",
            stage="production",
            budget_usd=100_000,
        )
    )


def first_block(text: str) -> list[str]:
    lines = text.splitlines()
    return lines[: lines.index("")]


def corrections(rec: Recommendation) -> list[str]:
    def source(rule_id: str) -> str:
        return str(rec.rules.rule(rule_id).source)

    return [
        m.text
        for m in (*rec.warnings, *rec.notes)
        if "seed-audit" in source(m.rule_id) or "seed-audit" in m.text
    ]


@pytest.mark.parametrize("name", NAMES)
def test_the_first_block_is_the_answer(name: str, reports: dict[str, Recommendation]) -> None:
    rec = reports[name]
    text = rec.report()
    block = first_block(text)
    assert 5 <= len(block) <= 8
    assert block[0].startswith("r1rules recommendation: ")
    assert f"{rec.gpu.count:,} x {rec.gpu.name} ({rec.gpu.id}" in block[0]
    assert f"in {rec.nodes:,} node" in block[0]
    assert block[2].split() == ["edition", rec.edition]
    cost = [line for line in block if line.split()[0] == "cost"]
    assert rec.cost is not None and len(cost) == 1
    assert "capital" in cost[0] and "/hour" in cost[0] and "per million output tokens" in cost[0]
    ttft = [line for line in block if line.split()[0] == "TTFT"]
    assert len(ttft) == 1 and f"target {rec.workload.latency_ms:,.0f} ms" in ttft[0]
    budget = [line for line in block if line.split()[0] == "budget"]
    assert len(budget) == (rec.workload.budget_usd is not None)
    assert text.index("inputs (") < text.index("\ndetails\n") < text.index("estimates (")


def test_the_answer_says_whether_it_meets_each_target(
    reports: dict[str, Recommendation], troubled: Recommendation
) -> None:
    rec = reports["r1-full.toml"]
    met = first_block(rec.report())
    assert rec.cost is not None and rec.cost.capital_usd <= 2e6  # within the $2M budget
    capital = (
        f"${rec.cost.capital_usd / 1e6:,.2f}M"
        if rec.cost.capital_usd >= 1e6
        else (f"${rec.cost.capital_usd:,.0f}")
    )
    assert met[4].endswith(": met") and met[6] == f"  budget   {capital} of $2.00M: met"
    tokens_per_s = 1000.0 / rec.estimates.tpot_ms
    assert met[5].startswith("  TPOT     ") and met[5].endswith(", no target")
    assert f"({tokens_per_s:,.0f} tokens/s per user)" in met[5]
    missed = first_block(troubled.report())
    assert missed[4].endswith(": MISSED") and ": MISSED by $" in missed[6]


def test_the_answer_block_shows_workload_warnings_not_corrections(
    troubled: Recommendation,
) -> None:
    block = first_block(troubled.report())
    assert len(block) == 9
    fixes = corrections(troubled)
    about = [m for m in troubled.warnings if m.text not in fixes]
    shown = [line for line in block if line.split()[0] == "warning"]
    assert len(about) > 2 and shown[0] == f"  warning  {about[0].text} [{about[0].rule_id}]"
    assert shown[-1] == f"  warning  {len(about) - 1} more under 'warnings' below"
    assert fixes and not any(fix in line for fix in fixes for line in block)


def test_defaults_are_marked_and_given_values_are_not(
    reports: dict[str, Recommendation],
) -> None:
    lines = reports["r1-full.toml"].report().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("inputs ("))
    inputs = {line.split()[0]: line for line in lines[start + 1 : lines.index("details")] if line}
    # the load given as peak_qps (no concurrent_requests line); a fleet is not evaluated
    unshown = {"params_b", "concurrent_requests", "gpu_count"}
    assert set(inputs) == {a.name for a in attrs.fields(Workload)} - unshown
    assert inputs["tpot_ms"].endswith("none (no time-per-output-token target)")
    assert inputs["output_tokens"].split()[1:3] == ["4,096", "(default:"]
    assert "R1 answers carry long reasoning" in inputs["output_tokens"]
    for given in ("peak_qps", "latency_ms", "prompt_tokens", "budget_usd", "model"):
        assert "(default" not in inputs[given], inputs[given]
    for default in ("stage", "objective", "kv_cache_precision", "gpu", "precision"):
        assert "(default:" in inputs[default], inputs[default]
    assert "none (default: the vllm profile's 67.5 ms)" in inputs["request_overhead_ms"]
    basic = reports["basic.toml"].report()
    assert "  budget_usd           none (default: no budget)" in basic.splitlines()


def test_a_value_equal_to_its_default_is_shown_as_the_default() -> None:
    given = r1rules.evaluate(
        Workload(model="deepseek-r1", peak_qps=20, latency_ms=2000, output_tokens=4096)
    )
    line = next(x for x in given.report().splitlines() if x.split()[:1] == ["output_tokens"])
    assert "(default:" in line


@pytest.mark.parametrize("name", NAMES)
def test_corrections_appear_only_in_their_section(
    name: str, reports: dict[str, Recommendation]
) -> None:
    rec = reports[name]
    text = rec.report()
    fixes = corrections(rec)
    assert fixes, "each example touches at least one correction of the article"
    assert text.count(SECTION) == 1
    head, section = text.split(SECTION)
    for fix in fixes:
        assert fix not in head and section.count(fix) == 1
    others = [m.text for m in (*rec.warnings, *rec.notes) if m.text not in fixes]
    assert all(other in head and other not in section for other in others)


def test_no_section_when_no_correction_concerns_the_answer(
    reports: dict[str, Recommendation],
) -> None:
    rec = reports["r1-full.toml"]
    fixes = corrections(rec)
    trimmed = attrs.evolve(
        rec,
        warnings=tuple(m for m in rec.warnings if m.text not in fixes),
        notes=tuple(m for m in rec.notes if m.text not in fixes),
    )
    assert SECTION in rec.report() and SECTION not in trimmed.report()


@pytest.mark.parametrize("name", NAMES)
def test_the_trace_only_when_verbose(name: str, reports: dict[str, Recommendation]) -> None:
    rec = reports[name]
    assert TRACE not in rec.report() and TRACE not in str(rec)
    assert str(rec) == rec.report() == rec.report(verbose=False)
    verbose = rec.report(verbose=True).splitlines()
    start = verbose.index(TRACE)
    assert verbose[start + 1 :] == [f"  {i}. {j}" for i, j in enumerate(rec.justifications, 1)]
    assert verbose[:start] == [*rec.report().splitlines(), ""]


def test_the_command_takes_verbose(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", str(EXAMPLES / "basic.toml")]) == 0
    plain = capsys.readouterr().out
    assert main(["evaluate", str(EXAMPLES / "basic.toml"), "--verbose"]) == 0
    verbose = capsys.readouterr().out
    assert TRACE not in plain and TRACE in verbose.splitlines()
    assert verbose.startswith(plain.rstrip("\n"))


@pytest.mark.parametrize(
    ("latency", "tpot", "shown"),
    [
        (0.001, 12.5, ("target 0.001 ms", "target 12.5 ms", "the 0.001 ms time-to-first-token")),
        (2000.0, 40.0, ("target 2,000 ms", "target 40 ms")),
    ],
)
def test_targets_are_shown_as_given_not_rounded(
    latency: float, tpot: float, shown: tuple[str, ...]
) -> None:
    """A target is the user's number: 0.001 ms is not "0 ms", nor 12.5 ms "12 ms", so
    that "met" and "MISSED" read true next to it (the answer block and the rules' texts)."""
    workload = Workload(
        model="deepseek-r1-distill-qwen-7b", peak_qps=1, latency_ms=latency, tpot_ms=tpot
    )
    text = r1rules.evaluate(workload, options=False).report()
    for part in shown:
        assert part in text
    assert "target 0 ms" not in text and "target 12 ms" not in text


FOLLOW_COST = "  (cheapest first among those meeting the targets; the rest follow, fastest first)"
FOLLOW_LATENCY = "  (fastest first within the budget; those over it follow, cheapest first)"


def _order_notes(rec: Recommendation) -> list[str]:
    return [line for line in rec.report().splitlines() if line in (FOLLOW_COST, FOLLOW_LATENCY)]


def test_the_options_header_says_how_options_outside_the_objective_follow() -> None:
    base = dict(model="deepseek-r1", peak_qps=1, latency_ms=2000, stage="production")
    tight = r1rules.evaluate(Workload(**{**base, "latency_ms": 100}))  # type: ignore[arg-type]
    assert any(not o.meets_targets for o in tight.options if o.eligible and o.fits)
    assert _order_notes(tight) == [FOLLOW_COST]
    easy = r1rules.evaluate(
        Workload(model="deepseek-r1-distill-qwen-1.5b", peak_qps=0.1, latency_ms=60_000)
    )
    assert all(o.meets_targets for o in easy.options if o.eligible and o.fits)
    assert _order_notes(easy) == []
    fast = r1rules.evaluate(
        Workload(**{**base, "objective": "latency", "budget_usd": 300_000})  # type: ignore[arg-type]
    )
    assert any(o.within_budget is False for o in fast.options if o.eligible and o.fits)
    assert _order_notes(fast) == [FOLLOW_LATENCY]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "?"),
        (float("inf"), "?"),
        (2.994, "$2.99"),
        (34_500.0, "$34,500"),
        (1_204_000.0, "$1.20M"),
        (26_819_560_000.0, "$26.82B"),
        (-3_070_000_000.0, "$-3.07B"),
    ],
)
def test_dollars_read_in_the_unit_their_size_calls_for(value: float | None, text: str) -> None:
    assert usd(value) == text
