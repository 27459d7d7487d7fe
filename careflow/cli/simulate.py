"""`careflow simulate`: replay a purchase history through rule files, day by day."""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict
from datetime import date
from functools import partial
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from careflow.cli.app import app
from careflow.cli.journeys import load_rules_or_exit
from careflow.config import Settings, load_settings
from careflow.facts.config import TIERS_FILE_NAME, FactsConfig, load_facts_config
from careflow.holdout import HOLDOUT_FILE_NAME, HoldoutConfig, load_holdout_config
from careflow.intake.importer import ImportRejected
from careflow.simulate import (
    Comparison,
    Replay,
    SimulationDataError,
    SimulationReport,
    compare,
    replay,
    scratch_store,
    summarise,
)
from rules import RuleBook

# Scratch stores of simulated data sets, under CAREFLOW_HOME.
SCRATCH_FOLDER = "simulate"
console = Console()
err = Console(stderr=True)


@app.command()
def simulate(
    data: Path = typer.Option(
        ..., "--data", help="Folder with customers.csv, orders.csv, complaints.csv (import format)."
    ),
    start: str = typer.Option(..., "--from", help="First simulated day (YYYY-MM-DD, UTC)."),
    days: int = typer.Option(..., "--days", min=1, help="How many days to simulate."),
    rules_dir: Path | None = typer.Option(
        None, "--rules", help="Rules folder (default: the configured one)."
    ),
    other_rules: Path | None = typer.Option(
        None, "--compare", help="Another rules folder to replay over the same data."
    ),
    json_file: Path | None = typer.Option(None, "--json", help="Also write the report here."),
    assume_consent: bool = typer.Option(
        False, "--assume-consent", help="Treat every customer as consenting to marketing email."
    ),
    customers: list[str] = typer.Option(
        [], "--customer", help="Show this customer's timeline (repeatable)."
    ),
) -> None:
    """Which rules fire for whom, and which journeys would start each day (journeys not run)."""
    try:
        first_day = date.fromisoformat(start)
    except ValueError:
        raise typer.BadParameter(f"{start!r} is not a date like 1997-10-01") from None
    settings = load_settings()
    base_dir = rules_dir or settings.rules_dir
    runs = [base_dir, *([other_rules] if other_rules else [])]
    rulebooks = [load_rules_or_exit(directory, settings) for directory in runs]
    try:
        replays = asyncio.run(
            _replays(data, rulebooks, runs, settings, first_day, days, assume_consent, customers)
        )
    except SimulationDataError as error:
        err.print(f"[red]{escape(str(error))}[/]")
        raise typer.Exit(1) from None
    except ImportRejected as error:
        for problem in error.problems:
            err.print(escape(str(problem)), highlight=False, soft_wrap=True)
        err.print(f"[red]{error}: nothing simulated[/]")
        raise typer.Exit(1) from None
    result: SimulationReport | Comparison
    if len(replays) == 2:
        result = compare(*replays)
        print_comparison(result)
    else:
        result = summarise(replays[0])
        print_report(result)
    if json_file is not None:
        json_file.write_text(
            json.dumps(asdict(result), default=str, ensure_ascii=False, indent=1), "utf-8"
        )


async def _replays(
    data: Path,
    rulebooks: list[RuleBook],
    folders: list[Path],
    settings: Settings,
    first_day: date,
    days: int,
    assume_consent: bool,
    customers: list[str],
) -> list[Replay]:
    cache = settings.resolved_home / SCRATCH_FOLDER
    # The first run on a data set imports it (the slow part); later runs reuse it.
    with err.status(f"loading {data} (imported once, kept in {cache})"):
        db = await scratch_store(data, cache, assume_consent=assume_consent)
    try:
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
        with Progress(*columns, TimeElapsedColumn(), console=err, transient=True) as bar:
            results = []
            for rulebook, folder in zip(rulebooks, folders, strict=True):
                task = bar.add_task(f"simulating {folder.name} (days)", total=days)
                results.append(
                    await replay(
                        db,
                        rulebook,
                        start=first_day,
                        days=days,
                        facts_config=_facts_config(folder, settings),
                        holdout=_holdout(folder, settings),
                        follow=customers,
                        on_day=partial(_advance, bar, task),
                    )
                )
            return results
    finally:
        await db.dispose()


def _advance(bar: Progress, task: TaskID, _day: date) -> None:
    bar.advance(task)


def _facts_config(folder: Path, settings: Settings) -> FactsConfig:
    """The folder's own tiers.yaml when it has one, else the configured one."""
    own = folder / TIERS_FILE_NAME
    return load_facts_config(own if own.is_file() else settings.rules_dir / TIERS_FILE_NAME)


def _holdout(folder: Path, settings: Settings) -> HoldoutConfig:
    own = folder / HOLDOUT_FILE_NAME
    return load_holdout_config(own if own.is_file() else settings.rules_dir / HOLDOUT_FILE_NAME)


def print_report(report: SimulationReport) -> None:
    """Per rule, per journey and per day, then the timelines asked for."""
    console.print(
        f"{report.days} day(s) from {report.start}, rules {report.ruleset_hash[:12]}", style="bold"
    )
    rules = Table(title="rules")
    for column in ("rule", "customers", "firings"):
        rules.add_column(column)
    for rule in report.rules:
        rules.add_row(rule.rule_id, str(rule.customers), str(rule.firings))
    console.print(rules)
    journeys = Table(title="journeys (not run: starts only)")
    for column in ("journey", "started", "held out", "customers"):
        journeys.add_column(column)
    for journey in report.journeys:
        journeys.add_row(
            journey.journey, str(journey.started), str(journey.held_out), str(journey.customers)
        )
    console.print(journeys)
    console.print(_per_day("journeys started per day", report.starts_per_day))
    for customer, entries in report.timelines.items():
        console.print(f"timeline of {escape(customer)}", style="bold", soft_wrap=True)
        if not entries:
            console.print("  no rule fired and no journey started")
            continue
        timeline = Table("when (UTC)", "what")
        for entry in entries:
            timeline.add_row(entry.at, escape(entry.what))
        console.print(timeline)


def print_comparison(comparison: Comparison) -> None:
    """Both reports' journeys side by side, who newly gets or no longer gets each."""
    base, other = comparison.base, comparison.other
    table = Table(title=f"rules {base.ruleset_hash[:12]} vs {other.ruleset_hash[:12]}")
    for column in ("journey", "newly", "no longer", "customers newly / no longer"):
        table.add_column(column)
    for difference in comparison.journeys:
        names = ", ".join(difference.newly[:5]) + " / " + ", ".join(difference.no_longer[:5])
        table.add_row(
            difference.journey, str(len(difference.newly)), str(len(difference.no_longer)), names
        )
    console.print(table)
    rules = Table(title="rules that fire for other customers")
    for column in ("rule", "newly", "no longer", "customers newly / no longer"):
        rules.add_column(column)
    for rule in comparison.rules:
        names = ", ".join(rule.newly[:5]) + " / " + ", ".join(rule.no_longer[:5])
        rules.add_row(rule.rule_id, str(len(rule.newly)), str(len(rule.no_longer)), names)
    console.print(rules)
    console.print(_per_day("change in journeys started per day", comparison.starts_per_day_change))


def _per_day(title: str, per_day: dict[str, dict[str, int]]) -> Table:
    names = sorted({name for counts in per_day.values() for name in counts})
    table = Table(title=title)
    table.add_column("day")
    for name in names:
        table.add_column(name, justify="right")
    for day, counts in per_day.items():
        if counts:
            table.add_row(day, *(str(counts.get(name, 0)) for name in names))
    return table
