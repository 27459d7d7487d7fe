"""`careflow import customers|orders|complaints|surveys|events FILE`: load CSV or JSON Lines."""

from __future__ import annotations

import asyncio
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import Progress

from careflow.cli.app import app
from careflow.cli.audit import DATA_IMPORTED, audit_cli_action
from careflow.config import load_settings
from careflow.intake.importer import ImportKind, ImportRejected, ImportReport, import_file
from careflow.store import create_database

err = Console(stderr=True)


@app.command("import")
def import_command(
    kind: ImportKind = typer.Argument(..., help="What the file holds."),
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True),
    skip_invalid: bool = typer.Option(
        False, "--skip-invalid", help="Import the valid rows and report the others."
    ),
) -> None:
    """Load a CSV (with header) or JSON Lines file; idempotent by the business's ids.

    The whole file is checked first; with any bad row nothing is imported unless
    --skip-invalid is given. Imported history never triggers outreach.
    """
    try:
        report = asyncio.run(_run(kind, file, skip_invalid, audit_target=str(file.absolute())))
    except ImportRejected as rejected:
        for problem in rejected.problems:
            err.print(str(problem), markup=False, highlight=False, soft_wrap=True)
        err.print(
            f"[red]{file}: {len(rejected.problems)} problem(s); nothing imported[/] "
            "(fix them, or pass --skip-invalid)",
            soft_wrap=True,
        )
        raise typer.Exit(1) from None
    for problem in report.problems:
        err.print(f"skipped {problem}", markup=False, highlight=False, soft_wrap=True)
    Console().print(
        f"{file}: {report.imported} new, {report.already_present} already present, "
        f"{report.skipped_invalid} invalid skipped"
    )


async def _run(
    kind: ImportKind, file: Path, skip_invalid: bool, *, audit_target: str
) -> ImportReport:
    db = create_database(load_settings().sqlalchemy_url)
    try:
        await db.migrate()
        with Progress(console=err, transient=True) as progress:
            task = progress.add_task(f"importing {kind}", total=None)
            report = await import_file(
                db,
                file,
                kind,
                skip_invalid=skip_invalid,
                progress=lambda done: progress.update(task, completed=done),
            )
        await audit_cli_action(
            db,
            DATA_IMPORTED,
            audit_target,
            command=f"import {kind}",
            details={
                "rows": report.rows,
                "imported": report.imported,
                "already_present": report.already_present,
                "skipped_invalid": report.skipped_invalid,
            },
        )
        return report
    finally:
        await db.dispose()
