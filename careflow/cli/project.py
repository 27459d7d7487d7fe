"""`careflow init DIR`: start an operator project from the shipped rule files and templates."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from careflow.cli.app import app


@app.command()
def init(
    directory: Path = typer.Argument(
        Path("."), help="Folder to write rules/, templates/ and README.md into."
    ),
) -> None:
    """Write the shipped rule files and templates into DIR, to edit and run from there."""
    from careflow.operator_project import ProjectExistsError, init_project

    console = Console()
    try:
        project = init_project(directory)
    except ProjectExistsError as refusal:
        console.print(f"[red]careflow init: {refusal}[/red]; nothing was written")
        raise typer.Exit(1) from None
    console.print(
        f"wrote {project.files} files to {project.root}: edit rules/ and templates/, "
        f"check them with `careflow rules check`, and run careflow from {project.root} "
        "(or set CAREFLOW_RULES_DIR and CAREFLOW_TEMPLATES_DIR to its folders)"
    )
