"""`careflow users add|list|remove|passwd`: who may log in to the operations console.

Run on the server by whoever runs careflow; that is how the first admin is made.
Every change is written to the console's audit log with the operating-system user
(careflow/cli/audit.py).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from careflow.cli.app import app
from careflow.cli.audit import cli_actor
from careflow.cli.journeys import _with_db
from careflow.config import Settings, load_settings
from careflow.console.roles import ROLE_NAMES
from careflow.console.users import (
    UserError,
    add_user,
    change_password,
    list_users,
    parse_role,
    remove_user,
)
from careflow.store import Database

users_app = typer.Typer(
    name="users", help="Manage the operations console's users.", no_args_is_help=True
)
app.add_typer(users_app)

T = TypeVar("T")
console = Console()
err = Console(stderr=True)


def _run(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    return asyncio.run(_with_db(settings, work))


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        # One line, without its line ending: `printf '%s\n' "$PW" | careflow users add ...`.
        return sys.stdin.readline().rstrip("\r\n")
    return str(typer.prompt("password", hide_input=True, confirmation_prompt=True))


@users_app.command("add")
def add(
    name: str = typer.Argument(
        ..., metavar="NAME", help="Login name: letters, digits, '.', '_', '@', '-'."
    ),
    role: str = typer.Option(..., "--role", help=f"One of {', '.join(ROLE_NAMES)}."),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from the first line of stdin."
    ),
) -> None:
    """Add a console user; asks for the password unless --password-stdin."""
    try:
        chosen = parse_role(role)
    except UserError as error:
        raise typer.BadParameter(str(error), param_hint="--role") from None
    password = _read_password(password_stdin)
    settings = load_settings()
    try:
        user = _run(settings, lambda db: add_user(db, name, chosen, password, actor=cli_actor()))
    except UserError as error:
        err.print(f"[red]{escape(str(error))}[/]")
        raise typer.Exit(1) from None
    console.print(f"added {escape(user.name)} ({user.role.value})")


@users_app.command("list")
def list_command() -> None:
    """Every console user and their role."""
    users = _run(load_settings(), list_users)
    if not users:
        console.print("no console users yet: careflow users add NAME --role admin")
        return
    table = Table(title="console users")
    for column in ("name", "role", "added (UTC)"):
        table.add_column(column)
    for user in users:
        table.add_row(escape(user.name), user.role.value, f"{user.created_at:%Y-%m-%d %H:%M}")
    console.print(table)


@users_app.command("remove")
def remove(
    name: str = typer.Argument(..., help="The user to remove."),
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
) -> None:
    """Remove a console user; their sessions stop working at once."""
    if not yes:
        typer.confirm(f"Remove console user {name!r}?", abort=True)
    try:
        _run(load_settings(), lambda db: remove_user(db, name, actor=cli_actor()))
    except UserError as error:
        err.print(f"[red]{escape(str(error))}[/]")
        raise typer.Exit(1) from None
    console.print(f"removed {escape(name)}")


@users_app.command("passwd")
def passwd(
    name: str = typer.Argument(..., help="The user whose password to set."),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from the first line of stdin."
    ),
) -> None:
    """Set a console user's password; every session they have ends at once."""
    password = _read_password(password_stdin)
    try:
        _run(load_settings(), lambda db: change_password(db, name, password, actor=cli_actor()))
    except UserError as error:
        err.print(f"[red]{escape(str(error))}[/]")
        raise typer.Exit(1) from None
    console.print(f"password of {escape(name)} changed; their sessions have ended")
