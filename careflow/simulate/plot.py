"""Messages per day per template as a stacked bar chart (PNG or SVG), with matplotlib."""

from __future__ import annotations

from pathlib import Path

import matplotlib

# No display: the chart is written to a file, never shown.
matplotlib.use("Agg")

import matplotlib.pyplot as plt  # after choosing the backend

# SVG ids derive from this salt instead of a random one: the same report gives the
# same file.
matplotlib.rcParams["svg.hashsalt"] = "careflow-simulate"


def plot_messages(per_day: dict[str, dict[str, int]], path: Path, *, title: str) -> None:
    """Write a stacked bar per day, one colour per template; the suffix picks the format."""
    if path.suffix.lower() not in (".png", ".svg"):
        raise ValueError(f"{path}: the plot is written as .png or .svg")
    days = list(per_day)
    templates = sorted({template for counts in per_day.values() for template in counts})
    figure, axes = plt.subplots(figsize=(max(6.0, len(days) * 0.18 + 2), 4.5))
    try:
        bottom = [0] * len(days)
        for template in templates:
            heights = [per_day[day].get(template, 0) for day in days]
            axes.bar(range(len(days)), heights, bottom=bottom, label=template, width=0.85)
            bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
        step = max(1, len(days) // 15)
        axes.set_xticks(range(0, len(days), step), days[::step], rotation=45, ha="right")
        axes.set_ylabel("messages sent")
        axes.set_title(title)
        if templates:
            axes.legend(fontsize="small")
        figure.tight_layout()
        # No creation date in the file: the same data gives the same bytes.
        metadata = {"Date": None} if path.suffix.lower() == ".svg" else {"Software": None}
        figure.savefig(path, metadata=metadata)
    finally:
        plt.close(figure)
