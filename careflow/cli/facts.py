"""`careflow facts`: the facts rules would see for one customer, now or at a given time."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from careflow.cli.app import app
from careflow.config import load_settings
from careflow.facts import Facts, FactsConfigError, facts_for_customer
from careflow.facts.config import TIERS_FILE_NAME, load_facts_config
from careflow.intake.records import check_time_range
from careflow.rules.derived_facts import (
    NO_DERIVED_FACTS,
    DerivedFacts,
    DerivedFactsError,
)
from careflow.segments.book import SegmentsFileError, load_segments
from careflow.store import create_database

console = Console()
err = Console(stderr=True)


def parse_at(value: str | None) -> datetime:
    """An ISO 8601 time (a bare date or a time without offset is UTC); now when None."""
    if value is None:
        return datetime.now(UTC)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r}: expected an ISO 8601 time such as 2026-11-23T09:00:00+08:00"
        ) from None
    try:
        check_time_range(parsed)
    except ValueError as error:
        raise typer.BadParameter(f"{value!r}: {error}") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


@app.command()
def facts(
    customer_id: str = typer.Argument(..., help="The business's customer id."),
    at: str | None = typer.Option(
        None, "--at", help="Compute as of this ISO 8601 time (default: now; no offset = UTC)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """The facts the rules see for one customer; facts unknown for them are left out."""
    moment = parse_at(at)
    try:
        # With the membership of every segment of segments.yaml (`in_segment:NAME`).
        derived = load_segments(load_settings().rules_dir).derived_for()
        snapshot = asyncio.run(_facts(customer_id, moment, derived))
    except (DerivedFactsError, SegmentsFileError) as error:
        err.print(escape(str(error)), soft_wrap=True)
        raise typer.Exit(2) from None
    except FactsConfigError as error:
        err.print(f"[red]{error}[/]")
        raise typer.Exit(2) from None
    if snapshot is None:
        err.print(f"[red]no customer {customer_id!r}[/]")
        raise typer.Exit(1)
    if as_json:
        print(json.dumps(snapshot, ensure_ascii=False, sort_keys=True))
        return
    table = Table(title=f"facts of {customer_id} at {moment.isoformat(timespec='seconds')}")
    for column in ("fact", "value", "meaning"):
        table.add_column(column)
    # Schema order groups the facts as the schema documents them (purchases, occasions...),
    # the derived facts of rules/derived_facts.yaml last.
    for name, definition in derived.schema.items():
        if name in snapshot:
            table.add_row(name, _shown(snapshot[name], definition.unit), definition.description)
    console.print(table)


def _shown(value: object, unit: str) -> str:
    if isinstance(value, bool):
        return str(value).lower()  # as rule files write it
    if unit == "money" and isinstance(value, float):
        return f"{value:.2f}"
    return f"{value} {unit}" if unit else str(value)


async def _facts(
    customer_id: str,
    at: datetime,
    derived: DerivedFacts = NO_DERIVED_FACTS,
    *,
    rules_dir: Path | None = None,
) -> Facts | None:
    """The customer's facts; `rules_dir`: whose tiers.yaml (default: the configured one)."""
    config = load_facts_config(rules_dir / TIERS_FILE_NAME) if rules_dir else None
    db = create_database(load_settings().sqlalchemy_url)
    try:
        await db.migrate()
        async with db.session() as session:
            return await facts_for_customer(
                session, customer_id, at, config=config, derived=derived
            )
    finally:
        await db.dispose()
