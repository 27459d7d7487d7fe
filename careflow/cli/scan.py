"""`careflow scan [--at DATETIME]`: run the daily scan now, with a progress bar."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from temporalio.client import WorkflowQueryFailedError
from temporalio.service import RPCError

from careflow.cli.app import app
from careflow.cli.audit import SCAN_STARTED, audit_cli_action
from careflow.cli.temporal import connect_or_exit
from careflow.config import load_settings
from careflow.contracts.scan import DailyScanInput, ScanProgress
from careflow.intake.records import check_time_range
from careflow.store import create_database
from careflow.workflows.daily_scan import DailyScanWorkflow

console = Console()


def parse_when(value: str | None) -> datetime | None:
    """ISO 8601; a time without offset is UTC. Raises typer.BadParameter with an example."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not an ISO 8601 time, e.g. 2026-11-23T06:00:00+08:00"
        ) from None
    try:
        check_time_range(parsed)
    except ValueError as error:
        raise typer.BadParameter(f"{value!r}: {error}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@app.command()
def scan(
    at: str | None = typer.Option(
        None, "--at", help="Compute facts as of this time (ISO 8601); default now."
    ),
) -> None:
    """Run the daily scan on demand through a running worker (`careflow up` or `worker`)."""
    when = parse_when(at)
    progress = asyncio.run(_scan(when))
    console.print(
        f"scanned {progress.scanned} customers: {progress.rules_fired} rule firings, "
        f"{progress.journeys_started} journeys started"
    )


async def _scan(at: datetime | None) -> ScanProgress:
    settings = load_settings()
    client = await connect_or_exit(settings)
    started = datetime.now(UTC)
    handle = await client.start_workflow(
        DailyScanWorkflow.run,
        DailyScanInput(at=at),
        id=f"daily-scan-manual-{started:%Y%m%dT%H%M%S%f}",
        task_queue=settings.task_queue,
    )
    db = create_database(settings.sqlalchemy_url)
    try:
        await db.migrate()
        details = {"at": at.isoformat() if at else None}
        await audit_cli_action(db, SCAN_STARTED, handle.id, command="scan", details=details)
    finally:
        await db.dispose()
    columns = (
        TextColumn("scanning"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("scan", total=None)
        result = asyncio.ensure_future(handle.result())
        while not result.done():
            # Queries follow continue-as-new to the current run; between two runs a
            # query can fail, and the bar simply waits for the next one.
            with contextlib.suppress(RPCError, WorkflowQueryFailedError):
                current = await handle.query(DailyScanWorkflow.progress)
                bar.update(task, total=current.total_customers, completed=current.scanned)
            await asyncio.wait({result}, timeout=0.5)
        return result.result()
