"""What a deployment costs: capital (GPUs + hosts + fabric), per hour, per million tokens.

Arithmetic on a ``PriceList`` only; which host and fabric a deployment uses is decided
elsewhere (the GPU's price entry names its host platform, the rules name the fabric).

- Capital: GPUs x purchase price (in whole purchase units: an 8-GPU baseboard, a rack),
  nodes x the host platform (none when the GPU's price
  already includes its system), and the fabric when there is more than one node: one NIC
  per GPU or per node, one switch port per NIC (three, and two links, once the NICs
  outnumber one switch's ports: a two-level fat tree), optics at both ends of every link.
- Per hour on premises: capital over the amortization period (8,766 h a year) plus power:
  (GPUs x TDP + nodes x host power) x PUE x electricity price.
- Per hour in the cloud: GPUs x the on-demand rate per GPU-hour (the instance includes its
  host), where a rate is published.
- Per million output tokens: the hourly cost over the output tokens the deployment
  produces in an hour at the stated rate.
"""

from __future__ import annotations

import math

import attrs

from r1rules.catalog import INCLUDED, Assumptions, Fabric, Gpu, GpuPrice, Host, PriceList

__all__ = ["HOURS_PER_YEAR", "Cost", "cost_of"]

HOURS_PER_YEAR = 8766.0  # 365.25 days


@attrs.frozen
class Cost:
    """The cost of one deployment, with its parts and the dated prices behind them.

    ``gaps`` names parts no source prices (counted as 0): a figure with gaps is a floor.
    ``prices`` names the dated prices behind the figures, and GPUs that whole purchase
    units (boards, racks) leave unused: bought, priced and idle.
    """

    gpus_usd: float
    hosts_usd: float
    fabric_usd: float
    capital_usd: float
    power_kw: float
    power_usd_per_hour: float
    amortized_usd_per_hour: float
    onprem_usd_per_hour: float
    cloud_usd_per_hour: float | None
    output_tokens_per_s: float
    onprem_usd_per_million_tokens: float | None
    cloud_usd_per_million_tokens: float | None
    prices: tuple[str, ...]
    gaps: tuple[str, ...]


def _fabric_usd(fabric: Fabric, gpus: int, nodes: int) -> tuple[float, tuple[str, ...]]:
    """NICs, switch ports and optics for ``nodes`` > 1 nodes of ``gpus`` GPUs."""
    nics = gpus if fabric.nics_per == "gpu" else nodes
    ports_per_nic, links_per_nic = 1, 1
    if fabric.switch_ports is not None and nics > fabric.switch_ports:
        ports_per_nic, links_per_nic = 3, 2
    ports = nics * ports_per_nic
    gaps: tuple[str, ...] = ()
    if fabric.switch_usd is not None and fabric.switch_ports is not None:
        switches = math.ceil(ports / fabric.switch_ports)
        switch_usd = switches * fabric.switch_usd
    elif fabric.switch_port_usd is not None:
        switch_usd = ports * fabric.switch_port_usd
    else:
        switch_usd = 0.0
        gaps = (f"{fabric.id} switch ports (no sourced price)",)
    optics = nics * links_per_nic * 2 * fabric.optics_usd
    return float(nics * fabric.nic_usd + switch_usd + optics), gaps


def _price_lines(
    gpu: Gpu, price: GpuPrice, host: Host | None, fabric: Fabric | None, assumptions: Assumptions
) -> tuple[str, ...]:
    """The dated prices behind a cost, one line each."""
    lines = [
        f"{gpu.name}: ${price.purchase_usd:,.0f} per GPU ({price.purchase_status}, "
        f"{price.purchase_date})"
    ]
    if host is not None:
        lines.append(
            f"host {host.id}: ${host.price_usd:,.0f} per node ({host.price_status}, "
            f"{host.price_date})"
        )
    if fabric is not None:
        lines.append(f"fabric {fabric.id} ({fabric.price_status}, {fabric.price_date})")
    if price.cloud_usd_per_hour is not None:
        lines.append(
            f"cloud {gpu.name}: ${price.cloud_usd_per_hour:,.2f} per GPU-hour "
            f"({price.cloud_provider or 'on demand'}, {price.cloud_date})"
        )
    lines.append(
        f"power: PUE {assumptions.pue:g}, ${assumptions.electricity_usd_per_kwh:g}/kWh; "
        f"amortized over {assumptions.amortization_years:g} years"
    )
    return tuple(lines)


def cost_of(
    prices: PriceList,
    gpu: Gpu,
    gpu_count: int,
    nodes: int,
    fabric_id: str,
    output_tokens_per_s: float,
    *,
    describe: bool = True,
) -> Cost | None:
    """The cost of ``gpu_count`` GPUs on ``nodes`` nodes; None when the GPU has no price.

    ``fabric_id`` names the price list's fabric the rules chose ("" or an unknown id when
    no fabric is priced: a gap). ``describe=False`` leaves out the dated price lines (for
    ordering many options quickly). Every figure is finite for finite inputs.
    """
    price = prices.gpus.get(gpu.id)
    assumptions = prices.assumptions
    if price is None or assumptions is None:
        return None
    gaps: list[str] = []
    unit = price.purchase_unit_gpus
    bought = -(-gpu_count // unit) * unit  # whole purchase units
    gpus_usd = float(bought * price.purchase_usd)
    host = None if price.host == INCLUDED else prices.hosts[price.host]
    hosts_usd = 0.0 if host is None else float(nodes * host.price_usd)
    host_power_w = 0.0 if host is None else host.power_w
    if host is not None and not host.power_w:
        gaps.append(f"power of host {host.id} besides its GPUs (no source)")
    per_node = -(-gpu_count // max(1, nodes))
    if host is not None and 0 < host.max_gpus < per_node:
        gaps.append(
            f"a chassis for {per_node} GPUs per node: host {host.id} takes {host.max_gpus} "
            "(priced as it is; no sourced price for a larger one)"
        )
    fabric = prices.fabrics.get(fabric_id) if nodes > 1 else None
    fabric_usd = 0.0
    if fabric is not None:
        fabric_usd, fabric_gaps = _fabric_usd(fabric, gpu_count, nodes)
        gaps.extend(fabric_gaps)
    elif nodes > 1:
        gaps.append(f"fabric {fabric_id or '(none chosen)'} between the {nodes} nodes")
    capital = gpus_usd + hosts_usd + fabric_usd
    power_kw = (gpu_count * gpu.tdp_w + nodes * host_power_w) / 1000.0
    power_hour = power_kw * assumptions.pue * assumptions.electricity_usd_per_kwh
    amortized = capital / (assumptions.amortization_years * HOURS_PER_YEAR)
    onprem = amortized + power_hour
    cloud = None
    if price.cloud_usd_per_hour is not None:
        cloud = float(gpu_count * price.cloud_usd_per_hour)
    millions_per_hour = output_tokens_per_s * 3600.0 / 1e6
    per_million = onprem / millions_per_hour if millions_per_hour > 0 else None
    cloud_per_million = (
        cloud / millions_per_hour if cloud is not None and millions_per_hour > 0 else None
    )
    lines = _price_lines(gpu, price, host, fabric, assumptions) if describe else ()
    if describe and bought > gpu_count:
        lines += (
            f"{gpu.name} is sold in units of {unit}: {bought - gpu_count} more bought than "
            "used (priced, left idle)",
        )
    return Cost(
        gpus_usd=gpus_usd,
        hosts_usd=hosts_usd,
        fabric_usd=fabric_usd,
        capital_usd=capital,
        power_kw=power_kw,
        power_usd_per_hour=power_hour,
        amortized_usd_per_hour=amortized,
        onprem_usd_per_hour=onprem,
        cloud_usd_per_hour=cloud,
        output_tokens_per_s=output_tokens_per_s,
        onprem_usd_per_million_tokens=per_million,
        cloud_usd_per_million_tokens=cloud_per_million,
        prices=lines,
        gaps=tuple(gaps),
    )
