"""`careflow simulate`: run the real journeys over a purchase history, day by day.

By default the workflows, activities and outreach policies run on Temporal's
time-skipping test server (`careflow.simulate.run`); `--rules-only` is the quick
replay that only asks the rules (`careflow.simulate.replay`).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import asdict
from datetime import date, datetime
from functools import partial
from pathlib import Path
from typing import TypeVar

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

from careflow.campaigns.spec import CampaignSpec
from careflow.cli.app import app
from careflow.cli.journeys import load_rules_or_exit
from careflow.config import Settings, load_settings
from careflow.experiments.assign import HOLDOUT_VARIANT
from careflow.facts.config import TIERS_FILE_NAME, FactsConfig, load_facts_config
from careflow.holdout import HOLDOUT_FILE_NAME, HoldoutConfig, load_holdout_config
from careflow.intake.importer import ImportRejected
from careflow.rules import RuleBook
from careflow.segments import SegmentBook
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
from careflow.simulate.campaigns import CampaignSimulation, simulate_campaign
from careflow.simulate.outcomes import (
    JourneyReport,
    Receivers,
    RunComparison,
    compare_runs,
    summarise_run,
)
from careflow.simulate.plot import PLOT_SUFFIXES, plot_messages
from careflow.simulate.run import run_journeys

T = TypeVar("T")

# Scratch stores of simulated data sets, under CAREFLOW_HOME.
SCRATCH_FOLDER = "simulate"
console = Console()
err = Console(stderr=True)


@app.command()
def simulate(
    data: Path = typer.Option(
        ..., "--data", help="Folder with customers.csv, orders.csv, complaints.csv (import format)."
    ),
    start: str | None = typer.Option(
        None,
        "--from",
        help="First simulated day (YYYY-MM-DD, UTC); with --campaign, start the campaigns "
        "on this day (at their own time of day) instead of their start.",
    ),
    days: int | None = typer.Option(
        None, "--days", min=1, help="How many days to simulate (not with --campaign)."
    ),
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
    assume_email: bool = typer.Option(
        False,
        "--assume-email",
        help="Give customers without an address <id>@simulated.invalid (nothing is sent).",
    ),
    assume_approvals: str | None = typer.Option(
        None,
        "--assume-approvals",
        help="approve: offers needing approval go at once; reject: none is approved "
        "(default: nobody answers, so each waits and journeys.yaml's on_timeout decides).",
    ),
    customers: list[str] = typer.Option(
        [], "--customer", help="Show this customer's timeline (repeatable)."
    ),
    plot: Path | None = typer.Option(
        None,
        "--plot",
        help="Chart of messages per day per template: .html (interactive, opens offline), "
        ".png or .svg.",
    ),
    rules_only: bool = typer.Option(
        False, "--rules-only", help="Only ask the rules (quick): no journeys run, no messages."
    ),
    workers: int = typer.Option(
        os.cpu_count() or 1,
        "--workers",
        min=1,
        help="Processes simulating partitions of the customers side by side (default: the "
        "number of cores); the report is the same whatever the number.",
    ),
    campaigns: list[str] = typer.Option(
        [],
        "--campaign",
        help="A campaign of rules/campaigns/ (repeatable, to compare designs): who would "
        "have received it at its start and how many reached its goal, per variant.",
    ),
) -> None:
    """Run the real journeys over history: rules fired, journeys, messages per day, offers."""
    try:
        first_day = date.fromisoformat(start) if start is not None else None
    except ValueError:
        raise typer.BadParameter(f"{start!r} is not a date like 1997-10-01") from None
    settings = load_settings()
    if campaigns:
        _campaign_command(
            data,
            campaigns,
            rules_dir or settings.rules_dir,
            settings,
            first_day=first_day,
            assume_consent=assume_consent,
            json_file=json_file,
        )
        return
    if first_day is None or days is None:
        raise typer.BadParameter("--from and --days are needed (unless --campaign is given)")
    if assume_approvals not in (None, "approve", "reject"):
        raise typer.BadParameter(
            f"--assume-approvals: expected approve or reject, not {assume_approvals!r}"
        )
    if plot is not None and plot.suffix.lower() not in PLOT_SUFFIXES:
        raise typer.BadParameter(f"{plot}: expected a .html, .png or .svg file name")
    base_dir = rules_dir or settings.rules_dir
    runs = [base_dir, *([other_rules] if other_rules else [])]
    rulebooks = [load_rules_or_exit(directory, settings) for directory in runs]
    if not rules_only:
        _journey_command(
            data,
            runs,
            settings,
            first_day,
            days,
            assume_consent=assume_consent,
            assume_email=assume_email,
            assume_approvals=assume_approvals,
            customers=customers,
            json_file=json_file,
            plot=plot,
            workers=workers,
        )
        return
    replays = _run_or_exit(
        rule_replays(data, rulebooks, runs, settings, first_day, days, assume_consent, customers)
    )
    result: SimulationReport | Comparison
    if len(replays) == 2:
        result = compare(*replays)
        print_comparison(result)
    else:
        result = summarise(replays[0])
        print_report(result)
    if json_file is not None:
        _write_json(json_file, result)


def _journey_command(
    data: Path,
    folders: list[Path],
    settings: Settings,
    first_day: date,
    days: int,
    *,
    assume_consent: bool,
    assume_email: bool,
    assume_approvals: str | None,
    customers: list[str],
    json_file: Path | None,
    plot: Path | None,
    workers: int,
) -> None:
    results = _run_or_exit(
        journey_runs(
            data,
            folders,
            settings,
            first_day,
            days,
            assume_consent=assume_consent,
            assume_email=assume_email,
            assume_approvals=assume_approvals,
            customers=customers,
            workers=workers,
        )
    )
    result: JourneyReport | RunComparison
    if len(results) == 2:
        result = compare_runs(*results)
        print_journey_report(result.base)
        print_run_comparison(result)
        per_day = result.other.messages_per_day
    else:
        result = results[0][0]
        print_journey_report(result)
        per_day = result.messages_per_day
    if plot is not None:
        title = f"messages per day from {first_day} ({days} days)"
        if isinstance(result, RunComparison):
            title += f", rules {result.other.ruleset_hash[:12]}"
        plot_messages(per_day, plot, title=title)
        err.print(f"plot written to {plot}")
    if json_file is not None:
        _write_json(json_file, result)


def _campaign_command(
    data: Path,
    names: list[str],
    folder: Path,
    settings: Settings,
    *,
    first_day: date | None,
    assume_consent: bool,
    json_file: Path | None,
) -> None:
    from careflow.campaigns.spec import CampaignFileError, load_campaign
    from careflow.segments import SegmentsFileError, UnknownSegment, load_segments

    try:
        book = load_segments(folder)
        specs = [load_campaign(folder, name) for name in names]
    except (CampaignFileError, SegmentsFileError) as error:
        err.print(escape(str(error)))
        raise typer.Exit(2) from None
    for spec in specs:
        if spec.segment not in book:
            err.print(escape(f"campaign {spec.name}: {UnknownSegment(spec.segment, book.names())}"))
            raise typer.Exit(2)
    results = _run_or_exit(
        campaign_simulations(
            data, specs, book, folder, settings, first_day=first_day, assume_consent=assume_consent
        )
    )
    print_campaigns(results)
    if json_file is not None:
        shown = [
            {
                **asdict(result),
                "rates": {name: group.rate for name, group in result.variants.items()}
                | {HOLDOUT_VARIANT: result.holdout.rate},
            }
            for result in results
        ]
        json_file.write_text(
            json.dumps(shown, default=str, ensure_ascii=False, indent=1), encoding="utf-8"
        )


async def campaign_simulations(
    data: Path,
    specs: list[CampaignSpec],
    book: SegmentBook,
    folder: Path,
    settings: Settings,
    *,
    first_day: date | None,
    assume_consent: bool,
) -> list[CampaignSimulation]:
    """Each campaign over the data's scratch store, one after the other."""
    from careflow.activities.registry import build_outreach
    from careflow.channels.sending import DECIDING_ONLY_URL, SmsChannel
    from careflow.journey_config import JOURNEYS_FILE_NAME
    from careflow.outreach.mailer import SmtpDelivery
    from careflow.outreach.policy_config import POLICY_FILE_NAME, load_outreach_policy

    cache = settings.resolved_home / SCRATCH_FOLDER
    with err.status(f"loading {data} (imported once, kept in {cache})"):
        db = await scratch_store(data, cache, assume_consent=assume_consent)
    folder_settings = settings.model_copy(update={"rules_dir": folder})
    # Judged as `careflow up` would send (`url: capture`); nothing is sent.
    sms = SmsChannel(folder, settings.templates_dir, capture_url=DECIDING_ONLY_URL)
    policy_path = folder / POLICY_FILE_NAME
    outreach = build_outreach(
        folder_settings,
        db=db,
        # Never used: nothing is sent or recorded.
        delivery=SmtpDelivery(settings.smtp_target),
        journey_config=folder / JOURNEYS_FILE_NAME,
        policy=lambda: load_outreach_policy(policy_path if policy_path.is_file() else None),
        sms=sms,
    )
    try:
        results = []
        for spec in specs:
            at = spec.start
            if first_day is not None:
                at = datetime.combine(first_day, spec.start.timetz())
            with err.status(f"simulating campaign {spec.name} at {at.isoformat()}"):
                results.append(await simulate_campaign(db, outreach, spec, book, at=at))
        return results
    finally:
        await sms.close()
        await db.dispose()


def print_campaigns(results: list[CampaignSimulation]) -> None:
    """Per campaign: audience, exclusions, and per variant receivers and goal rate."""
    for result in results:
        console.print(
            f"[bold]campaign {escape(result.campaign)}[/] at {result.at.isoformat()}: "
            f"segment {escape(result.segment)} had {result.audience:,} members; "
            f"{result.received:,} would have received it, {result.holdout.customers:,} held out"
        )
        if result.excluded:
            most = sorted(result.excluded.items(), key=lambda item: -item[1])
            excluded = ", ".join(f"{reason} {n:,}" for reason, n in most)
            console.print(f"  excluded: {excluded}")
    table = Table(title="goal reached per variant (history after each start)")
    for column in ("campaign", "variant", "template", "goal", "customers", "reached", "rate"):
        table.add_column(
            column, justify="right" if column in ("customers", "reached", "rate") else "left"
        )
    table.add_column("vs holdout", justify="right")
    for result in results:
        rows = [(name, result.templates[name], group) for name, group in result.variants.items()]
        rows.append((HOLDOUT_VARIANT, "-", result.holdout))
        for name, template, group in rows:
            lift = result.lift(name) if name != HOLDOUT_VARIANT else None
            table.add_row(
                result.campaign,
                name,
                template,
                result.goal or "no goal",
                f"{group.customers:,}",
                f"{group.reached_goal:,}" if result.goal else "-",
                _percent(group.rate) if result.goal else "-",
                "-" if lift is None else f"{lift * 100:+.1f} pts",
            )
    console.print(table)


def _percent(rate: float | None) -> str:
    return "-" if rate is None else f"{rate * 100:.1f}%"


def _run_or_exit(work: Coroutine[object, object, T]) -> T:
    """Run the simulation; bad data ends the command with its problems, nothing else."""
    try:
        return asyncio.run(work)
    except SimulationDataError as error:
        err.print(f"[red]{escape(str(error))}[/]")
        raise typer.Exit(1) from None
    except ImportRejected as error:
        for problem in error.problems:
            err.print(escape(str(problem)), highlight=False, soft_wrap=True)
        err.print(f"[red]{error}: nothing simulated[/]")
        raise typer.Exit(1) from None
    except asyncio.CancelledError:
        # SIGTERM (careflow/simulate/run.py): the test servers and workers are stopped.
        err.print("[red]simulation stopped (SIGTERM): nothing reported[/]")
        raise typer.Exit(128 + signal.SIGTERM) from None


def _write_json(
    path: Path, result: SimulationReport | Comparison | JourneyReport | RunComparison
) -> None:
    path.write_text(json.dumps(asdict(result), default=str, ensure_ascii=False, indent=1), "utf-8")


async def journey_runs(
    data: Path,
    folders: list[Path],
    settings: Settings,
    first_day: date,
    days: int,
    *,
    assume_consent: bool,
    assume_email: bool,
    customers: list[str],
    on_day: Callable[[date], None] | None = None,
    workers: int = 1,
    assume_approvals: str | None = None,
) -> list[tuple[JourneyReport, Receivers]]:
    """One run per rules folder, its report and receivers; `on_day` also hears each day end."""
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        # Moves within a day too: a day that sends thousands of offers takes minutes.
        TextColumn("{task.fields[sent]:,} messages sent"),
    )
    results = []
    with Progress(*columns, TimeElapsedColumn(), console=err, transient=True) as bar:
        tasks = [
            bar.add_task(f"{folder.name}: simulated days", total=days, sent=0) for folder in folders
        ]
        for number, (folder, task) in enumerate(zip(folders, tasks, strict=True)):
            run = await run_journeys(
                data,
                folder,
                settings=settings,
                # Each rule set's run keeps its store here, for `careflow kpis` and a look.
                work_dir=settings.resolved_home / SCRATCH_FOLDER / "runs" / f"run-{number}",
                start=first_day,
                days=days,
                assume_consent=assume_consent,
                assume_email=assume_email,
                assume_approvals=assume_approvals,
                on_day=partial(_advance, bar, task, on_day),
                on_sent=partial(_count_sent, bar, task),
                workers=workers,
            )
            try:
                results.append(await summarise_run(run, customers))
            finally:
                await run.dispose()
    return results


async def rule_replays(
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
                        on_day=partial(_advance, bar, task, None),
                    )
                )
            return results
    finally:
        await db.dispose()


def _advance(bar: Progress, task: TaskID, also: Callable[[date], None] | None, day: date) -> None:
    bar.advance(task)
    if also is not None:
        also(day)


def _count_sent(bar: Progress, task: TaskID, sent: int) -> None:
    bar.update(task, sent=sent)


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
    _print_who_changed(
        f"rules {base.ruleset_hash[:12]} vs {other.ruleset_hash[:12]}",
        [(d.journey, d.newly, d.no_longer) for d in comparison.journeys],
        [(r.rule_id, r.newly, r.no_longer) for r in comparison.rules],
    )
    console.print(_per_day("change in journeys started per day", comparison.starts_per_day_change))


Changes = list[tuple[str, Sequence[str], Sequence[str]]]


def _print_who_changed(title: str, journeys: Changes, rules: Changes) -> None:
    """Both comparisons' first two tables: who newly / no longer gets each journey, and
    the rules that fire for other customers."""
    console.print(_who_changed(title, "journey", journeys))
    console.print(_who_changed("rules that fire for other customers", "rule", rules))


def _who_changed(title: str, what: str, changes: Changes) -> Table:
    """One row per journey or rule: how many customers newly / no longer get it, and some names."""
    table = Table(title=title)
    for column in (what, "newly", "no longer", "customers newly / no longer"):
        table.add_column(column)
    for name, newly, no_longer in changes:
        names = ", ".join(newly[:5]) + " / " + ", ".join(no_longer[:5])
        table.add_row(name, str(len(newly)), str(len(no_longer)), names)
    return table


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


def print_journey_report(report: JourneyReport) -> None:
    """Rules, journeys, messages per day per template, deferrals, offers, then timelines."""
    console.print(
        f"{report.days} day(s) from {report.start}, rules {report.ruleset_hash[:12]} "
        f"(run {report.shift_days} days later on the test server's clock)",
        style="bold",
    )
    rules = Table(title="rules")
    for column in ("rule", "customers", "firings"):
        rules.add_column(column)
    for rule in report.rules:
        rules.add_row(rule.rule_id, str(rule.customers), str(rule.firings))
    console.print(rules)
    journeys = Table(title="journeys")
    columns = ("journey", "started", "held out", "completed", "goal met", "opted out", "running")
    for column in (*columns, "outcomes"):
        journeys.add_column(column)
    for j in report.journeys:
        outcomes = ", ".join(f"{name} {count}" for name, count in j.outcomes.items())
        journeys.add_row(
            j.journey,
            *(str(n) for n in (j.started, j.held_out, j.completed, j.goal_met, j.opted_out)),
            str(j.in_flight),
            outcomes,
        )
    console.print(journeys)
    console.print(_per_day("messages sent per day", report.messages_per_day))
    messages = Table("message", "count", title="messages by outcome")
    for name, count in report.messages_by_outcome.items():
        messages.add_row(escape(name), str(count))
    console.print(messages)
    deferred = Table("deferred for", "customers", "for example", title="deferrals")
    for reason, found in report.deferred_customers.items():
        deferred.add_row(reason, str(len(found)), ", ".join(found[:5]))
    console.print(deferred)
    offers = Table("currency", "offers sent", "value", "redeemed", "value", title="offers")
    for offer in report.offers:
        offers.add_row(
            offer.currency,
            str(offer.sent),
            f"{offer.value_sent:.2f}",
            str(offer.redeemed),
            f"{offer.value_redeemed:.2f}",
        )
    console.print(offers)
    for customer, lines in report.timelines.items():
        if not lines:
            console.print(f"timeline of {escape(customer)}: nothing happened", soft_wrap=True)
            continue
        timeline = Table("when (UTC)", "what", "summary", title=f"timeline of {escape(customer)}")
        for line in lines:
            timeline.add_row(line.at, line.kind, escape(line.summary))
        console.print(timeline)


def print_run_comparison(comparison: RunComparison) -> None:
    """Who newly or no longer gets each journey; change in messages and in offer value."""
    base, other = comparison.base, comparison.other
    _print_who_changed(
        f"journeys: rules {base.ruleset_hash[:12]} vs {other.ruleset_hash[:12]}",
        [(c.journey, c.newly, c.no_longer) for c in comparison.journeys],
        # A run comparison keeps each rule's id in the difference's `journey` field.
        [(c.journey, c.newly, c.no_longer) for c in comparison.rules],
    )
    console.print(_per_day("change in messages sent per day", comparison.messages_per_day_change))
    console.print(f"messages sent in all: {comparison.messages_change:+d}")
    for currency, sent in comparison.offer_value_sent_change.items():
        redeemed = comparison.offer_value_redeemed_change.get(currency, 0.0)
        console.print(
            f"offers ({currency or 'no currency'}): value sent {sent:+.2f}, "
            f"value redeemed {redeemed:+.2f}"
        )
