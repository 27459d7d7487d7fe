"""`careflow tasks list|assign|complete|cancel`: staff tasks from the terminal.

The same actions as the console's buttons and `POST /tasks/{id}/...` (careflow.staffwork),
audited as `cli:<operating-system user>`; `complete` and `cancel` tell the journey that
opened the task, so they need Temporal as well as the store.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from careflow.cli.app import app
from careflow.cli.audit import cli_actor, os_user
from careflow.cli.journeys import _with_db
from careflow.cli.temporal import connect_or_exit
from careflow.config import load_settings
from careflow.staffwork.listing import TaskView, find_tasks
from careflow.staffwork.states import TASK_OUTCOMES
from careflow.staffwork.tasks import (
    TaskActionError,
    TaskChange,
    assign_task,
    cancel_task,
    complete_task,
)
from careflow.store import Database

tasks_app = typer.Typer(name="tasks", help="Staff tasks: list, assign, complete.")
app.add_typer(tasks_app)

console = Console()
err = Console(stderr=True)


@tasks_app.command("list")
def list_command(
    status: str | None = typer.Option(None, help="open, assigned, done, cancelled, ..."),
    assignee: str | None = typer.Option(None, help="whom the task is for"),
    kind: str | None = typer.Option(None, help="call, complaint, escalation, ..."),
    customer: str | None = typer.Option(None, help="the customer's id"),
    overdue: bool = typer.Option(False, "--overdue", help="only tasks past their due time"),
    limit: int = typer.Option(100, min=1, max=1000),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Tasks matching every filter given, newest first, with due times and overdue ones marked."""
    settings = load_settings()
    found = asyncio.run(
        _with_db(
            settings,
            lambda db: find_tasks(
                db,
                status=status,
                assignee=assignee,
                kind=kind,
                customer_id=customer,
                overdue=overdue,
                limit=limit,
            ),
        )
    )
    if as_json:
        print(json.dumps([asdict(task) for task in found], default=str, ensure_ascii=False))
        return
    if not found:
        console.print("no task matches")
        return
    console.print(_table(found))


@tasks_app.command()
def assign(
    task_id: int = typer.Argument(..., help="the task's number (`careflow tasks list`)"),
    assignee: str = typer.Argument(..., help="whom to give it to (a name or an address)"),
    due: datetime | None = typer.Option(
        None, "--due", help="a new due time, ISO 8601 (no offset = UTC)"
    ),
) -> None:
    """Give a task to someone (a reassignment when someone has it), optionally with a new due."""
    settings = load_settings()
    due_at = due if due is None or due.tzinfo is not None else due.replace(tzinfo=UTC)

    async def run(db: Database) -> TaskChange:
        return await assign_task(db, task_id, actor=cli_actor(), assignee=assignee, due_at=due_at)

    _report(lambda: asyncio.run(_with_db(settings, run)))


@tasks_app.command()
def complete(
    task_id: int = typer.Argument(..., help="the task's number (`careflow tasks list`)"),
    outcome: str = typer.Option(..., "--outcome", help=f"one of {', '.join(TASK_OUTCOMES)}"),
    note: str = typer.Option("", "--note", help="what happened (kept on the task)"),
    by: str | None = typer.Option(None, "--by", help="who did it (default: this account)"),
) -> None:
    """Close a task as done with an outcome; the journey that opened it learns the outcome."""
    settings = load_settings()

    async def run(db: Database) -> TaskChange:
        client = await connect_or_exit(settings)
        return await complete_task(
            db,
            client,
            task_id,
            actor=cli_actor(),
            person=by or os_user(),
            outcome=outcome,
            note=note,
        )

    _report(lambda: asyncio.run(_with_db(settings, run)))


@tasks_app.command()
def cancel(
    task_id: int = typer.Argument(..., help="the task's number (`careflow tasks list`)"),
    note: str = typer.Option("", "--note", help="why it is no longer needed"),
    by: str | None = typer.Option(None, "--by", help="who cancels it (default: this account)"),
) -> None:
    """Close a task as cancelled; the journey that opened it learns it."""
    settings = load_settings()

    async def run(db: Database) -> TaskChange:
        client = await connect_or_exit(settings)
        return await cancel_task(
            db, client, task_id, actor=cli_actor(), person=by or os_user(), note=note
        )

    _report(lambda: asyncio.run(_with_db(settings, run)))


def _report(act: Callable[[], TaskChange]) -> None:
    """Run the action; print what it left, or the mistake and exit 1."""
    try:
        change = act()
    except TaskActionError as error:
        field = f"{error.field}: " if error.field else ""
        err.print(f"task: {field}{escape(str(error))}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    if not change.changed:
        console.print(f"task {change.task_id}: nothing to change ({change.status})")
        return
    parts = [f"task {change.task_id}: {change.status}"]
    if change.assignee:
        parts.append(f"assignee {escape(change.assignee)}")
    if change.outcome:
        parts.append(f"outcome {escape(change.outcome)}")
    if change.journeys_told:
        parts.append(f"told {', '.join(change.journeys_told)}")
    console.print("; ".join(parts), highlight=False, soft_wrap=True)


def _table(found: list[TaskView]) -> Table:
    table = Table(title="staff tasks (times in UTC)")
    for column in ("#", "kind", "status", "assignee", "customer", "due", "title", "outcome"):
        table.add_column(column)
    for task in found:
        due = task.due_at.strftime("%Y-%m-%d %H:%M") if task.due_at else "-"
        table.add_row(
            str(task.id),
            task.kind,
            task.status,
            escape(task.assignee or "-"),
            escape(task.customer_id or "-"),
            f"[red]{due} overdue[/]" if task.overdue else due,
            escape(task.title),
            escape(task.outcome or ""),
        )
    return table
