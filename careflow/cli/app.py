"""The root `careflow` command; commands live in sibling modules, imported when used.

This module imports nothing but typer: `careflow --help` lists the commands from
`COMMANDS` below, and only the command that runs imports its module (and what that
module needs: the store, Temporal, the web stack, matplotlib...).
"""

from __future__ import annotations

import sys
from typing import NoReturn

import typer

from careflow.cli.lazy import Lazy, LazyGroup
from careflow.cli.process_end import end_process, exit_status
from careflow.runtime.private_files import private_umask


class CareflowGroup(LazyGroup):
    """careflow's command groups: the commands of `COMMANDS`, registered on `app`."""

    def lazy_commands(self) -> tuple[Lazy, ...]:
        return COMMANDS

    def root_app(self) -> typer.Typer:
        return app


app = typer.Typer(
    name="careflow",
    cls=CareflowGroup,
    help="careflow: rules and durable workflows for automated customer care.",
    no_args_is_help=True,
    add_completion=True,
    # Plain click help: typer's boxed help imports rich's console, tables and markdown
    # renderer first, which takes longer than importing typer and rich themselves.
    rich_markup_mode=None,
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


def main(arguments: list[str] | None = None) -> NoReturn:
    """Console-script entry point; what careflow writes is private to its account.

    `arguments` default to the command line's. A setup mistake (a setting that does
    not parse, a store out of reach) is one line on stderr naming what to check, and
    exit code 2, from every command. The process ends as `process_end` explains.
    """
    private_umask()
    try:
        app(arguments)
    except SystemExit as stop:
        code, message = exit_status(stop)
        if message is not None:
            print(message, file=sys.stderr)
        end_process(code)
    except Exception as error:
        # Imported here: it needs pydantic and SQLAlchemy, which `--help` does not.
        from careflow.cli.setup_errors import setup_problem

        problem = setup_problem(error)
        if problem is None:
            # A bug: its trace, printed as an uncaught error would be (typer's hook).
            sys.excepthook(*sys.exc_info())
            end_process(1)
        from careflow.cli.temporal import say_setup_problem

        say_setup_problem(problem)
        end_process(2)
    end_process(0)


# Every command, in the order `careflow --help` lists them. Registering a new command
# module is one line here: Lazy(name, module, its docstring's first paragraph). The
# module registers the command on `app` (`@app.command()`, `app.add_typer(...)`) as
# usual and is imported only when that command runs. A subcommand that a module other
# than its group's adds is "group name" (its group's Typer must use `cls=CareflowGroup`).
# tests/cli/test_lazy_commands.py checks this list against what the modules register.
COMMANDS: tuple[Lazy, ...] = (
    Lazy(
        "timeline",
        "careflow.cli.customers",
        "Events, rule decisions, journeys, messages and tasks for one customer, in order.",
    ),
    Lazy(
        "erase",
        "careflow.cli.customers",
        "Forget a customer: journeys stopped and deleted from Temporal, open tasks closed, "
        "personal data deleted or turned into a keyed pseudonym in the store, the outbox "
        "and the logs; the anonymous ledger keeps its counts.",
    ),
    Lazy(
        "event",
        "careflow.cli.events",
        "Record an event and evaluate the rules for its customer (needs a running worker).",
    ),
    Lazy(
        "facts",
        "careflow.cli.facts",
        "The facts the rules see for one customer; facts unknown for them are left out.",
    ),
    Lazy(
        "import",
        "careflow.cli.imports",
        "Load a CSV (with header) or JSON Lines file; idempotent by the business's ids.",
    ),
    Lazy(
        "scan",
        "careflow.cli.scan",
        "Run the daily scan on demand through a running worker (`careflow up` or `worker`).",
    ),
    Lazy(
        "kpis",
        "careflow.cli.kpis",
        "Satisfaction, complaints, SLA breaches, churn, offers vs holdout, messages, experiments.",
    ),
    Lazy(
        "init",
        "careflow.cli.project",
        "Write the shipped rule files and templates into DIR, to edit and run from there.",
    ),
    Lazy(
        "up",
        "careflow.cli.runtime",
        "Start the store, Temporal, SMTP capture, the worker and the HTTP API; Ctrl-C stops.",
    ),
    Lazy(
        "worker",
        "careflow.cli.runtime",
        "Run workflows and activities on the task queue (no HTTP API); SIGTERM stops gracefully.",
    ),
    Lazy(
        "api",
        "careflow.cli.runtime",
        "Serve the HTTP API and console on CAREFLOW_HTTP (no worker); SIGTERM stops gracefully.",
    ),
    Lazy(
        "simulate",
        "careflow.cli.simulate",
        "Run the real journeys over history: rules fired, journeys, messages per day, offers.",
    ),
    Lazy("db", "careflow.cli.db", "The store's schema (migrations)."),
    Lazy("rules", "careflow.cli.rules", "Check rule files and explain what they do."),
    Lazy(
        "rules diff",
        "careflow.cli.journeys",
        "List journeys in flight started by a rule that was changed or removed since; with "
        "`--release`, what changed between two releases, rule by rule.",
    ),
    Lazy(
        "rules propose",
        "careflow.cli.releases",
        "Upload a rules folder and its templates as a draft release, and check it.",
    ),
    Lazy(
        "rules check-release",
        "careflow.cli.releases",
        "Check a stored release again (its own files, as proposed).",
    ),
    Lazy(
        "rules backtest",
        "careflow.cli.releases",
        "Replay the last days of a sample of customers with the active release and with this "
        "one (`careflow simulate --compare`), and store the difference on the release.",
    ),
    Lazy(
        "rules activate",
        "careflow.cli.releases",
        "Make a checked release the active one on every worker and API (a second person).",
    ),
    Lazy(
        "rules rollback",
        "careflow.cli.releases",
        "Re-activate the release that was active before the active one.",
    ),
    Lazy(
        "rules releases",
        "careflow.cli.releases",
        "Every release: who proposed, checked, approved and activated it, and when.",
    ),
    Lazy(
        "segments",
        "careflow.cli.segments",
        "Named groups of customers (rules/segments.yaml): list them, count their members.",
    ),
    Lazy("journeys", "careflow.cli.journeys", "Act on journeys in flight."),
    Lazy(
        "upgrade",
        "careflow.cli.upgrade",
        "Check that new code can carry on the journeys in flight.",
    ),
    Lazy("users", "careflow.cli.users", "Manage the operations console's users."),
    Lazy("tasks", "careflow.cli.tasks", "Staff tasks: list, assign, complete."),
    Lazy("webhooks", "careflow.cli.webhooks", "Webhook endpoints and staff robots."),
    Lazy("campaign", "careflow.cli.campaigns", "One-off broadcasts: preview, launch, status."),
)
