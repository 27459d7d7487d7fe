"""The CLI imports a command's module only when that command runs.

`careflow --help`, `careflow rules check` and `careflow facts` run in a fresh
interpreter each (imports are per process), which reports what it imported; and
`app.COMMANDS` is checked against what the command modules register.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest
import typer
from typer._click.core import Command
from typer.core import TyperGroup
from typer.testing import CliRunner

from careflow.cli.app import COMMANDS, app
from careflow.store import create_database
from tests.subprocesses import ROOT, run_python

HEAVY = ("matplotlib", "fastapi", "starlette", "uvicorn", "alembic")

# Runs `careflow ARGS...` as the console script does; an exit handler (which runs
# however the command ends its process) prints on stderr, after the command's own
# output, which heavy packages were imported.
_PROBE = """
import atexit, json, sys
from careflow.cli import main

def report():
    heavy = sorted({name.split(".")[0] for name in sys.modules} & set(HEAVY))
    print(json.dumps({"heavy": heavy}), file=sys.stderr)

atexit.register(report)
sys.argv = ["careflow", *sys.argv[1:]]
main()
"""


def _careflow(*arguments: str, home: Path, **env: str) -> tuple[int, list[str], str]:
    done = run_python(
        "-c",
        f"HEAVY = {HEAVY!r}\n{_PROBE}",
        *arguments,
        cwd=home,
        env={"CAREFLOW_HOME": str(home), "COLUMNS": "200", **env},
    )
    report = json.loads(done.stderr.strip().splitlines()[-1])
    return done.returncode, report["heavy"], done.stdout


def test_help_lists_every_command_and_imports_nothing_heavy(tmp_path: Path) -> None:
    code, heavy, output = _careflow("--help", home=tmp_path)
    assert code == 0
    assert heavy == []
    listed = output.split("Commands:", 1)[1]
    for entry in COMMANDS:
        if not entry.group:
            assert f"  {entry.name} " in listed, entry.name
    assert "--install-completion" in output
    assert "--version" in output


def test_rules_check_imports_nothing_heavy(tmp_path: Path) -> None:
    code, heavy, output = _careflow("rules", "check", str(ROOT / "rules"), home=tmp_path)
    assert code == 0, output
    assert heavy == []


async def test_facts_on_a_current_store_imports_nothing_heavy(tmp_path: Path) -> None:
    db = create_database(f"sqlite+aiosqlite:///{tmp_path / 'careflow.db'}")
    await db.migrate()
    await db.dispose()
    code, heavy, _ = _careflow("facts", "nobody", home=tmp_path, CAREFLOW_DATABASE_URL="")
    assert code == 1  # no such customer: the store was opened and asked
    assert heavy == []


def test_completion_of_a_group_lists_its_lazy_subcommands(tmp_path: Path) -> None:
    code, heavy, output = _careflow(
        home=tmp_path, _CAREFLOW_COMPLETE="complete_zsh", _TYPER_COMPLETE_ARGS="careflow rules "
    )
    assert code == 0
    assert [name for name in ("check", "explain", "diff") if f'"{name}"' not in output] == []
    assert "alembic" not in heavy


def test_version_is_printed() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.startswith("careflow ")


def _first_paragraph(command: Command) -> str:
    return " ".join((command.help or "").split("\n\n")[0].split())


def test_commands_lists_what_the_modules_register_with_their_help() -> None:
    for entry in COMMANDS:
        importlib.import_module(entry.module)
    root = typer.main.get_group(app)
    lazy_groups = {entry.group for entry in COMMANDS}
    registered: dict[str, Command] = {}
    for name, command in root.commands.items():
        registered[name] = command
        if name in lazy_groups:
            assert isinstance(command, TyperGroup)
            registered |= {f"{name} {sub}": it for sub, it in command.commands.items()}
    listed = {entry.path: entry for entry in COMMANDS}
    unlisted = sorted(path for path in registered if " " not in path and path not in listed)
    assert unlisted == [], "add a Lazy(...) line to careflow/cli/app.py COMMANDS"
    for path, entry in listed.items():
        assert path in registered, f"{entry.module} does not register {path!r}"
        assert entry.summary == _first_paragraph(registered[path]), path


@pytest.mark.parametrize("arguments", [["rules", "--help"], ["rules", "diff", "--help"]])
def test_a_lazy_subcommand_runs_and_has_its_own_help(arguments: list[str]) -> None:
    result = CliRunner().invoke(app, arguments)
    assert result.exit_code == 0, result.output
    assert "journeys in flight started by a rule" in " ".join(result.output.split())
