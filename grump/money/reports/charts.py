"""The charts of the HTML report, drawn with matplotlib as PNG bytes.

matplotlib is imported when a chart is first drawn, not when grump is: it
reads its configuration and may build a font cache on import. Charts are drawn
on a ``Figure`` with the Agg canvas directly, never through pyplot, so no
global backend is switched, no window can open, and drawing is safe from
worker threads. Floats appear only as pixel positions; every printed amount
is formatted from its ``Decimal``.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from grump.money.reports.formatting import format_money, format_share
from grump.money.reports.model import CostReport

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

# Okabe-Ito: told apart by colour-blind readers and in greyscale print.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442")
OTHER_COLOUR = "#999999"
MAX_STACKED_MODELS = len(PALETTE)  # more models than colours: the cheapest are summed
_DPI = 110
_MAX_DATE_LABELS = 11  # "Mar 01" labels stop overlapping at about this many across
_TEXT = "#1f2933"


def _figure(width: float, height: float) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=_DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=_DPI, facecolor="white")
    return buffer.getvalue()


def _style(axes: Axes) -> None:
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    axes.tick_params(colors=_TEXT, labelsize=9)
    axes.set_axisbelow(True)


def _dollars(value: float, _position: object) -> str:
    """A tick label: whole cents once ticks reach a dollar, tenths of a cent below."""
    if value == 0:
        return "$0"
    return f"${value:,.2f}" if abs(value) >= 1 else f"${value:.4f}"


def _dollar_axis(axes: Axes, axis: str) -> None:
    from matplotlib.ticker import FuncFormatter

    formatter = FuncFormatter(_dollars)
    (axes.yaxis if axis == "y" else axes.xaxis).set_major_formatter(formatter)


def _stacks(report: CostReport) -> list[tuple[str, list[float]]]:
    """(label, cost per day) per stack: the dearest models, then the rest summed."""
    models, table = report.models(), report.daily_table()
    shown, rest = models[: MAX_STACKED_MODELS - 1], models[MAX_STACKED_MODELS - 1 :]
    if len(rest) == 1:
        shown, rest = models, []
    stacks = [(model, [float(costs[model]) for costs in table.values()]) for model in shown]
    if rest:
        others = [float(sum(costs[m] for m in rest)) for costs in table.values()]
        stacks.append((f"{len(rest)} other models", others))
    return stacks


def spend_per_day_png(report: CostReport) -> bytes | None:
    """Stacked bars: spend per UTC day, one colour per model. None with no daily data."""
    days = report.days()
    if not days:
        return None
    figure = _figure(9.5, 3.8)
    axes = figure.add_subplot()
    positions = list(range(len(days)))
    bottoms = [0.0] * len(days)
    for index, (label, costs) in enumerate(_stacks(report)):
        colour = PALETTE[index] if index < len(PALETTE) else OTHER_COLOUR
        axes.bar(positions, costs, bottom=bottoms, label=label, color=colour, width=0.8)
        bottoms = [b + c for b, c in zip(bottoms, costs, strict=True)]
    step = max(1, -(-len(days) // _MAX_DATE_LABELS))
    axes.set_xticks(positions[::step], [f"{day:%b %d}" for day in days[::step]])
    _dollar_axis(axes, "y")
    axes.grid(axis="y", color="#e4e7eb")
    axes.set_ylabel("Spend (USD)", color=_TEXT)
    _style(axes)
    # Legend entries top to bottom in the order the stacks are drawn top to bottom.
    handles, labels = axes.get_legend_handles_labels()
    axes.legend(
        handles[::-1],
        labels[::-1],
        loc="upper left",
        bbox_to_anchor=(1.0, 1.0),
        frameon=False,
        fontsize=9,
    )
    return _png(figure)


def savings_png(report: CostReport) -> bytes | None:
    """Horizontal bars: money saved by each cause, against the premium, uncached baseline.

    The batch discount, the provider's prompt cache, routing, coalescing and the
    exact cache; None when nothing was saved.
    """
    totals = report.totals
    sources = [
        ("Batch discount", totals.batch_savings),
        ("Provider cache", totals.provider_cache_savings),
        ("Routing", totals.routing_savings),
        ("Coalescing", totals.coalescing_savings),
        ("Cache", totals.cache_savings),
    ]
    if all(amount == 0 for _, amount in sources):
        return None
    figure = _figure(9.5, 2.9)
    axes = figure.add_subplot()
    values = [float(amount) for _, amount in sources]
    bars = axes.barh(
        [name for name, _ in sources],
        values,
        color=[PALETTE[i % len(PALETTE)] for i in (4, 1, 2, 3, 0)],
        height=0.6,
    )
    labels = [
        f" {format_money(amount)} ({format_share(amount, totals.baseline)} of baseline)"
        for _, amount in sources
    ]
    axes.bar_label(bars, labels=labels, fontsize=9, color=_TEXT)
    axes.set_xlim(0, max(*values, 0.0) * 1.45 or 1.0)  # room for the labels
    _dollar_axis(axes, "x")
    axes.grid(axis="x", color="#e4e7eb")
    _style(axes)
    return _png(figure)
