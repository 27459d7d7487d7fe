"""`careflow rules check` and `careflow rules explain`: the tools operations staff use."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from careflow.cli.app import CareflowGroup, app
from careflow.config import Settings, load_settings
from careflow.operator_language import CHINESE, catalogue, operator_language, say_problem
from careflow.releases.checking import (
    journey_template_problems,
    operator_file_problems,
    template_problems,
)
from careflow.rule_references import build_references, folder_references
from careflow.rules import RuleFileError, load_rule_files
from careflow.rules.explaining import failure_words
from careflow.rules.facts import EVENT_TYPES
from careflow.rules.intents import RuleOutcome
from careflow.rules.phrases import say
from careflow.rules.references import JOURNEY_CONFIG_FILE
from careflow.rules.rulebook import rule_files

rules_app = typer.Typer(
    cls=CareflowGroup,
    name="rules",
    help="Check rule files and explain what they do.",
    no_args_is_help=True,
)
app.add_typer(rules_app)

console = Console()
err = Console(stderr=True)


@rules_app.command()
def check(
    paths: list[Path] | None = typer.Argument(
        None, help="Rule files or folders (default: the configured rules folder)."
    ),
) -> None:
    """Check rule files: every mistake at once, examples run, templates rendered."""
    settings = load_settings()
    files = [_shown_path(path) for path in rule_files(paths or [settings.rules_dir])]
    if not files:
        err.print("no *.rules.yaml files found")
        raise typer.Exit(1)
    references = build_references(settings)
    # Journeys send templates no rule names, so every template is rendered and every
    # template the journey configuration names must exist, whatever the rules say.
    journeys_file = journey_config_path(paths or [], settings.rules_dir)
    journey_problems = journey_template_problems(journeys_file, references.templates_dir)
    # Team rosters, suppressions, SMS, webhooks and staff robots beside the rules.
    journey_problems += operator_file_problems(journeys_file.parent, references.templates_dir)
    language = operator_language()
    try:
        rulebook = load_rule_files(files, references=references)
    except RuleFileError as error:
        for problem in [*(str(item) for item in error.errors), *journey_problems]:
            console.print(escape(say_problem(problem, language)), highlight=False, soft_wrap=True)
        count = len(error.errors)
        summary = (
            f"{len(files)} 个文件中有 {count} 处问题"
            if language == CHINESE
            else f"{count} problem(s) in {len(files)} file(s)"
        )
        err.print(f"[red]{summary}[/]")
        raise typer.Exit(1) from None
    rendering = template_problems(rulebook, references.templates_dir) + journey_problems
    for message in rendering:
        console.print(escape(say_problem(message, language)), highlight=False, soft_wrap=True)
    if rendering:
        raise typer.Exit(1)
    rules = sum(len(ruleset.rules) for ruleset in rulebook.rulesets)
    examples = sum(len(rule.examples) for ruleset in rulebook.rulesets for rule in ruleset.rules)
    if language == CHINESE:
        console.print(
            f"[green]通过[/]：{len(rulebook.rulesets)} 个规则集，{rules} 条规则，"
            f"{examples} 个示例通过；哈希 {rulebook.hash[:12]}"
        )
        return
    console.print(
        f"[green]ok[/]: {len(rulebook.rulesets)} ruleset(s), {rules} rule(s), "
        f"{examples} example(s) passed; hash {rulebook.hash[:12]}"
    )


def _shown_path(path: Path) -> Path:
    """Relative to the current folder when inside it: short, and editors open it."""
    try:
        return path.resolve().relative_to(Path.cwd())
    except ValueError:
        return path


def journey_config_path(paths: Sequence[Path], rules_dir: Path) -> Path:
    """The journeys.yaml beside the checked rule files: a folder given that has one, else
    the configured rules folder's."""
    for path in paths:
        folder = path if path.is_dir() else path.parent
        if (folder / JOURNEY_CONFIG_FILE).is_file():
            return folder / JOURNEY_CONFIG_FILE
    return rules_dir / JOURNEY_CONFIG_FILE


@rules_app.command()
def explain(
    customer_id: str = typer.Argument(..., help="The business's customer id."),
    at: str | None = typer.Option(
        None, "--at", help="As of this ISO 8601 time (default: now; no offset = UTC)."
    ),
    event: str = typer.Option(
        "daily_scan", "--event", help=f"The event to imagine: {', '.join(EVENT_TYPES)}."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """For every rule: does it fire for this customer, and if not, which condition failed."""
    from careflow.cli.facts import _facts, parse_at

    moment = parse_at(at)
    settings = load_settings()
    # The active release when there is one (what every worker evaluates), else the folder.
    served = asyncio.run(_served_folders(settings))
    rules_dir, templates_dir = served or (settings.rules_dir, settings.templates_dir)
    try:
        rulebook = load_rule_files(
            rule_files([rules_dir]),
            references=folder_references(templates_dir, rules_dir),
            folder=rules_dir,
        )
    except RuleFileError as error:
        err.print(escape(str(error)))
        raise typer.Exit(1) from None
    # Declared event types (rules/events.yaml) can be imagined too.
    events = rulebook.facts["event_type"].values
    if event not in events:
        raise typer.BadParameter(f"{event!r}: expected one of {', '.join(events)}")
    snapshot = asyncio.run(
        _facts(customer_id, moment, rulebook.derived, rules_dir=rules_dir if served else None)
    )
    if snapshot is None:
        err.print(f"[red]no customer {escape(customer_id)!r}[/]")
        raise typer.Exit(1)
    outcomes = rulebook.explain({**snapshot, "event_type": event})
    if as_json:
        print(json.dumps(outcomes_json(outcomes), ensure_ascii=False, default=str))
        return
    language = operator_language()
    title = (
        f"{customer_id} 的规则（{event}）"
        if language == CHINESE
        else f"rules for {customer_id} ({event})"
    )
    console.print(outcomes_table(outcomes, title, language))


def outcomes_json(outcomes: Sequence[RuleOutcome]) -> list[dict[str, object]]:
    """Outcomes as plain JSON-ready dictionaries."""
    return [asdict(outcome) for outcome in outcomes]


# The explain table's words; its reasons are Phrases, said from the console's catalogue.
_EXPLAIN_WORDS = {
    "en": ("ruleset", "rule", "fires", "why / what", "yes", "no"),
    CHINESE: ("规则集", "规则", "触发", "原因 / 动作", "是", "否"),
}


def outcomes_table(outcomes: Sequence[RuleOutcome], title: str, language: str = "en") -> Table:
    """One row per rule: fired (with what it asks for) or why not, with the actual value."""
    *columns, yes, no = _EXPLAIN_WORDS[language]
    words = catalogue(language) if language == CHINESE else None
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for outcome in outcomes:
        if outcome.fired:
            asked = ", ".join(intent.label for intent in outcome.intents)
            table.add_row(outcome.ruleset, outcome.rule_id, f"[green]{yes}[/]", escape(asked))
        else:
            why = failure_words(outcome)
            said = say(why, words) if words is not None else why
            table.add_row(outcome.ruleset, outcome.rule_id, f"[red]{no}[/]", escape(said))
    return table


async def _served_folders(settings: Settings) -> tuple[Path, Path] | None:
    """The rules and templates folders of the store's active release, written out here."""
    from careflow.releases.lifecycle import active_release_folder
    from careflow.store import create_database

    db = create_database(settings.sqlalchemy_url)
    try:
        await db.migrate()
        found = await active_release_folder(db, settings.resolved_home / "releases")
    finally:
        await db.dispose()
    if found is None:
        return None
    _, folder = found
    return folder / "rules", folder / "templates"
