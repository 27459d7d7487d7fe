"""Charts as small inline SVG, drawn by matplotlib on the server.

Text stays text (`svg.fonttype: none`): the browser draws it with its own fonts,
so Chinese labels need no font here, the SVG stays small, and the numbers can be
selected and read by screen readers. Every chart on a page also has its numbers in
an HTML table next to it; the charts are a picture of those tables.
"""

from __future__ import annotations

import io
import re
import threading
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib
from cycler import cycler
from markupsafe import Markup
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter

# rc_context changes matplotlib's global settings while it is active: one chart at a time.
_LOCK = threading.Lock()
_STYLE: dict[Any, Any] = {
    "svg.fonttype": "none",
    # Fixed ids: the same data gives the same SVG, and pages are reproducible.
    "svg.hashsalt": "careflow-console",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.prop_cycle": cycler(
        color=["#2f6db5", "#e07b39", "#4f9d69", "#b5475f", "#7a5fb5", "#8c8c8c"]
    ),
}
_SIZE = (6.4, 2.4)
_PROLOG = re.compile(r"^.*?(?=<svg)", re.DOTALL)


def stacked_bars(labels: Sequence[str], series: Mapping[str, Sequence[int]], title: str) -> Markup:
    """One bar per label, stacked by series (messages per day by journey, breaches by level)."""
    with _LOCK, matplotlib.rc_context(_STYLE):
        figure = Figure(figsize=_SIZE)
        axes = figure.subplots()
        positions = range(len(labels))
        bottom = [0] * len(labels)
        for name, values in series.items():
            axes.bar(positions, values, bottom=bottom, label=name, width=0.8)
            bottom = [base + value for base, value in zip(bottom, values, strict=True)]
        axes.yaxis.set_major_locator(MaxNLocator(integer=True))
        _finish(axes, labels, legend=bool(series))
        return _svg(figure, title)


def line(labels: Sequence[str], values: Sequence[float | None], title: str) -> Markup:
    """A share over time (0-100 %); a missing value (no data that day) leaves a gap."""
    with _LOCK, matplotlib.rc_context(_STYLE):
        figure = Figure(figsize=_SIZE)
        axes = figure.subplots()
        points = [float("nan") if value is None else value for value in values]
        axes.plot(range(len(labels)), points, marker="o", markersize=3)
        axes.set_ylim(0, 1.05)
        axes.yaxis.set_major_formatter(PercentFormatter(xmax=1))
        _finish(axes, labels, legend=False)
        return _svg(figure, title)


def grouped_bars(
    labels: Sequence[str], series: Mapping[str, Sequence[float | None]], title: str
) -> Markup:
    """Bars side by side per label (offer conversion against the holdout group), 0-100 %."""
    with _LOCK, matplotlib.rc_context(_STYLE):
        figure = Figure(figsize=_SIZE)
        axes = figure.subplots()
        width = 0.8 / max(len(series), 1)
        for number, (name, values) in enumerate(series.items()):
            heights = [0.0 if value is None else value for value in values]
            offsets = [
                position + (number - (len(series) - 1) / 2) * width
                for position in range(len(labels))
            ]
            axes.bar(offsets, heights, width=width, label=name)
        axes.set_ylim(0, 1.05)
        axes.yaxis.set_major_formatter(PercentFormatter(xmax=1))
        _finish(axes, labels, legend=bool(series))
        return _svg(figure, title)


def _finish(axes: object, labels: Sequence[str], *, legend: bool) -> None:
    from matplotlib.axes import Axes

    assert isinstance(axes, Axes)
    # At most about 10 tick labels, so 30 days stay readable.
    step = max(1, len(labels) // 10 + (1 if len(labels) % 10 else 0))
    ticks = list(range(0, len(labels), step))
    axes.set_xticks(ticks, [labels[tick] for tick in ticks])
    axes.grid(axis="y", linewidth=0.4, alpha=0.5)
    if legend:
        # Above the plot, so it never hides a bar.
        axes.legend(loc="lower left", bbox_to_anchor=(0, 1.0), fontsize=8, frameon=False, ncols=4)


def _svg(figure: Figure, title: str) -> Markup:
    buffer = io.StringIO()
    with warnings.catch_warnings():
        # matplotlib measures text with its own fonts even when the browser draws it;
        # a glyph they lack (Chinese) only makes that measure approximate.
        warnings.filterwarnings(
            "ignore", message="Glyph .* missing from font", category=UserWarning
        )
        # Fixed margins rather than bbox_inches="tight", which draws every chart twice.
        figure.subplots_adjust(left=0.07, right=0.99, top=0.86, bottom=0.11)
        figure.savefig(
            buffer,
            format="svg",
            metadata={"Date": None, "Creator": None, "Format": None, "Type": None},
        )
    svg = _PROLOG.sub("", buffer.getvalue(), count=1)
    label = Markup(' role="img" aria-label="{}"').format(title)
    # matplotlib escapes the text it writes; the only addition is the escaped label.
    return Markup(svg.replace("<svg ", f"<svg{label} ", 1))  # noqa: S704
