"""`careflow db upgrade` and `careflow db current`: the store's schema.

Services (`careflow worker`, `careflow api`) refuse a store whose schema is older
than their code; a deployment runs `careflow db upgrade` once, before rolling them.
"""

from __future__ import annotations

import asyncio

import typer
from rich.console import Console
from sqlalchemy import make_url

from careflow.cli.app import app
from careflow.config import load_settings
from careflow.store import SchemaState, create_database

db_app = typer.Typer(name="db", help="The store's schema (migrations).", no_args_is_help=True)
app.add_typer(db_app)
console = Console(soft_wrap=True, highlight=False)


async def _schema(upgrade: bool) -> tuple[str, SchemaState, SchemaState]:
    url = load_settings().sqlalchemy_url
    db = create_database(url)
    try:
        before = await db.schema_state()
        if upgrade and before.known:
            await db.migrate()
        return make_url(url).render_as_string(hide_password=True), before, await db.schema_state()
    finally:
        await db.dispose()


@db_app.command()
def upgrade() -> None:
    """Bring the store's schema to this careflow's newest revision (safe to repeat)."""
    where, before, after = asyncio.run(_schema(upgrade=True))
    if not before.known:
        console.print(
            f"{where} is at revision {before.current}, newer than this careflow "
            f"({before.head}); nothing to do"
        )
    elif before.current == after.current:
        console.print(f"{where} is up to date at revision {after.current}")
    else:
        console.print(f"{where} upgraded from {before.current or 'empty'} to {after.current}")


@db_app.command()
def current() -> None:
    """Print the store's schema revision and this careflow's; exit 1 when behind."""
    where, state, _ = asyncio.run(_schema(upgrade=False))
    if state.behind:
        console.print(
            f"{where}: revision {state.current or 'none (empty store)'}, this careflow needs "
            f"{state.head}: run `careflow db upgrade`"
        )
        raise typer.Exit(1)
    if not state.known:
        console.print(f"{where}: revision {state.current}, newer than this careflow ({state.head})")
        return
    console.print(f"{where}: revision {state.current} (up to date)")
