"""The cost arithmetic against hand-computed cases, and the shipped prices' provenance."""

from __future__ import annotations

import math
import re
from pathlib import Path

import attrs
import pytest

import r1rules
from r1rules import CatalogError, RuleError, Workload, evaluate
from r1rules.catalog import (
    INCLUDED,
    Assumptions,
    Fabric,
    FrozenMap,
    GpuPrice,
    Host,
    PriceList,
    default_catalog,
)
from r1rules.physics import HOURS_PER_YEAR, cost_of

H100 = default_catalog().gpu("h100-sxm")  # 700 W TDP


def _prices(
    *, host: str = "box", fabric: Fabric | None = None, cloud: float | None = 2.0
) -> PriceList:
    gpu = GpuPrice(
        gpu=H100.id,
        host=host,
        purchase_usd=30000.0,
        purchase_date="2026",
        purchase_status="sourced",
        purchase_basis="test",
        purchase_source="test",
        cloud_usd_per_hour=cloud,
        cloud_date="2026" if cloud is not None else "",
    )
    box = Host("box", 50000.0, "2025", "proxy", "everything", "test", "test", power_w=4600.0)
    ib = fabric or Fabric(
        "ib", 1000.0, "gpu", "2024", "sourced", "test", "test", 10000.0, 64, None, 100.0
    )
    return PriceList(
        gpus={H100.id: gpu},
        hosts={"box": box},
        fabrics={ib.id: ib},
        assumptions=Assumptions(1.5, "test", 0.1, "test", 5.0, "test"),
    )


def test_two_nodes_of_h100_cost_what_a_hand_computation_gives() -> None:
    cost = cost_of(_prices(), H100, 16, 2, "ib", 1000.0)
    assert cost is not None
    # GPUs 16 x 30,000; hosts 2 x 50,000; fabric 16 NICs x 1,000 + one 64-port switch
    # 10,000 + 16 links x 2 optics x 100.
    assert cost.gpus_usd == 480_000
    assert cost.hosts_usd == 100_000
    assert cost.fabric_usd == 16_000 + 10_000 + 3_200
    assert cost.capital_usd == 609_200
    # (16 x 700 W + 2 x 4,600 W) = 20.4 kW x PUE 1.5 x $0.10/kWh
    assert cost.power_kw == pytest.approx(20.4)
    assert cost.power_usd_per_hour == pytest.approx(3.06)
    assert cost.amortized_usd_per_hour == pytest.approx(609_200 / (5 * 8766))
    assert cost.onprem_usd_per_hour == pytest.approx(609_200 / (5 * 8766) + 3.06)
    assert cost.cloud_usd_per_hour == 32.0
    # 1,000 tokens/s = 3.6 million tokens an hour
    assert cost.onprem_usd_per_million_tokens == pytest.approx(cost.onprem_usd_per_hour / 3.6)
    assert cost.cloud_usd_per_million_tokens == pytest.approx(32.0 / 3.6)
    assert cost.gaps == ()
    assert HOURS_PER_YEAR == 8766.0


def test_gpus_sold_in_whole_boards_are_priced_and_named_idle_not_unpriced() -> None:
    prices = _prices()
    boards = attrs.evolve(prices.gpus[H100.id], purchase_unit_gpus=8)
    prices = attrs.evolve(prices, gpus={H100.id: boards})
    six = cost_of(prices, H100, 6, 1, "ib", 1.0)
    eight = cost_of(prices, H100, 8, 1, "ib", 1.0)
    assert six is not None and eight is not None
    assert six.gpus_usd == eight.gpus_usd == 8 * 30000.0  # a whole board is bought
    assert six.gaps == ()  # priced: not a gap
    assert [p for p in six.prices if "bought than used" in p] == [
        f"{H100.name} is sold in units of 8: 2 more bought than used (priced, left idle)"
    ]
    assert not any("bought than used" in p for p in eight.prices)
    lean = cost_of(prices, H100, 6, 1, "ib", 1.0, describe=False)
    assert lean is not None and lean.prices == () and lean.capital_usd == six.capital_usd


def test_beyond_one_switch_the_fabric_is_a_two_level_fat_tree() -> None:
    cost = cost_of(_prices(), H100, 100, 13, "ib", 1.0)
    assert cost is not None
    # 100 NICs > 64 ports: 3 switch ports and 2 links per NIC -> 300 ports = 5 switches.
    assert cost.fabric_usd == 100 * 1000 + 5 * 10000 + 100 * 2 * 2 * 100


def test_one_node_has_no_fabric_and_an_included_host_costs_nothing_more() -> None:
    cost = cost_of(_prices(host=INCLUDED), H100, 8, 1, "ib", 1.0)
    assert cost is not None
    assert (cost.hosts_usd, cost.fabric_usd, cost.capital_usd) == (0.0, 0.0, 240_000.0)
    assert cost.power_kw == pytest.approx(5.6)


def test_unpriced_parts_are_named_as_gaps_and_counted_as_zero() -> None:
    per_node = Fabric("eth", 150.0, "node", "2025", "sourced", "test", "test")
    cost = cost_of(_prices(fabric=per_node), H100, 16, 2, "eth", 1.0)
    assert cost is not None
    assert cost.fabric_usd == 2 * 150.0
    assert cost.gaps == ("eth switch ports (no sourced price)",)
    missing = cost_of(_prices(), H100, 16, 2, "none-such", 1.0)
    assert missing is not None and missing.fabric_usd == 0.0
    assert missing.gaps == ("fabric none-such between the 2 nodes",)


def test_per_port_switch_prices_and_no_cloud_rate() -> None:
    per_port = Fabric("eth", 0.0, "gpu", "2015", "sourced", "t", "t", switch_port_usd=1531.0)
    cost = cost_of(_prices(fabric=per_port, cloud=None), H100, 4, 2, "eth", 0.0)
    assert cost is not None
    assert cost.fabric_usd == 4 * 1531.0
    assert cost.cloud_usd_per_hour is None and cost.cloud_usd_per_million_tokens is None
    assert cost.onprem_usd_per_million_tokens is None  # no tokens: no per-token figure


def test_a_gpu_without_a_price_has_no_cost() -> None:
    assert cost_of(_prices(), default_catalog().gpu("b200"), 8, 1, "ib", 1.0) is None


@pytest.mark.parametrize(
    ("build", "words"),
    [
        (lambda p: attrs.evolve(p, purchase_usd_low=40000.0), "outside its range"),
        (lambda p: attrs.evolve(p, purchase_usd=-1.0), ">= 0"),
        (lambda p: attrs.evolve(p, purchase_usd=math.inf), "finite"),
        (lambda p: attrs.evolve(p, cloud_date=""), "needs cloud_date"),
    ],
)
def test_price_records_refuse_impossible_figures(build: object, words: str) -> None:
    price = _prices().gpus[H100.id]
    with pytest.raises(CatalogError, match=words):
        build(price)  # type: ignore[operator]


def test_assumptions_and_fabrics_refuse_what_cannot_be() -> None:
    with pytest.raises(CatalogError, match="pue"):
        Assumptions(0.5, "t", 0.1, "t", 5.0, "t")
    with pytest.raises(CatalogError, match="amortization_years"):
        Assumptions(1.2, "t", 0.1, "t", 0.0, "t")
    with pytest.raises(CatalogError, match="go together"):
        Fabric("f", 1.0, "gpu", "d", "sourced", "b", "s", switch_usd=1.0)
    with pytest.raises(CatalogError, match="nics_per"):
        Fabric("f", 1.0, "rack", "d", "sourced", "b", "s")
    with pytest.raises(CatalogError, match="host 'nowhere'"):
        PriceList(
            gpus={H100.id: attrs.evolve(_prices().gpus[H100.id], host="nowhere")},
            hosts={},
            fabrics={},
            assumptions=None,
        )


_SOURCE = re.compile(r"^(https?://\S+|github(\.com/|-file-id:)\S+|seed §)")


def test_every_catalog_gpu_has_a_dated_sourced_purchase_price() -> None:
    catalog = default_catalog()
    prices = catalog.prices
    assert set(prices.gpus) == set(catalog.gpus)
    for gpu_id, price in prices.gpus.items():
        assert price.purchase_usd > 0, gpu_id
        assert price.purchase_status in ("sourced", "proxy"), gpu_id
        assert price.purchase_date and price.purchase_basis, gpu_id
        assert _SOURCE.match(price.purchase_source), (gpu_id, price.purchase_source)
        if price.cloud_usd_per_hour is not None:
            assert price.cloud_date and _SOURCE.match(price.cloud_source), gpu_id
        assert price.host == INCLUDED or price.host in prices.hosts, gpu_id
    parts: list[Host | Fabric] = [*prices.hosts.values(), *prices.fabrics.values()]
    for part in parts:
        assert part.price_date and _SOURCE.match(part.price_source), part.id
    assert prices.assumptions is not None
    assert isinstance(prices.gpus, FrozenMap)


def test_a_rule_folder_can_replace_prices_and_assumptions(tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    (folder / "catalog").mkdir(parents=True)
    (folder / "catalog" / "prices.toml").write_text(
        '[gpu_prices.h100-sxm]\nreplace = true\nhost = "hgx-8gpu"\npurchase_usd = 15000\n'
        'purchase_date = "2026-11"\npurchase_status = "sourced"\n'
        'purchase_basis = "our quote"\npurchase_source = "https://example.com/quote"\n'
        "\n[assumptions.default]\nreplace = true\npue = 1.2\n"
        'pue_source = "our hall"\nelectricity_usd_per_kwh = 0.2\n'
        'electricity_source = "our bill"\namortization_years = 4\n'
        'amortization_source = "our policy"\n',
        encoding="utf-8",
    )
    rules = r1rules.load_rules(folder, include_shipped=True)
    assert rules.catalog.prices.gpus["h100-sxm"].purchase_usd == 15000
    assert rules.catalog.prices.assumptions is not None
    assert rules.catalog.prices.assumptions.pue == 1.2
    workload = Workload(model="deepseek-r1", peak_qps=1, latency_ms=5000, gpu="h100-sxm")
    ours, shipped = evaluate(workload, rules, options=False), evaluate(workload, options=False)
    assert ours.cost is not None and shipped.cost is not None
    assert ours.gpu.count == shipped.gpu.count
    assert shipped.cost.gpus_usd - ours.cost.gpus_usd == ours.gpu.count * (30000 - 15000)


def test_bad_price_entries_are_problems_naming_file_entry_and_key(tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    (folder / "catalog").mkdir(parents=True)
    bad = folder / "catalog" / "prices.toml"
    bad.write_text(
        '[gpu_prices.h100-sxm]\nreplace = true\nhost = "hgx-8gpu"\npurchase_usd = -5\n'
        'purchase_date = "2026"\npurchase_status = "rumoured"\npurchase_basis = "b"\n'
        'purchase_source = "s"\n',
        encoding="utf-8",
    )
    with pytest.raises(RuleError) as caught:
        r1rules.load_rules(folder, include_shipped=True)
    found = {(p.file, p.key_path) for p in caught.value.problems}
    assert (str(bad), "purchase_usd") in found
    assert (str(bad), "purchase_status") in found
    assert "rumoured" in str(caught.value)


def test_each_budget_gets_its_own_shares_of_the_same_deployments_cost() -> None:
    """The budget facts are worked out once per priced deployment and budget (cached): the
    same deployment under another budget, or none, is never given another's shares."""
    base = Workload(model="deepseek-r1", peak_qps=5, latency_ms=2000, gpu="h200")
    seen = []
    for budget in (1e6, 4e6, None, 1e6):
        rec = evaluate(attrs.evolve(base, budget_usd=budget), options=False)
        assert rec.cost is not None
        seen.append(rec.cost.capital_usd)
        if budget is None:
            assert "budget_share" not in rec.facts and "over_budget_usd" not in rec.facts
            continue
        assert rec.facts["budget_share"] == rec.cost.capital_usd / budget
        assert rec.facts["gpu_budget_share"] == rec.cost.gpus_usd / budget
        assert rec.facts["over_budget_usd"] == max(0.0, rec.cost.capital_usd - budget)
    assert len(set(seen)) == 1  # one deployment, four budgets


def test_a_node_with_more_gpus_than_its_host_takes_is_a_named_gap() -> None:
    """A desktop tower takes two consumer cards: eight per node are priced with the tower
    and the larger chassis they need is named as a gap, not silently left out."""
    prices = r1rules.default_rules().catalog.prices
    gpu = r1rules.default_catalog().gpu("rtx-3090")
    assert prices.hosts["consumer-tower"].max_gpus == 2
    two = cost_of(prices, gpu, 2, 1, "", 1000.0)
    eight = cost_of(prices, gpu, 16, 2, "ethernet-1g", 1000.0)
    assert two is not None and eight is not None
    assert not any("chassis" in gap for gap in two.gaps)
    assert [g for g in eight.gaps if "chassis" in g] == [
        "a chassis for 8 GPUs per node: host consumer-tower takes 2 (priced as it is; no "
        "sourced price for a larger one)"
    ]
    assert eight.hosts_usd == 2 * prices.hosts["consumer-tower"].price_usd
    with pytest.raises(CatalogError, match="max_gpus must be a whole number"):
        attrs.evolve(prices.hosts["consumer-tower"], max_gpus=-1)
