"""`careflow segments list` and `careflow segments count NAME`: the named groups of
customers of `rules/segments.yaml`, and who is in them as of a time."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from careflow.cli.app import app
from careflow.cli.facts import parse_at
from careflow.config import load_settings
from careflow.facts import FactsConfigError
from careflow.facts.config import TIERS_FILE_NAME, load_facts_config
from careflow.rules.conditions import describe
from careflow.segments import (
    SegmentBook,
    SegmentCount,
    SegmentsFileError,
    UnknownSegment,
    count_segment,
    load_segments,
)
from careflow.store import create_database

segments_app = typer.Typer(
    name="segments",
    help="Named groups of customers (rules/segments.yaml): list them, count their members.",
    no_args_is_help=True,
)
app.add_typer(segments_app)
console = Console(soft_wrap=True, highlight=False)
err = Console(stderr=True, soft_wrap=True, highlight=False)

RULES_OPTION = typer.Option(
    None, "--rules", help="The rules folder (default: CAREFLOW_RULES_DIR or the shipped one)."
)


def _book(rules: Path | None) -> tuple[SegmentBook, Path]:
    rules_dir = rules or load_settings().rules_dir
    try:
        return load_segments(rules_dir), rules_dir
    except SegmentsFileError as error:
        for problem in error.errors:
            err.print(escape(str(problem)))
        raise typer.Exit(2) from None


@segments_app.command("list")
def list_segments(
    rules: Path | None = RULES_OPTION,
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Every segment of segments.yaml: its name, what it means and its conditions."""
    book, rules_dir = _book(rules)
    if as_json:
        shown = [
            {
                "name": name,
                "description": book[name].description,
                "when": str(describe(book[name].when)),
            }
            for name in book.names()
        ]
        print(json.dumps(shown, ensure_ascii=False))
        return
    if not book:
        console.print(f"no segments in {rules_dir / 'segments.yaml'}")
        return
    table = Table(title=f"segments of {rules_dir}")
    for column in ("segment", "description", "conditions"):
        table.add_column(column)
    for name in book.names():
        segment = book[name]
        table.add_row(name, escape(segment.description), escape(str(describe(segment.when))))
    console.print(table)


@segments_app.command()
def count(
    name: str = typer.Argument(..., help="The segment's name (see `careflow segments list`)."),
    at: str | None = typer.Option(
        None, "--at", help="Count as of this ISO 8601 time (default: now; no offset = UTC)."
    ),
    sample: int = typer.Option(
        0, "--sample", min=0, max=10_000, help="Also print this many members' customer ids."
    ),
    rules: Path | None = RULES_OPTION,
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of text."),
) -> None:
    """How many customers are in a segment as of a time, with a sample of their ids."""
    moment = parse_at(at)
    book, rules_dir = _book(rules)
    if name not in book:
        err.print(escape(str(UnknownSegment(name, book.names()))))
        raise typer.Exit(2)
    try:
        counted = asyncio.run(_count(book, rules_dir, name, moment, sample, quiet=as_json))
    except FactsConfigError as error:
        err.print(escape(str(error)))
        raise typer.Exit(2) from None
    if as_json:
        print(
            json.dumps(
                {
                    "segment": name,
                    "at": moment.isoformat(),
                    "total": counted.total,
                    "customers": counted.customers,
                    "sample": counted.sample,
                }
            )
        )
        return
    console.print(
        f"[bold]{name}[/]: {counted.total:,} of {counted.customers:,} customers "
        f"as of {moment.isoformat(timespec='seconds')}"
    )
    for customer_id in counted.sample:
        console.print(f"  {escape(customer_id)}")


async def _count(
    book: SegmentBook, rules_dir: Path, name: str, at: datetime, sample: int, *, quiet: bool
) -> SegmentCount:
    tiers = rules_dir / TIERS_FILE_NAME
    config = load_facts_config(tiers if tiers.is_file() else None)
    db = create_database(load_settings().sqlalchemy_url)
    progress = Progress(
        TextColumn(f"counting {name}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=quiet,
    )
    task = progress.add_task("count", total=None)
    try:
        await db.migrate()
        with progress:
            return await count_segment(
                db,
                book,
                name,
                at=at,
                sample=sample,
                config=config,
                progress=lambda done, total: progress.update(task, completed=done, total=total),
            )
    finally:
        await db.dispose()
