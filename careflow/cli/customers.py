"""`careflow timeline` and `careflow erase`: one customer's story, and the right to be forgotten."""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict

import typer
from rich.console import Console
from rich.table import Table

from careflow.cli.app import app
from careflow.cli.audit import CUSTOMER_ERASED, audit_cli_action
from careflow.cli.temporal import connect_or_exit
from careflow.config import load_settings
from careflow.erasure import ErasureReport, erase_customer
from careflow.journeys import reconcile_customer
from careflow.store import create_database
from careflow.temporal_connection import (
    TemporalConnectionError,
    connect_temporal,
    load_temporal_connection,
)
from careflow.timeline import TimelineEntry, customer_timeline

console = Console()
err = Console(stderr=True)


@app.command()
def timeline(
    customer_id: str = typer.Argument(..., help="The business's customer id."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Events, rule decisions, journeys, messages and tasks for one customer, in order."""
    entries = asyncio.run(_timeline(customer_id))
    if entries is None:
        err.print(f"[red]no customer {customer_id!r}[/]")
        raise typer.Exit(1)
    if as_json:
        print(json.dumps([asdict(entry) for entry in entries], default=str, ensure_ascii=False))
        return
    table = Table(title=f"timeline of {customer_id}")
    for column in ("when (UTC)", "what", "summary"):
        table.add_column(column)
    for entry in entries:
        table.add_row(entry.at.strftime("%Y-%m-%d %H:%M:%S"), entry.kind, entry.summary)
    console.print(table)


async def _timeline(customer_id: str) -> list[TimelineEntry] | None:
    settings = load_settings()
    db = create_database(settings.sqlalchemy_url)
    try:
        await db.migrate()
        try:
            client = await connect_temporal(load_temporal_connection(settings))
        except TemporalConnectionError as error:
            # The store's story is still worth telling; journeys are not reconciled.
            err.print(f"note: Temporal not reached ({error}); journey statuses as stored")
        else:
            await reconcile_customer(db, client, customer_id)
        return await customer_timeline(db, customer_id, secret_key=settings.secret_key)
    finally:
        await db.dispose()


@app.command()
def erase(
    customer_id: str = typer.Argument(..., help="The business's customer id."),
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
) -> None:
    """Forget a customer: journeys stopped and deleted from Temporal, open tasks closed,
    personal data deleted or turned into a keyed pseudonym in the store, the outbox and
    the logs; the anonymous ledger keeps its counts."""
    if not yes:
        typer.confirm(f"Erase customer {customer_id!r}? This cannot be undone", abort=True)
    report = asyncio.run(_erase(customer_id))
    if report is None:
        err.print(f"[red]no customer {customer_id!r}[/]")
        raise typer.Exit(1)
    console.print(
        f"erased {customer_id}: now {report.anonymous_id}; "
        f"{report.journeys_cancelled} journey(s) cancelled, "
        f"{report.tasks_closed} open task(s) closed, "
        f"{report.events_deleted} event(s) deleted, "
        f"{report.workflows_deleted} Temporal execution(s) deleted, "
        f"{report.outbox_files_deleted} outbox message(s) deleted, "
        f"{report.log_files_rewritten} log file(s) rewritten"
    )
    if report.histories_kept:
        err.print(
            f"[yellow]{report.histories_kept} closed workflow histories could not be deleted "
            "(this Temporal server cannot delete executions); they carry the customer id "
            "until the namespace's retention period ends[/]"
        )


async def _erase(customer_id: str) -> ErasureReport | None:
    settings = load_settings()
    client = await connect_or_exit(settings)
    db = create_database(settings.sqlalchemy_url)
    try:
        await db.migrate()
        report = await erase_customer(
            db, client, customer_id, secret_key=settings.secret_key, home=settings.resolved_home
        )
        if report is not None:
            # Named by the pseudonym: the audit log must not keep the erased id.
            await audit_cli_action(
                db,
                CUSTOMER_ERASED,
                report.anonymous_id,
                command="erase",
                details={
                    "journeys_cancelled": report.journeys_cancelled,
                    "events_deleted": report.events_deleted,
                },
            )
        return report
    finally:
        await db.dispose()
