"""Drawing ``r1rules plot``'s charts with matplotlib (an optional extra).

matplotlib is imported inside the functions, never at import time, so that the command
(and the package) works without it; ``require_matplotlib`` says how to install it. The
figures use matplotlib's object API with no pyplot and no global backend (the format's own
canvas renders it: Agg for PNG), so no display is needed.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from r1rules._errors import R1RulesError, WorkloadError
from r1rules.cli._plot_data import LoadChart, ParetoChart
from r1rules.recommend import Option

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["MatplotlibMissing", "draw_load", "draw_pareto", "require_matplotlib"]

INSTALL_HINT = "r1rules plot needs matplotlib: pip install 'r1rules[plot]'"
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "h", "p", "*", "8", "d", "H")
_PRECISION_MARKERS = {"fp32": "p", "bf16": "o", "fp16": "D", "fp8": "s", "int8": "v", "int4": "^"}


class MatplotlibMissing(R1RulesError):
    """``r1rules plot`` without matplotlib installed."""


def require_matplotlib() -> None:
    """Raise MatplotlibMissing (with the command that installs it) if it cannot be imported."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise MatplotlibMissing(INSTALL_HINT) from None


def _usd(value: float, _position: object = None) -> str:
    if value >= 1e9:
        return f"${value / 1e9:,.3g}B"
    if value >= 1e6:
        return f"${value / 1e6:,.3g}M"
    if value >= 1e3:
        return f"${value / 1e3:,.3g}k"
    return f"${value:,.3g}"


def _count(value: float, _position: object = None) -> str:
    return f"{value:,.0f}" if value >= 1 else f"{value:g}"


def _styles(gpus: Sequence[str]) -> dict[str, tuple[Any, str]]:
    """A colour and a marker per GPU, the same in both charts (by the given order)."""
    from matplotlib import colormaps

    palette = colormaps["tab20"]
    return {
        gpu: (palette((2 * i) % 20 + (i // 10) % 2), _MARKERS[i % len(_MARKERS)])
        for i, gpu in enumerate(gpus)
    }


def _nan(values: Sequence[float | int | None]) -> list[float]:
    return [math.nan if v is None else float(v) for v in values]


def _save(figure: Figure, output: Path, fmt: str) -> None:
    """Write the figure whole: to a temporary file beside ``output``, then renamed over it
    (an interrupted run never leaves half an image)."""
    from matplotlib import rc_context

    partial = output.with_name(f".{output.name}.{os.getpid()}.partial")
    metadata: dict[str, Any] = {"Date": None} if fmt == "svg" else {"Software": "r1rules"}
    try:
        # A fixed salt keeps an SVG's ids, and so the file, the same for the same chart.
        with rc_context({"svg.hashsalt": "r1rules", "svg.fonttype": "none"}):
            figure.savefig(partial, format=fmt, metadata=metadata, dpi=110)
        os.replace(partial, output)
    except OSError as exc:
        with contextlib.suppress(OSError):
            partial.unlink()
        raise WorkloadError(f"--output: cannot write {output}: {exc.strerror or exc}") from None


def _new_figure(width: float, height: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


# -- the load chart ------------------------------------------------------------------------


def draw_load(chart: LoadChart, output: Path, fmt: str) -> None:
    """Capital cost (top) and GPU count (bottom) against peak load, log-log."""
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FuncFormatter

    figure = _new_figure(12.5, 9.0)
    cost_axes, count_axes = figure.subplots(2, 1, sharex=True)
    styles = _styles([s.gpu for s in chart.series])
    qps = list(chart.qps)
    for series in chart.series:
        color, marker = styles[series.gpu]
        for axes, values in (
            (cost_axes, _nan(series.capital_usd)),
            (count_axes, _nan(series.gpu_count)),
        ):
            # the whole line thin and dotted; solid with markers where it meets the targets
            axes.plot(qps, values, color=color, linewidth=0.9, linestyle=":", alpha=0.8)
            meets = [
                v if ok else math.nan for v, ok in zip(values, series.meets_targets, strict=True)
            ]
            axes.plot(
                qps, meets, color=color, marker=marker, markersize=4, linewidth=1.6, alpha=0.9
            )
    answer_cost = _nan([None if a is None else a[2] for a in chart.answers])
    answer_count = _nan([None if a is None else a[1] for a in chart.answers])
    for axes, values in ((cost_axes, answer_cost), (count_axes, answer_count)):
        axes.plot(qps, values, color="black", linewidth=9, alpha=0.13, solid_capstyle="round")
    _editions(chart, cost_axes, count_axes)
    chosen = chart.chosen
    for axes, value in ((cost_axes, chosen.capital_usd), (count_axes, chosen.gpu_count)):
        axes.axvline(chart.workload_qps, color="0.35", linewidth=0.8, linestyle="-.")
        if value is not None:
            axes.plot(
                [chart.workload_qps],
                [value],
                marker="*",
                markersize=20,
                color="gold",
                markeredgecolor="black",
                zorder=10,
            )
    cost = f", {_usd(chosen.capital_usd)}" if chosen.capital_usd is not None else ""
    cost_axes.annotate(
        f"the answer at {chart.workload_qps:,.3g} requests/s:\n"
        f"{chosen.gpu_count:,} x {chosen.gpu} ({chosen.precision}){cost}",
        xy=(chart.workload_qps, chosen.capital_usd or 1.0),
        xytext=(-18, 28),
        textcoords="offset points",
        ha="right",
        fontsize=9.5,
        fontweight="bold",
        bbox={"boxstyle": "round,pad=0.3", "facecolor": "white", "edgecolor": "0.5"},
        arrowprops={"arrowstyle": "->", "color": "0.2"},
        zorder=11,
    )
    for axes in (cost_axes, count_axes):
        axes.set_xscale("log")
        axes.set_yscale("log")
        axes.grid(True, which="major", color="0.85", linewidth=0.7)
        axes.grid(True, which="minor", color="0.93", linewidth=0.5)
        axes.set_xlim(qps[0], qps[-1])
    cost_axes.yaxis.set_major_formatter(FuncFormatter(_usd))
    count_axes.yaxis.set_major_formatter(FuncFormatter(_count))
    count_axes.xaxis.set_major_formatter(FuncFormatter(_count))
    cost_axes.set_ylabel("capital cost (GPUs + hosts + fabric, USD)")
    count_axes.set_ylabel("GPUs")
    count_axes.set_xlabel("peak load (requests/s)")
    figure.suptitle(
        f"Cost and GPU count against peak load, per GPU ({chart.precision})\n{chart.title}",
        fontsize=11.5,
    )
    handles: list[Any] = [
        Line2D([], [], color=styles[s.gpu][0], marker=styles[s.gpu][1], markersize=5, label=s.gpu)
        for s in chart.series
    ]
    handles += [
        Line2D([], [], color="0.3", linestyle=":", label="misses the targets"),
        Line2D([], [], color="black", linewidth=9, alpha=0.13, label="the answer at each load"),
        _star_handle(Line2D, "the workload's answer"),
        Line2D([], [], color="0.2", linestyle="--", label="edition boundary"),
    ]
    figure.legend(
        handles=handles,
        loc="outside right center",
        fontsize=8.5,
        title="GPU (rank order at the workload's load)",
        title_fontsize=8.5,
        frameon=False,
    )
    _save(figure, output, fmt)


def _editions(chart: LoadChart, cost_axes: Axes, count_axes: Axes) -> None:
    """Each edition's band, shaded in turn and named at the top; its boundaries dashed."""
    from matplotlib.transforms import blended_transform_factory

    for i, (low, high, edition) in enumerate(chart.editions):
        for axes in (cost_axes, count_axes):
            if i % 2:
                axes.axvspan(low, high, color="0.5", alpha=0.08, linewidth=0)
            if i:
                axes.axvline(low, color="0.2", linestyle="--", linewidth=1.1)
        where = blended_transform_factory(cost_axes.transData, cost_axes.transAxes)
        cost_axes.text(
            math.sqrt(low * high),
            0.97,
            edition,
            transform=where,
            ha="center",
            va="top",
            fontsize=10,
            fontstyle="italic",
            color="0.25",
        )
        if i:
            count_axes.text(
                low,
                0.02,
                f" {low:,.3g} requests/s",
                transform=blended_transform_factory(count_axes.transData, count_axes.transAxes),
                ha="left",
                va="bottom",
                fontsize=8.5,
                color="0.2",
            )


# -- the Pareto chart ----------------------------------------------------------------------


def draw_pareto(chart: ParetoChart, output: Path, fmt: str) -> None:
    """Capital cost against tokens/s per user for every option; the front joined."""
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    figure = _new_figure(12.5, 7.5)
    axes = figure.subplots()
    options = chart.options
    gpus = list(
        dict.fromkeys([o.gpu for o in options if not o.quantized] + [o.gpu for o in options])
    )
    styles = _styles(gpus)
    shown = [i for i, o in enumerate(options) if chart.speed[i] > 0 and o.capital_usd is not None]
    for i in shown:
        option = options[i]
        color, _marker = styles[option.gpu]
        solid = option.meets_targets and not option.excluded_by
        axes.plot(
            [chart.speed[i]],
            _nan([option.capital_usd]),
            marker=_PRECISION_MARKERS.get(option.precision, "o"),
            markersize=8,
            linestyle="",
            color=color,
            markerfacecolor=color if solid else "none",
            markeredgewidth=1.4,
            alpha=0.95 if solid else 0.6,
        )
    front = list(chart.front)
    axes.plot(
        [chart.speed[i] for i in front],
        _nan([options[i].capital_usd for i in front]),
        color="black",
        linewidth=1.3,
        zorder=1,
    )
    for n, i in enumerate(front):  # above and below the front in turn: fewer overlaps
        _label(axes, chart.speed[i], options[i], below=n % 2 == 1)
    chosen = chart.chosen
    if chosen.capital_usd is not None and chart.chosen_speed > 0:
        axes.plot(
            [chart.chosen_speed],
            [chosen.capital_usd],
            marker="*",
            markersize=22,
            color="gold",
            markeredgecolor="black",
            linestyle="",
            zorder=10,
        )
        axes.annotate(
            f"the answer: {chosen.gpu_count:,} x {chosen.gpu} ({chosen.precision}),\n"
            f"{_usd(chosen.capital_usd)}, {chart.chosen_speed:,.1f} tokens/s per user",
            xy=(chart.chosen_speed, chosen.capital_usd),
            xytext=_away(
                chart.chosen_speed,
                chosen.capital_usd,
                [chart.speed[i] for i in shown],
                [options[i].capital_usd or 1.0 for i in shown],
            ),
            textcoords="offset points",
            ha="left" if _below_middle(chart.chosen_speed, chart.speed) else "right",
            fontsize=9.5,
            fontweight="bold",
            bbox={"boxstyle": "round,pad=0.3", "facecolor": "white", "edgecolor": "0.5"},
            arrowprops={"arrowstyle": "->", "color": "0.2"},
            zorder=11,
        )
    axes.set_yscale("log")
    axes.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    axes.yaxis.set_major_formatter(FuncFormatter(_usd))
    axes.yaxis.set_minor_formatter(NullFormatter())
    axes.grid(True, which="major", color="0.85", linewidth=0.7)
    axes.grid(True, which="minor", color="0.93", linewidth=0.5)
    axes.set_xlabel("tokens/s per user at peak load (1000 / TPOT ms)")
    axes.set_ylabel("capital cost (GPUs + hosts + fabric, USD)")
    figure.suptitle(
        f"Every option: capital cost against speed per user\n{chart.title}", fontsize=11.5
    )
    gpu_handles: list[Any] = [
        Line2D([], [], color=styles[gpu][0], marker="o", linestyle="", label=gpu)
        for gpu in gpus
        if any(options[i].gpu == gpu for i in shown)
    ]
    precisions = {options[i].precision: options[i].quantized for i in shown}
    kind_handles: list[Any] = [
        Line2D(
            [],
            [],
            color="0.3",
            marker=_PRECISION_MARKERS.get(p, "o"),
            linestyle="",
            label=f"{p} (quantized: listed,\nnever chosen)" if quantized else f"{p} (as asked)",
        )
        for p, quantized in precisions.items()
    ]
    kind_handles += [
        Line2D(
            [],
            [],
            color="0.3",
            marker="o",
            markerfacecolor="none",
            linestyle="",
            label="misses the targets or\nexcluded by a rule",
        ),
        Line2D(
            [], [], color="black", linewidth=1.3, label="Pareto front\n(cheapest for its speed)"
        ),
        _star_handle(Line2D, "the answer"),
    ]
    figure.legend(
        handles=gpu_handles + kind_handles,
        loc="outside right upper",
        fontsize=8.5,
        frameon=False,
    )
    _save(figure, output, fmt)


def _below_middle(value: float, values: Sequence[float]) -> bool:
    ordered = sorted(v for v in values if v > 0)
    return not ordered or value <= ordered[len(ordered) // 2]


def _away(x: float, y: float, xs: Sequence[float], ys: Sequence[float]) -> tuple[int, int]:
    """An offset (points) for a label of (x, y) towards the middle of the data: right of a
    point in the slower half, left of one in the faster; above one in the cheaper half,
    below one in the dearer (log scale: the middle is the median)."""
    return (30 if _below_middle(x, xs) else -30, 60 if _below_middle(y, ys) else -70)


def _label(axes: Axes, speed: float, option: Option, *, below: bool) -> None:
    axes.annotate(
        f"{option.gpu} {option.precision}",
        xy=(speed, option.capital_usd or 1.0),
        xytext=(5, -13 if below else 6),
        textcoords="offset points",
        fontsize=8,
        color="0.1",
    )


def _star_handle(line2d: Any, label: str) -> Any:
    """The legend's entry for the answer's gold star (``line2d``: matplotlib's Line2D)."""
    return line2d(
        [],
        [],
        marker="*",
        markersize=14,
        color="gold",
        markeredgecolor="black",
        linestyle="",
        label=label,
    )
