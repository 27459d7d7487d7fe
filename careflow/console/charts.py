"""The overview's charts, as data for the browser: Apache ECharts draws them there.

Each chart is a small JSON spec (labels, series, whether the values are counts or
shares) written into the page in a `data-chart` attribute; `static/charts.js` turns
it into an ECharts option: values on hover, a legend whose entries hide and show
their series, day labels that leave out what would overlap, a count axis that starts
at zero and has whole steps. A chart with nothing to show is not drawn: the page
says there is no data yet. ECharts is vendored in `static/echarts/` (its licence
beside it) and served by the app, so nothing is fetched from elsewhere, and every
chart still has its numbers in a table under it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

STATIC_DIR = Path(__file__).resolve().parent / "static"
# The scripts a page with charts loads, in order, from STATIC_DIR.
SCRIPTS = ("echarts/echarts.common.min.js", "charts.js")
# ECharts' own words (its toolbox and aria texts) in the console's languages.
ECHARTS_LOCALES = {"en": "EN", "zh-CN": "ZH"}


@dataclass(frozen=True)
class ChartSpec:
    """What `static/charts.js` draws: one value per label per series."""

    kind: Literal["bar", "line"]
    title: str
    labels: Sequence[str]
    # The label in full for the tooltip (`Nov 23, 2026` where the axis says `Nov 23`).
    titles: Sequence[str]
    series: Mapping[str, Sequence[float | None]]
    stacked: bool = False
    percent: bool = False
    locale: str = "EN"

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "title": self.title,
            "labels": list(self.labels),
            "titles": list(self.titles),
            "series": [
                {"name": name, "values": list(values)} for name, values in self.series.items()
            ],
            "stacked": self.stacked,
            "percent": self.percent,
            "locale": self.locale,
        }

    @property
    def empty(self) -> bool:
        """Nothing to draw: every value missing, and for counts every one zero (a share
        of 0 % is something to show; no count at all is not)."""
        values = [value for series in self.series.values() for value in series]
        if self.percent:
            return all(value is None for value in values)
        return not any(values)


def stacked_bars(
    labels: Sequence[str],
    titles: Sequence[str],
    series: Mapping[str, Sequence[int]],
    title: str,
    *,
    locale: str,
) -> ChartSpec:
    """One bar per label, stacked by series (messages per day by journey, breaches by level)."""
    return ChartSpec("bar", title, labels, titles, series, stacked=True, locale=locale)


def line(
    labels: Sequence[str],
    titles: Sequence[str],
    values: Sequence[float | None],
    name: str,
    title: str,
    *,
    locale: str,
) -> ChartSpec:
    """A share over time (0-100 %); a missing value (no data that day) leaves a gap."""
    return ChartSpec("line", title, labels, titles, {name: values}, percent=True, locale=locale)


def grouped_bars(
    labels: Sequence[str],
    titles: Sequence[str],
    series: Mapping[str, Sequence[float | None]],
    title: str,
    *,
    locale: str,
) -> ChartSpec:
    """Bars side by side per label (offer conversion against the holdout group), 0-100 %."""
    return ChartSpec("bar", title, labels, titles, series, percent=True, locale=locale)
