"""`careflow webhooks list` and `careflow webhooks resume NAME`: endpoints and staff robots.

An endpoint that failed `pause_after_failures` times in a row is paused (see
careflow/webhooks/outbox.py); its deliveries wait, none is dropped, and `resume`
makes them due at once (audited with the operating-system user).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import UTC, datetime
from typing import TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from careflow.cli.app import app
from careflow.cli.audit import audit_cli_action
from careflow.config import load_settings
from careflow.store import Database, create_database
from careflow.webhooks.outbox import EndpointStatus, endpoint_statuses, resume_endpoint

webhooks_app = typer.Typer(
    name="webhooks", help="Webhook endpoints and staff robots.", no_args_is_help=True
)
app.add_typer(webhooks_app)
console = Console(soft_wrap=True, highlight=False)
T = TypeVar("T")
# The audit log's name for a resumed endpoint.
WEBHOOK_RESUMED = "webhook_resumed"


async def _with_db(work: Callable[[Database], Awaitable[T]]) -> T:
    db = create_database(load_settings().sqlalchemy_url)
    try:
        await db.require_current_schema()
        return await work(db)
    finally:
        await db.dispose()


@webhooks_app.command("list")
def list_endpoints(as_json: bool = typer.Option(False, "--json", help="One JSON array.")) -> None:
    """Every endpoint and robot with deliveries: waiting, delivered, failed, paused."""
    statuses: list[EndpointStatus] = asyncio.run(_with_db(endpoint_statuses))
    if as_json:
        print(json.dumps([asdict(status) for status in statuses], default=str))
        return
    if not statuses:
        console.print("no webhook deliveries yet")
        return
    table = Table("endpoint", "state", "waiting", "delivered", "failed", "last error")
    for status in statuses:
        state = (
            f"paused since {status.paused_at:%Y-%m-%d %H:%M} UTC" if status.paused_at else "active"
        )
        table.add_row(
            escape(status.name),
            state,
            str(status.pending),
            str(status.delivered),
            str(status.failed),
            escape(status.last_error or ""),
        )
    console.print(table)


@webhooks_app.command()
def resume(name: str) -> None:
    """Resume a paused endpoint: its waiting deliveries go out on the next round."""

    async def run(db: Database) -> bool:
        resumed = await resume_endpoint(db, name, datetime.now(UTC))
        if resumed:
            await audit_cli_action(db, WEBHOOK_RESUMED, name, command="webhooks resume")
        return resumed

    if not asyncio.run(_with_db(run)):
        console.print(f"{escape(name)!r} is not paused")
        raise typer.Exit(1)
    console.print(f"resumed {escape(name)}; its waiting deliveries go out within seconds")
