"""`careflow rules propose|check-release|activate|rollback|releases`: rule changes as releases.

Whoever runs these commands on the server acts as `cli:<account>` with the admin role
(as the `users` commands do); the review rules still apply by name, so the account
that proposed a release cannot activate it unless `CAREFLOW_RELEASE_SELF_APPROVAL` is
set. Every step is in the audit log (careflow/releases/repository.py).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from careflow.cli.audit import cli_actor
from careflow.cli.rules import rules_app
from careflow.config import Settings, load_settings
from careflow.console.roles import Role
from careflow.operator_language import operator_language, say_problem
from careflow.releases.backtest import (
    DEFAULT_DAYS,
    DEFAULT_SAMPLE,
    MAX_DAYS,
    MAX_SAMPLE,
    BacktestUnavailable,
    backtest_release,
)
from careflow.releases.bundle import BundleError
from careflow.releases.checking import CheckReport
from careflow.releases.diff import Change, diff_releases
from careflow.releases.impact import journeys_in_flight_of_changes
from careflow.releases.lifecycle import (
    ActivationRefused,
    Actor,
    ReviewPolicy,
    activate,
    check_release,
    propose_folder,
    rollback,
)
from careflow.releases.repository import (
    ReleaseNotFound,
    ReleaseSummary,
    active_release_id,
    list_releases,
    release_files,
    resolve_id,
)
from careflow.rule_impact import JourneyInFlight
from careflow.store import Database, create_database

T = TypeVar("T")
console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def review_policy(settings: Settings) -> ReviewPolicy:
    """Who may activate, from `CAREFLOW_RELEASE_APPROVER_ROLE` and `..._SELF_APPROVAL`."""
    return ReviewPolicy(
        approver_role=Role(settings.release_approver_role),
        self_approval=settings.release_self_approval,
    )


def cache_dir(settings: Settings) -> Path:
    """Where this machine writes releases out to check them."""
    return settings.resolved_home / "releases"


def _run(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    async def run() -> T:
        db = create_database(settings.sqlalchemy_url)
        try:
            await db.migrate()
            return await work(db)
        finally:
            await db.dispose()

    try:
        return asyncio.run(run())
    except (ReleaseNotFound, ActivationRefused) as error:
        err.print(f"[red]{escape(str(error))}[/]")
        raise typer.Exit(1) from None


def print_check(report: CheckReport) -> None:
    """The check's problems, each `file:line:col: message`, or what passed."""
    language = operator_language()
    for problem in report.problems:
        console.print(escape(say_problem(problem, language)), highlight=False, soft_wrap=True)
    if report.passed:
        console.print(
            f"[green]check passed[/]: {report.rulesets} ruleset(s), {report.rules} rule(s), "
            f"{report.examples} example(s)"
        )
    else:
        err.print(f"[red]check failed: {len(report.problems)} problem(s)[/]")


@rules_app.command()
def propose(
    folder: Path | None = typer.Argument(
        None, help="The rules folder (default: the configured one)."
    ),
    templates: Path | None = typer.Option(
        None, "--templates", help="The templates folder (default: the configured one)."
    ),
    note: str | None = typer.Option(None, "--note", help="What the change is for."),
) -> None:
    """Upload a rules folder and its templates as a draft release, and check it."""
    settings = load_settings()
    rules_dir = folder or settings.rules_dir
    templates_dir = templates or settings.templates_dir
    try:
        proposal = _run(
            settings,
            lambda db: propose_folder(
                db,
                rules_dir,
                templates_dir,
                actor=cli_actor(),
                cache_dir=cache_dir(settings),
                note=note,
            ),
        )
    except BundleError as error:
        for problem in error.problems:
            err.print(escape(problem), highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    known = "proposed" if proposal.created else "already proposed as"
    console.print(f"{known} release {proposal.release_id}")
    print_check(proposal.check)
    if not proposal.check.passed:
        raise typer.Exit(1)
    console.print(f"to activate it: careflow rules activate {proposal.release_id[:12]}")


@rules_app.command("check-release")
def check_stored_release(
    release: str = typer.Argument(..., help="Release id (or a unique prefix)."),
) -> None:
    """Check a stored release again (its own files, as proposed)."""
    settings = load_settings()

    async def work(db: Database) -> CheckReport:
        release_id = await resolve_id(db, release)
        return await check_release(db, release_id, actor=cli_actor(), cache_dir=cache_dir(settings))

    report = _run(settings, work)
    print_check(report)
    if not report.passed:
        raise typer.Exit(1)


@rules_app.command("activate")
def activate_release(
    release: str = typer.Argument(..., help="Release id (or a unique prefix)."),
) -> None:
    """Make a checked release the active one on every worker and API (a second person)."""
    settings = load_settings()

    async def work(db: Database) -> tuple[str, list[JourneyInFlight]]:
        release_id = await resolve_id(db, release)
        activation = await activate(
            db,
            release_id,
            actor=Actor(cli_actor(), Role.ADMIN),
            policy=review_policy(settings),
            cache_dir=cache_dir(settings),
        )
        found = await journeys_in_flight_of_changes(db, activation.release_id, cache_dir(settings))
        return activation.release_id, found

    release_id, found = _run(settings, work)
    console.print(f"[green]release {release_id} is active[/]")
    print_in_flight(found)


def print_in_flight(found: list[JourneyInFlight]) -> None:
    """The journeys in flight a changed or removed rule started, per rule, and the choice:
    leave them to finish, or cancel them."""
    if not found:
        console.print("no journey in flight was started by a changed or removed rule")
        return
    for rule_id in dict.fromkeys(item.rule_id for item in found):
        of_rule = [item for item in found if item.rule_id == rule_id]
        console.print(
            f"rule {escape(rule_id)} ({of_rule[0].change}): {len(of_rule)} journey(s) in "
            f"flight go on as they started; to stop them: careflow journeys cancel "
            f"--rule {escape(rule_id)}",
            highlight=False,
            soft_wrap=True,
        )


@rules_app.command("rollback")
def rollback_release() -> None:
    """Re-activate the release that was active before the active one."""
    settings = load_settings()
    activation = _run(
        settings,
        lambda db: rollback(
            db, actor=Actor(cli_actor(), Role.ADMIN), policy=review_policy(settings)
        ),
    )
    console.print(
        f"[green]rolled back to release {activation.release_id}[/] "
        f"(was {activation.previous_release_id})"
    )


@rules_app.command("releases")
def show_releases(
    limit: int = typer.Option(20, "--limit", min=1, help="How many, newest first."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Every release: who proposed, checked, approved and activated it, and when."""
    settings = load_settings()
    found = _run(settings, lambda db: list_releases(db, limit))
    if as_json:
        print(json.dumps([asdict(item) for item in found], default=str, ensure_ascii=False))
        return
    console.print(releases_table(found))


def _when(who: str | None, at: datetime | None) -> str:
    if who is None or at is None:
        return "-"
    return f"{escape(who)} {at:%Y-%m-%d %H:%M}"


def releases_table(found: list[ReleaseSummary]) -> Table:
    """One row per release; the active one marked."""
    table = Table(title="releases (times UTC)")
    for column in ("release", "proposed", "checked", "approved", "activated", "note"):
        table.add_column(column)
    for item in found:
        check = (
            f"{item.check_status} {_when(item.checked_by, item.checked_at)}"
            if item.check_status
            else "-"
        )
        activated = "; ".join(
            ("rollback " if row.kind == "rollback" else "")
            + _when(row.activated_by, row.activated_at)
            for row in item.activations
        )
        table.add_row(
            ("[bold green]* [/]" if item.active else "") + item.id[:12],
            _when(item.proposed_by, item.proposed_at),
            check,
            _when(item.approved_by, item.approved_at),
            activated or "-",
            escape(item.note or ""),
        )
    return table


def show_release_diff(settings: Settings, given: list[str], *, as_json: bool) -> None:
    """`careflow rules diff --release A [--release B]`: each changed rule's own diff."""
    if len(given) > 2:
        raise typer.BadParameter("give --release once (against the active release) or twice")

    async def work(db: Database) -> tuple[str, str, list[Change]]:
        ids = [await resolve_id(db, name) for name in given]
        if len(ids) == 1:
            active = await active_release_id(db)
            if active is None:
                raise ReleaseNotFound("no release is active; give --release twice")
            ids.insert(0, active)
        old = await release_files(db, ids[0])
        new = await release_files(db, ids[1])
        return ids[0], ids[1], diff_releases(old, new)

    old_id, new_id, changes = _run(settings, work)
    if as_json:
        print(json.dumps([asdict(change) for change in changes], ensure_ascii=False))
        return
    console.print(f"release {old_id[:12]} -> {new_id[:12]}: {len(changes)} change(s)")
    for change in changes:
        console.print(f"[bold]{change.kind}[/] {escape(change.what)}", highlight=False)
        for line in change.lines:
            style = "green" if line.startswith("+") else "red" if line.startswith("-") else None
            console.print(escape(line), style=style, highlight=False, soft_wrap=True)


@rules_app.command("backtest")
def backtest(
    release: str = typer.Argument(..., help="Release id (or a unique prefix)."),
    days: int = typer.Option(
        DEFAULT_DAYS, "--days", min=1, max=MAX_DAYS, help="How many past days to replay."
    ),
    sample: int = typer.Option(
        DEFAULT_SAMPLE,
        "--sample",
        min=1,
        max=MAX_SAMPLE,
        help="At most this many customers (every k-th of the store).",
    ),
) -> None:
    """Replay the last days of a sample of customers with the active release and with this
    one (`careflow simulate --compare`), and store the difference on the release."""
    settings = load_settings()

    async def work(db: Database) -> dict[str, Any]:
        release_id = await resolve_id(db, release)
        return await backtest_release(
            db, release_id, settings=settings, actor=cli_actor(), sample=sample, days=days
        )

    try:
        result = _run(settings, work)
    except BacktestUnavailable as error:
        err.print(f"[red]{escape(str(error))}[/]")
        raise typer.Exit(1) from None
    print_backtest(result)


def print_backtest(result: dict[str, Any]) -> None:
    """Sample, window, who newly or no longer gets each journey, messages and offers."""
    console.print(
        f"backtest against release {result['against'][:12]}: {result['sample']} customer(s) "
        f"(sample of at most {result['sample_limit']}), {result['days']} day(s) from "
        f"{result['from']}, every customer assumed to have an address and consent"
    )
    table = Table(title="journeys")
    for column in ("journey", "newly", "no longer"):
        table.add_column(column)
    for row in result["journeys"]:
        table.add_row(row["journey"], str(row["newly"]), str(row["no_longer"]))
    console.print(table)
    comparison = result["comparison"]
    console.print(f"messages: {comparison['messages_change']:+d} over the window")
    for label, key in (
        ("sent", "offer_value_sent_change"),
        ("redeemed", "offer_value_redeemed_change"),
    ):
        for currency, value in sorted(comparison[key].items()):
            console.print(f"offer value {label}: {value:+.2f} {currency}")
    console.print(f"the same numbers: {escape(result['command'])}", highlight=False)
