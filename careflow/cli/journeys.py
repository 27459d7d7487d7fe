"""`careflow rules diff` and `careflow journeys cancel --rule ID`: acting on a live rule change.

`rules diff` lists the journeys in flight that a changed or removed rule started;
`journeys cancel --rule ID` cancels a rule's running journeys through Temporal and
marks them ended with outcome `cancelled`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from pathlib import Path
from typing import TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from careflow.cli.app import app
from careflow.cli.audit import JOURNEYS_CANCELLED, audit_cli_action
from careflow.cli.rules import rules_app
from careflow.cli.temporal import connect_or_exit
from careflow.config import Settings, load_settings
from careflow.rule_impact import (
    JourneyInFlight,
    cancel_journeys,
    journeys_of_changed_rules,
    running_journeys_of_rule,
)
from careflow.rule_references import build_references
from careflow.rules import RuleBook, RuleFileError, load_rule_files
from careflow.rules.derived_facts import DERIVED_FACTS_FILE_NAME
from careflow.rules.rulebook import rule_files
from careflow.store import Database, create_database

journeys_app = typer.Typer(name="journeys", help="Act on journeys in flight.", no_args_is_help=True)
app.add_typer(journeys_app)

T = TypeVar("T")
console = Console()
err = Console(stderr=True)


@rules_app.command("diff")
def diff(
    rules_dir: Path | None = typer.Option(
        None, "--rules", help="Rules folder to compare with (default: the configured one)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    releases: list[str] | None = typer.Option(
        None,
        "--release",
        help="Show what changed, rule by rule, from release A to release B (given twice), "
        "or from the active release to A (given once).",
    ),
) -> None:
    """List journeys in flight started by a rule that was changed or removed since; with
    `--release`, what changed between two releases, rule by rule."""
    settings = load_settings()
    if releases:
        from careflow.cli.releases import show_release_diff

        show_release_diff(settings, releases, as_json=as_json)
        return
    rulebook = load_rules_or_exit(rules_dir or settings.rules_dir, settings)
    found = asyncio.run(_with_db(settings, lambda db: journeys_of_changed_rules(db, rulebook)))
    if as_json:
        print(json.dumps([asdict(item) for item in found], default=str, ensure_ascii=False))
        return
    if not found:
        console.print("no journey in flight was started by a changed or removed rule")
        return
    console.print(_table(found))
    for rule_id in dict.fromkeys(item.rule_id for item in found):
        count = sum(item.rule_id == rule_id for item in found)
        console.print(
            f"rule {escape(rule_id)}: {count} journey(s) in flight; to stop them: "
            f"careflow journeys cancel --rule {escape(rule_id)}",
            highlight=False,
            soft_wrap=True,
        )


@journeys_app.command()
def cancel(
    rule: str = typer.Option(..., "--rule", help="Cancel the running journeys this rule started."),
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
) -> None:
    """Cancel a rule's running journeys through Temporal; they end with outcome `cancelled`."""
    settings = load_settings()
    records = asyncio.run(_with_db(settings, lambda db: running_journeys_of_rule(db, rule)))
    if not records:
        console.print(f"no running journey was started by rule {escape(rule)!r}")
        return
    if not yes:
        typer.confirm(f"Cancel {len(records)} running journey(s) of rule {rule!r}?", abort=True)

    async def run(db: Database) -> list[str]:
        client = await connect_or_exit(settings)
        cancelled = await cancel_journeys(db, client, records)
        await audit_cli_action(
            db,
            JOURNEYS_CANCELLED,
            rule,
            command="journeys cancel",
            details={"running": len(records), "cancelled": len(cancelled)},
        )
        return cancelled

    cancelled = asyncio.run(_with_db(settings, run))
    gone = len(records) - len(cancelled)
    console.print(
        f"cancelled {len(cancelled)} journey(s) of rule {escape(rule)}"
        + (f"; {gone} had already ended" if gone else "")
    )


async def _with_db(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    """Run `work` with the configured store, migrated, and close it afterwards."""
    db = create_database(settings.sqlalchemy_url)
    try:
        await db.migrate()
        return await work(db)
    finally:
        await db.dispose()


def load_rules_or_exit(directory: Path, settings: Settings) -> RuleBook:
    """The checked rule set of `directory`, or exit 1 listing every mistake."""
    files = rule_files([directory])
    if not files:
        err.print(f"[red]no *.rules.yaml files in {escape(str(directory))}[/]")
        raise typer.Exit(1)
    # A folder of rule files only (a variant to compare) names the configured folder's
    # derived facts and declared events, as it uses its other operator files.
    own = (directory / DERIVED_FACTS_FILE_NAME).is_file()
    try:
        return load_rule_files(
            files,
            references=build_references(settings, rules_dir=directory),
            folder=directory if own else settings.rules_dir,
        )
    except RuleFileError as error:
        for problem in error.errors:
            err.print(escape(str(problem)), highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None


def _table(found: list[JourneyInFlight]) -> Table:
    table = Table(title="journeys in flight started by a changed or removed rule")
    for column in ("rule", "change", "journey", "customer", "started (UTC)", "workflow id"):
        table.add_column(column)
    for item in found:
        table.add_row(
            escape(item.rule_id),
            item.change if item.ruleset is None else f"{item.change} ({escape(item.ruleset)})",
            item.journey,
            escape(item.customer_id or "-"),
            f"{item.started_at:%Y-%m-%d %H:%M}",
            escape(item.workflow_id),
        )
    return table
