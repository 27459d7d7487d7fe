"""`careflow upgrade check`: replay the cluster's workflows against this code before a rollout."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from temporalio.client import WorkflowHistory

from careflow.cli.app import app
from careflow.cli.temporal import connect_or_exit
from careflow.config import load_settings
from careflow.upgrade_check import (
    UpgradeCheck,
    count_workflows,
    fetch_histories,
    replay_histories,
    save_history,
    visibility_query,
)

console = Console()
err = Console(stderr=True)

upgrade_app = typer.Typer(help="Check that new code can carry on the journeys in flight.")
app.add_typer(upgrade_app, name="upgrade")

_DURATION_PART = re.compile(r"(\d+)([wdhms])")
_UNIT = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes", "s": "seconds"}


def parse_duration(value: str) -> timedelta:
    """`7d`, `36h`, `1w2d`, `90m`: whole numbers with w/d/h/m/s, largest first or not."""
    text = value.strip().lower()
    parts = _DURATION_PART.findall(text)
    if not text or "".join(number + unit for number, unit in parts) != text:
        raise typer.BadParameter(f"{value!r} is not a duration, e.g. 7d, 36h or 1w2d")
    duration = timedelta()
    for number, unit in parts:
        duration += timedelta(**{_UNIT[unit]: int(number)})
    return duration


@upgrade_app.command("check")
def check(
    limit: int = typer.Option(
        1000, "--limit", min=1, help="Replay at most this many workflows (most recent first)."
    ),
    since: str = typer.Option(
        "1d", "--since", help="Also replay workflows that closed within this time, e.g. 7d."
    ),
    save: Path | None = typer.Option(
        None,
        "--save",
        file_okay=False,
        help="Write each fetched history here as JSON (for new test histories).",
    ),
) -> None:
    """Replay the open and recently closed workflows of the connected Temporal namespace
    against the installed code; exit 1 naming every workflow that would fail."""
    closed_since = datetime.now(UTC) - parse_duration(since)
    if save is not None:
        save.mkdir(parents=True, exist_ok=True)
    result = asyncio.run(_check(limit, closed_since, save))
    _print(result, closed_since)
    if not result.ok:
        raise typer.Exit(1)


async def _check(limit: int, closed_since: datetime, save: Path | None) -> UpgradeCheck:
    settings = load_settings()
    client = await connect_or_exit(settings)
    query = visibility_query(settings.task_queue, closed_since)
    matching = await count_workflows(client, query)
    total = None if matching is None else min(limit, matching)
    columns = (TextColumn("fetching histories"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeElapsedColumn(), console=err, transient=True) as bar:
        task = bar.add_task("fetch", total=total)

        def fetched(history: WorkflowHistory) -> None:
            if save is not None:
                save_history(history, save)
            bar.advance(task)

        return await replay_histories(
            fetch_histories(client, query, limit=limit, on_fetched=fetched)
        )


def _print(result: UpgradeCheck, closed_since: datetime) -> None:
    table = Table(title=f"workflows open or closed since {closed_since:%Y-%m-%d %H:%M} UTC")
    table.add_column("workflow type")
    table.add_column("replayed", justify="right")
    table.add_column("failed", justify="right")
    failed = result.failed()
    for kind in result.workflow_types():
        table.add_row(kind, str(result.replayed[kind]), str(failed[kind]))
    console.print(table)
    if not result.workflow_types():
        console.print("no workflows to replay")
    for failure in result.failures:
        console.print(
            f"[red]FAILED[/] {escape(failure.workflow_type)} {escape(failure.workflow_id)} "
            f"(run {failure.run_id}): {escape(failure.mismatch)}",
            soft_wrap=True,
        )
    if result.failures:
        console.print(
            f"[red]{len(result.failures)} workflow(s) would fail on this code[/]: put the change "
            "behind workflow.patched() (see docs/adding-a-journey.md) before rolling workers"
        )
    else:
        console.print("every workflow replayed: safe to roll the workers")
