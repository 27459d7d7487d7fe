"""What every benchmark reports, and how `python -m bench` shows and stores it.

A benchmark returns `Figure`s: one measured quantity for careflow next to the
same quantity for its baseline, measured in the same run, and the target the
ratio between them must meet. The harness only formats and stores them; each
benchmark module owns how it measures.
"""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from rich.console import Console
from rich.table import Table

# "higher" when more is better (throughput), "lower" when less is (time, memory).
Better = Literal["higher", "lower"]


@dataclass(frozen=True)
class Figure:
    """One measured figure: careflow's value, its baseline's, and the target ratio."""

    benchmark: str
    name: str
    unit: str
    careflow: float
    baseline: float
    better: Better
    # careflow / baseline must be at least (better="higher") or at most this.
    target_ratio: float | None = None
    # An absolute bound on careflow's value, when the issue sets one (p99 < 2 s).
    target_value: float | None = None
    note: str = ""

    @property
    def ratio(self) -> float:
        return self.careflow / self.baseline if self.baseline else float("inf")

    @property
    def target(self) -> str:
        """The target in words, e.g. ">= 0.70x" or "< 2 s"."""
        parts = []
        if self.target_ratio is not None:
            sign = ">=" if self.better == "higher" else "<="
            parts.append(f"{sign} {self.target_ratio:g}x")
        if self.target_value is not None:
            sign = ">" if self.better == "higher" else "<"
            parts.append(f"{sign} {self.target_value:g} {self.unit}")
        return ", ".join(parts) or "(reported)"

    @property
    def passed(self) -> bool | None:
        """None when the figure has no target (it is reported, not judged)."""
        if self.target_ratio is None and self.target_value is None:
            return None
        higher = self.better == "higher"
        ok = True
        if self.target_ratio is not None:
            ok &= self.ratio >= self.target_ratio if higher else self.ratio <= self.target_ratio
        if self.target_value is not None:
            ok &= self.careflow > self.target_value if higher else self.careflow < self.target_value
        return ok


def _number(value: float) -> str:
    if value == 0 or abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:,.1f}"
    return f"{value:,.3g}"


def render_table(figures: Sequence[Figure], console: Console) -> None:
    """One row per figure: values, ratio, target and verdict."""
    table = Table(title="careflow benchmarks", title_justify="left")
    for column in ("benchmark", "figure", "careflow", "baseline", "ratio", "target", "result"):
        numeric = column in ("careflow", "baseline", "ratio")
        table.add_column(column, justify="right" if numeric else "left")
    for figure in figures:
        verdict = {True: "[green]pass[/]", False: "[red]FAIL[/]", None: "-"}[figure.passed]
        table.add_row(
            figure.benchmark,
            figure.name + (f" ({figure.note})" if figure.note else ""),
            f"{_number(figure.careflow)} {figure.unit}",
            f"{_number(figure.baseline)} {figure.unit}",
            f"{figure.ratio:.2f}x",
            figure.target,
            verdict,
        )
    console.print(table)


def write_results(
    path: Path,
    figures: Sequence[Figure],
    *,
    options: dict[str, object],
    seconds: float,
    failures: dict[str, str],
) -> None:
    """The figures as JSON, with the machine and options they were measured with."""
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "options": options,
        "seconds": round(seconds, 1),
        "failures": failures,
        "figures": [
            {
                **asdict(figure),
                "ratio": figure.ratio,
                "target": figure.target,
                "passed": figure.passed,
            }
            for figure in figures
        ],
    }
    path.write_text(json.dumps(document, indent=2) + "\n")
