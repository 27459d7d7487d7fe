"""The root `careflow` command; command groups live in sibling modules."""

from __future__ import annotations

import typer

from careflow.runtime.private_files import private_umask

app = typer.Typer(
    name="careflow",
    help="careflow: rules and durable workflows for automated customer care.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)


def _print_version(value: bool) -> None:
    if value:
        from careflow import __version__

        typer.echo(f"careflow {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False,
        "--version",
        callback=_print_version,
        is_eager=True,
        help="Print careflow's version and exit.",
    ),
) -> None:
    """careflow: rules and durable workflows for automated customer care."""


def main() -> None:
    """Console-script entry point; what careflow writes is private to its account.

    A setup mistake (a setting that does not parse, a store out of reach) is one line
    on stderr naming what to check, and exit code 2, from every command.
    """
    from careflow.cli.setup_errors import setup_problem

    private_umask()
    try:
        app()
    except Exception as error:
        problem = setup_problem(error)
        if problem is None:
            raise
        from careflow.cli.temporal import say_setup_problem

        say_setup_problem(problem)
        raise SystemExit(2) from None


# Command modules register themselves on `app` when imported.
from careflow.cli import (  # noqa: E402,F401
    customers,
    db,
    events,
    facts,
    imports,
    journeys,
    kpis,
    project,
    rules,
    runtime,
    scan,
    simulate,
    upgrade,
    users,
    webhooks,
)
