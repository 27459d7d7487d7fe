"""Command groups that import a command's module only when that command is asked for.

`careflow --help`, `careflow rules check` and `careflow facts` must not pay for
matplotlib, the web stack or Alembic, which other commands need. So the root app
(and any group that gets subcommands from other modules) is a `LazyGroup`: it knows
each command's name, module and one-line help from `app.COMMANDS`, lists them from
that alone, and imports the module (which registers the command on its Typer app as
usual) the first time the command is run, completed or asked for its own help.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import typer

# typer's own copy of click, which its commands and groups are made of.
from typer._click.core import Command, Context
from typer._click.formatting import HelpFormatter
from typer._click.shell_completion import CompletionItem
from typer.core import TyperCommand, TyperGroup


@dataclass(frozen=True)
class Lazy:
    """One command: its path ("facts", or "rules diff" for a subcommand), the module
    that registers it, and the one-line help `--help` lists (a test checks it against
    the command's own docstring, so the two cannot drift)."""

    path: str
    module: str
    summary: str

    @property
    def group(self) -> str:
        return self.path.rpartition(" ")[0]

    @property
    def name(self) -> str:
        return self.path.rpartition(" ")[2]


def _group_path(ctx: Context) -> str:
    """The command path of the group `ctx` belongs to, without the program's name."""
    names: list[str] = []
    while ctx.parent is not None:
        names.append(ctx.info_name or "")
        ctx = ctx.parent
    return " ".join(reversed(names))


class LazyGroup(TyperGroup):
    """A Typer group whose listed commands load on first use.

    A subclass names the table and the root app (`careflow.cli.app` does), so this
    module imports neither and the two do not import each other.
    """

    _listing = False

    def lazy_commands(self) -> tuple[Lazy, ...]:
        """Every lazily loaded command, subgroups' included."""
        raise NotImplementedError

    def root_app(self) -> typer.Typer:
        """The root Typer app command modules register on."""
        raise NotImplementedError

    def _entries(self, ctx: Context) -> dict[str, Lazy]:
        here = _group_path(ctx)
        return {entry.name: entry for entry in self.lazy_commands() if entry.group == here}

    def list_commands(self, ctx: Context) -> list[str]:
        # The group's own commands (registered with it) first, then the lazy ones in
        # COMMANDS order; for the root group that is COMMANDS order throughout.
        lazy = list(self._entries(ctx))
        return [name for name in super().list_commands(ctx) if name not in lazy] + lazy

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        loaded = super().get_command(ctx, cmd_name)
        if loaded is not None:
            return loaded
        entry = self._entries(ctx).get(cmd_name)
        if entry is None:
            return None
        if self._listing:
            # Only its name and help are shown: no need to import it for that.
            return TyperCommand(entry.name, help=entry.summary, short_help=entry.summary)
        importlib.import_module(entry.module)
        command = _built(self.root_app(), ctx, entry.name)
        if command is not None:
            self.commands[entry.name] = command
        return command

    @contextmanager
    def _from_summaries(self) -> Iterator[None]:
        self._listing = True
        try:
            yield
        finally:
            self._listing = False

    def format_help(self, ctx: Context, formatter: HelpFormatter) -> None:
        with self._from_summaries():
            super().format_help(ctx, formatter)

    def shell_complete(self, ctx: Context, incomplete: str) -> list[CompletionItem]:
        # Completing a command name needs only the names and their help; completing
        # within a command resolves it through get_command, which imports it.
        with self._from_summaries():
            return super().shell_complete(ctx, incomplete)


def _built(app: typer.Typer, ctx: Context, name: str) -> Command | None:
    """The click command `name` of the group at `ctx`, built from what is registered now."""
    group: Any = typer.main.get_group(app)
    for step in _group_path(ctx).split():
        group = group.commands.get(step)
        if group is None:
            return None
    command: Command | None = group.commands.get(name)
    return command
