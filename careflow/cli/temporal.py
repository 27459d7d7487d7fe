"""The Temporal client of a CLI command, or exit 2 with one line saying what to fix."""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from temporalio.client import Client

from careflow.config import Settings
from careflow.temporal_connection import (
    TemporalConnectionError,
    connect_temporal,
    load_temporal_connection,
)

err = Console(stderr=True)


async def connect_or_exit(settings: Settings) -> Client:
    """Connect as every careflow command does (`careflow/temporal_connection.py`)."""
    try:
        return await connect_temporal(load_temporal_connection(settings))
    except TemporalConnectionError as error:
        exit_with(error)


def exit_with(error: Exception) -> NoReturn:
    """Print `error` as one red line on stderr and exit 2 (a setup problem, not a bug)."""
    say_setup_problem(str(error))
    raise typer.Exit(2)


def say_setup_problem(problem: str) -> None:
    """`problem` as one red line on stderr: `careflow: ...`."""
    err.print(f"[red]careflow: {escape(problem)}[/]", highlight=False, soft_wrap=True)
