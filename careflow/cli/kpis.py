"""`careflow kpis [--since DATE] [--until DATE] [--timezone ZONE] [--json]`: what the
automation achieved. Dates and times without an offset are the team's
(careflow/team_zone.py), and the report says which zone that was."""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict
from datetime import datetime
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.table import Table

from careflow.cli.app import app
from careflow.cli.scan import parse_when
from careflow.config import load_settings
from careflow.config_files import ConfigFileError
from careflow.experiments.results import Arm, ExperimentResult
from careflow.facts.occasions import zone_or_none
from careflow.kpis import (
    DEFAULT_GOOD_SCORE,
    KpiReport,
    KpiSettings,
    compute_kpis,
    kpi_period,
    kpi_settings,
)
from careflow.store import create_database
from careflow.team_zone import offset_label, team_zone, zone_name

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
    timezone: str | None = typer.Option(
        None,
        "--timezone",
        help="IANA zone of dates without an offset (UTC, Asia/Shanghai); default the team's "
        "(CAREFLOW_TEAM_TIMEZONE, else outreach_policy.yaml's default_timezone).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
) -> None:
    """Satisfaction, complaints, SLA breaches, churn, offers vs holdout, messages, experiments."""
    app_settings = load_settings()
    try:
        zone = _zone(timezone) if timezone else team_zone(app_settings)
    except ConfigFileError as error:
        err.print(f"{error}; or name the zone with --timezone", markup=False)
        raise typer.Exit(2) from None
    start, end = kpi_period(parse_local(since), parse_local(until), zone=zone)
    if start >= end:
        raise typer.BadParameter(f"--since {start.isoformat()} is not before {end.isoformat()}")
    settings = kpi_settings(app_settings.rules_dir, good_score=good_score)
    report = asyncio.run(_report(start, end, settings, zone_name(zone)))
    if as_json:
        print(json.dumps(asdict(report), default=str, ensure_ascii=False))
        return
    print_report(report)


def _zone(name: str) -> ZoneInfo:
    zone = zone_or_none(name)
    if zone is None:
        raise typer.BadParameter(
            f"{name!r} is not an IANA time zone, e.g. UTC or Asia/Shanghai", param_hint="--timezone"
        )
    return zone


def parse_local(value: str | None) -> datetime | None:
    """ISO 8601 as given: a time without an offset stays naive, for the team's zone."""
    if value is None:
        return None
    parsed = parse_when(value)  # checks the form and the range, naming the value
    assert parsed is not None
    return parsed if datetime.fromisoformat(value).tzinfo else parsed.replace(tzinfo=None)


async def _report(
    since: datetime, until: datetime, settings: KpiSettings, timezone: str
) -> KpiReport:
    db = create_database(load_settings().sqlalchemy_url)
    try:
        await db.migrate()
        return await compute_kpis(db, since, until, settings, timezone=timezone)
    finally:
        await db.dispose()


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _number(value: float | None, unit: str = "") -> str:
    return "-" if value is None else f"{value:g}{unit}"


def print_report(report: KpiReport) -> None:
    """The report as a few small tables."""
    zone = ZoneInfo(report.timezone)
    since, until = report.since.astimezone(zone), report.until.astimezone(zone)
    console.print(
        f"KPIs from {since:%Y-%m-%d %H:%M} to {until:%Y-%m-%d %H:%M} {report.timezone}"
        f" ({offset_label(until, zone)})",
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
    r = report.first_response
    care.add_row(
        "first response",
        f"{r.within_target} within target, {r.late} late, {r.missed} missed, of {r.with_target}"
        f" (mean {_number(r.mean_hours, ' h')})",
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
    for experiment in report.experiments:
        print_experiment(experiment)


def _interval(arm: Arm) -> str:
    if arm.low is None or arm.high is None:
        return "-"
    return f"{arm.low:.1%} - {arm.high:.1%}"


def print_experiment(result: ExperimentResult) -> None:
    """One experiment: each variant and the holdout, the comparisons and the verdict."""
    goal = result.goal
    table = Table(
        title=f"experiment {result.experiment}: {goal.event} within {goal.within_days:g} days"
    )
    for column in ("variant", "sent", "reached goal", "conversion", "95% interval", "waiting"):
        table.add_column(column)
    arms = [*result.variants, *([result.holdout] if result.holdout else [])]
    for arm in arms:
        table.add_row(
            arm.name,
            str(arm.sent),
            str(arm.reached),
            _rate(arm.rate),
            _interval(arm),
            str(arm.waiting),
        )
    console.print(table)
    for comparison in (*result.between_variants, *result.against_holdout):
        console.print(
            f"  {comparison.first} vs {comparison.second}: {comparison.difference:+.1%}"
            f" (z {comparison.z:.2f}, p {comparison.p_value:.3g},"
            f" Holm-adjusted {comparison.adjusted_p_value:.3g})"
            + (" significant" if comparison.significant else ""),
            soft_wrap=True,
        )
    winner = f": {result.winner}" if result.winner else ""
    console.print(
        f"  verdict: {result.verdict}{winner} ({result.reason})", markup=False, soft_wrap=True
    )
