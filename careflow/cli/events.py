"""`careflow event TYPE CUSTOMER_ID [--data JSON]`: post one event, as `POST /events` does."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import typer
from pydantic import ValidationError
from rich.console import Console

from careflow.cli.app import app
from careflow.cli.audit import EVENT_RECORDED, audit_cli_action
from careflow.cli.temporal import connect_or_exit
from careflow.config import load_settings
from careflow.intake.apply import AlreadyAnswered, BusinessIdConflict
from careflow.intake.events import AcceptedEvent, EventIdConflict, EventIn, accept_event
from careflow.store import create_database

console = Console()
err = Console(stderr=True)


@app.command()
def event(
    event_type: str = typer.Argument(..., metavar="TYPE", help="e.g. complaint_opened"),
    customer_id: str = typer.Argument(..., help="The business's customer id."),
    data: str = typer.Option("{}", "--data", help='The data as JSON, e.g. {"complaint_id": "k-1"}'),
    event_id: str | None = typer.Option(None, "--event-id", help="Accepted once per id."),
    at: str | None = typer.Option(None, "--at", help="When it happened (ISO 8601); default now."),
) -> None:
    """Record an event and evaluate the rules for its customer (needs a running worker)."""
    try:
        body = EventIn.model_validate(
            {
                "type": event_type,
                "customer_id": customer_id,
                "occurred_at": at or datetime.now(UTC).isoformat(),
                "data": json.loads(data),
                "event_id": event_id,
            }
        )
        body.validated_data()  # check `data` for its type before anything is sent
    except json.JSONDecodeError as error:
        err.print(f"[red]--data is not valid JSON:[/] {error.msg} at column {error.colno}")
        raise typer.Exit(1) from None
    except ValidationError as error:
        inside_data = error.title != EventIn.__name__
        for detail in error.errors():
            where = ".".join(str(part) for part in ("data", *detail["loc"])[not inside_data :])
            err.print(f"[red]{where}[/]: {detail['msg']}", markup=True, soft_wrap=True)
        raise typer.Exit(1) from None
    try:
        accepted = asyncio.run(_post(body))
    except EventIdConflict as error:
        err.print(f"[red]--event-id[/]: {error}", soft_wrap=True)
        raise typer.Exit(1) from None
    except (BusinessIdConflict, AlreadyAnswered) as error:
        field = error.field if isinstance(error, BusinessIdConflict) else "workflow_id"
        err.print(f"[red]data.{field}[/]: {error}", soft_wrap=True)
        raise typer.Exit(1) from None
    state = "duplicate, already accepted" if accepted.duplicate else "accepted"
    where = f"rules run in {accepted.workflow_id}" if accepted.workflow_id else "rules run"
    console.print(f"{accepted.event_id}: {state}; {where}")


async def _post(body: EventIn) -> AcceptedEvent:
    settings = load_settings()
    client = await connect_or_exit(settings)
    db = create_database(settings.sqlalchemy_url)
    try:
        await db.migrate()
        accepted = await accept_event(db, client, settings.task_queue, body)
        await audit_cli_action(
            db,
            EVENT_RECORDED,
            accepted.event_id,
            command="event",
            details={"type": body.type, "duplicate": accepted.duplicate},
        )
        return accepted
    finally:
        await db.dispose()
