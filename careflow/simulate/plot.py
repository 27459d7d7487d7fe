"""Messages per day per template as a stacked bar chart.

`.html` is the interactive chart of the console (Apache ECharts with careflow's
`console/static/charts.js`, both written into the file, so it opens offline in any
browser), with the numbers as a table under it. `.png` and `.svg` are still pictures
drawn by matplotlib, for documents and places that run no script.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

PLOT_SUFFIXES = (".html", ".png", ".svg")


def plot_messages(per_day: dict[str, dict[str, int]], path: Path, *, title: str) -> None:
    """Write a stacked bar per day, one colour per template; the suffix picks the format."""
    suffix = path.suffix.lower()
    if suffix not in PLOT_SUFFIXES:
        raise ValueError(f"{path}: the plot is written as .html, .png or .svg")
    if suffix == ".html":
        path.write_text(messages_page(per_day, title), encoding="utf-8")
    else:
        _picture(per_day, path, title)


def _templates(per_day: dict[str, dict[str, int]]) -> list[str]:
    return sorted({template for counts in per_day.values() for template in counts})


def messages_page(per_day: dict[str, dict[str, int]], title: str) -> str:
    """A self-contained HTML page: the chart, then its numbers as a table."""
    # Imported here: `careflow simulate` starts without the console's web stack.
    from careflow.console.charts import SCRIPTS, STATIC_DIR, stacked_bars

    days = list(per_day)
    templates = _templates(per_day)
    spec = stacked_bars(
        days,
        days,
        {template: [per_day[day].get(template, 0) for day in days] for template in templates},
        title,
        locale="EN",
    )
    # Inline scripts end at the first `</`: written as `<\/`, which JavaScript reads the same.
    scripts = "\n".join(
        "<script>"
        + (STATIC_DIR / name).read_text(encoding="utf-8").replace("</", "<\\/")
        + "</script>"
        for name in SCRIPTS
    )
    chart = (
        f"<p>{html.escape(title)}: no messages were sent.</p>"
        if spec.empty
        else f'<div class="chart-box" id="chart-messages" role="img" '
        f'aria-label="{html.escape(title)}" '
        f'data-chart="{html.escape(json.dumps(spec.as_json(), ensure_ascii=False))}"></div>'
    )
    head = "".join(f'<th class="num">{html.escape(template)}</th>' for template in templates)
    rows = "".join(
        f'<tr data-day="{html.escape(day)}"><td>{html.escape(day)}</td>'
        + "".join(f'<td class="num">{per_day[day].get(template, 0)}</td>' for template in templates)
        + "</tr>"
        for day in days
    )
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{html.escape(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1.5rem; color: #1d2733; }}
.chart-box {{ width: 100%; height: 420px; }}
table {{ border-collapse: collapse; margin-top: 1rem; }}
td, th {{ padding: .15rem .6rem; border-bottom: 1px solid #d9dee5; text-align: left; }}
.num {{ text-align: right; }}
</style>
{scripts}
</head>
<body>
<h1>{html.escape(title)}</h1>
{chart}
<table id="table-messages">
<thead><tr><th>day</th>{head}</tr></thead>
<tbody>{rows}</tbody>
</table>
</body>
</html>
"""


def _picture(per_day: dict[str, dict[str, int]], path: Path, title: str) -> None:
    # Imported here: only the still pictures need matplotlib.
    import matplotlib

    # No display: the chart is written to a file, never shown.
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # after choosing the backend

    days = list(per_day)
    templates = _templates(per_day)
    # SVG ids derive from this salt instead of a random one: the same report gives the
    # same file.
    with matplotlib.rc_context({"svg.hashsalt": "careflow-simulate"}):
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
