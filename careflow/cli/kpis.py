"""`careflow kpis [--since DATE] [--until DATE] [--json]`: what the automation achieved."""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict
from datetime import datetime

import typer
from rich.console import Console
from rich.table import Table

from careflow.cli.app import app
from careflow.cli.scan import parse_when
from careflow.config import load_settings
from careflow.kpis import (
    DEFAULT_GOOD_SCORE,
    KpiReport,
    KpiSettings,
    compute_kpis,
    kpi_period,
    kpi_settings,
)
from careflow.store import create_database

console = Console()
err = Console(stderr=True)


@app.command()
def kpis(
    since: str | None = typer.Option(
        None, "--since", help="Start of the period (ISO 8601 date or time); default 30 days ago."
    ),
    until: str | None = typer.Option(
        None, "--until", help="End of the period, exclusive (ISO 8601); default now."
    ),
    good_score: int = typer.Option(
        DEFAULT_GOOD_SCORE, "--good-score", min=1, max=5, help="Survey scores at or above are good."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
) -> None:
    """Satisfaction, complaints, SLA breaches, churn, offer conversion vs holdout, messages."""
    start, end = kpi_period(parse_when(since), parse_when(until))
    if start >= end:
        raise typer.BadParameter(f"--since {start.isoformat()} is not before {end.isoformat()}")
    settings = kpi_settings(load_settings().rules_dir, good_score=good_score)
    report = asyncio.run(_report(start, end, settings))
    if as_json:
        print(json.dumps(asdict(report), default=str, ensure_ascii=False))
        return
    print_report(report)


async def _report(since: datetime, until: datetime, settings: KpiSettings) -> KpiReport:
    db = create_database(load_settings().sqlalchemy_url)
    try:
        await db.migrate()
        return await compute_kpis(db, since, until, settings)
    finally:
        await db.dispose()


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _number(value: float | None, unit: str = "") -> str:
    return "-" if value is None else f"{value:g}{unit}"


def print_report(report: KpiReport) -> None:
    """The report as a few small tables."""
    console.print(
        f"KPIs from {report.since:%Y-%m-%d %H:%M} to {report.until:%Y-%m-%d %H:%M} UTC",
        style="bold",
    )
    care = Table(title="care", show_header=False)
    s, c = report.satisfaction, report.complaints
    care.add_row(
        f"satisfaction (score >= {s.good_score})", f"{_rate(s.rate)} of {s.responses} answers"
    )
    care.add_row("complaints resolved", f"{c.resolved} of {c.opened} ({_rate(c.rate)})")
    care.add_row(
        "resolution time",
        f"mean {_number(c.mean_hours, ' h')}, median {_number(c.median_hours, ' h')}",
    )
    for level, count in report.sla_breaches_by_level.items():
        care.add_row(f"SLA breaches escalated to {level}", str(count))
    console.print(care)
    churn = Table(title="churn by tier (tier at the start of the period)")
    for column in ("tier", "customers", "churned", "rate"):
        churn.add_column(column)
    for row in report.churn_by_tier:
        churn.add_row(row.tier, str(row.customers), str(row.churned), _rate(row.rate))
    console.print(churn)
    retention = report.retention_offer
    offers = Table(title=f"retention offers: order within {retention.window_days:g} days")
    for column in ("group", "measured", "converted", "rate", "window still open"):
        offers.add_column(column)
    for name, group in (("offer sent", retention.offered), ("holdout", retention.holdout)):
        offers.add_row(
            name, str(group.journeys), str(group.converted), _rate(group.rate), str(group.waiting)
        )
    console.print(offers)
    console.print(f"uplift over holdout: {_rate(retention.uplift)}")
    messages = Table(title="messages")
    for column in ("status", "reason", "count"):
        messages.add_column(column)
    for message in report.messages:
        messages.add_row(message.status, message.reason or "-", str(message.count))
    console.print(messages)
    if report.sent_by_channel:
        console.print(
            "sent by channel: "
            + ", ".join(f"{channel} {count}" for channel, count in report.sent_by_channel.items())
        )
