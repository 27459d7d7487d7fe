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

from careflow.channels.checks import sms_problems
from careflow.cli.app import app
from careflow.config import load_settings
from careflow.rules import RuleBook, RuleFileError, load_rule_files
from careflow.rules.explaining import failure_words
from careflow.rules.facts import EVENT_TYPES
from careflow.rules.intents import RuleOutcome
from careflow.rules.references import JOURNEY_CONFIG_FILE, default_references
from careflow.rules.rulebook import rule_files
from careflow.webhooks.config import config_problems as outbound_problems

rules_app = typer.Typer(
    name="rules", help="Check rule files and explain what they do.", no_args_is_help=True
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
    references = default_references(settings.templates_dir, settings.rules_dir)
    # Journeys send templates no rule names, so every template is rendered and every
    # template the journey configuration names must exist, whatever the rules say.
    journeys_file = journey_config_path(paths or [], settings.rules_dir)
    journey_problems = journey_template_problems(journeys_file, references.templates_dir)
    # SMS templates: rendered, measured in segments and mapped to the provider's codes.
    journey_problems += sms_problems(journeys_file.parent, references.templates_dir)
    journey_problems += outbound_problems(journeys_file.parent)
    try:
        rulebook = load_rule_files(files, references=references)
    except RuleFileError as error:
        for problem in error.errors:
            console.print(escape(str(problem)), highlight=False, soft_wrap=True)
        for message in journey_problems:
            console.print(escape(message), highlight=False, soft_wrap=True)
        err.print(f"[red]{len(error.errors)} problem(s) in {len(files)} file(s)[/]")
        raise typer.Exit(1) from None
    rendering = template_problems(rulebook, references.templates_dir) + journey_problems
    for message in rendering:
        console.print(escape(message), highlight=False, soft_wrap=True)
    if rendering:
        raise typer.Exit(1)
    rules = sum(len(ruleset.rules) for ruleset in rulebook.rulesets)
    examples = sum(len(rule.examples) for ruleset in rulebook.rulesets for rule in ruleset.rules)
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


def template_problems(rulebook: RuleBook, templates_dir: Path) -> list[str]:
    """Render every template a rule names, in every locale it has, for a sample customer."""
    named = {
        (str(spec.params["template"]), spec.params_pos["template"])
        for ruleset in rulebook.rulesets
        for rule in ruleset.rules
        for spec in rule.then
        if "template" in spec.params
    }
    if not named:
        return []
    try:
        from careflow.outreach.samples import sample_context
        from careflow.outreach.templates import TemplateProblem, TemplateRenderer, template_locales
    except ModuleNotFoundError:
        console.print("note: the template renderer is not installed; templates not rendered")
        return []
    renderer = TemplateRenderer(templates_dir)
    problems: list[str] = []
    for template_id, pos in sorted(named, key=lambda item: (item[1].path, item[1].line)):
        for locale in sorted(template_locales(templates_dir, template_id)):
            try:
                renderer.render(template_id, locale, sample_context(template_id, locale))
            except TemplateProblem as problem:
                problems.append(str(pos.error(f"template {template_id!r} ({locale}): {problem}")))
    return problems


def journey_config_path(paths: Sequence[Path], rules_dir: Path) -> Path:
    """The journeys.yaml beside the checked rule files: a folder given that has one, else
    the configured rules folder's."""
    for path in paths:
        folder = path if path.is_dir() else path.parent
        if (folder / JOURNEY_CONFIG_FILE).is_file():
            return folder / JOURNEY_CONFIG_FILE
    return rules_dir / JOURNEY_CONFIG_FILE


def journey_template_problems(journeys_file: Path, templates_dir: Path) -> list[str]:
    """Every template of every journey rendered in every locale it has with sample
    data, and every template `journeys_file` names checked to exist.

    Each problem names the template file and line (or the journeys.yaml line).
    """
    from careflow.journey_config import missing_template_problems
    from careflow.outreach.samples import check_templates
    from careflow.outreach.templates import available_templates

    problems = [str(problem) for problem in check_templates(templates_dir)]
    return problems + missing_template_problems(journeys_file, available_templates(templates_dir))


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

    if event not in EVENT_TYPES:
        raise typer.BadParameter(f"{event!r}: expected one of {', '.join(EVENT_TYPES)}")
    moment = parse_at(at)
    settings = load_settings()
    try:
        rulebook = load_rule_files(
            rule_files([settings.rules_dir]),
            references=default_references(settings.templates_dir, settings.rules_dir),
        )
    except RuleFileError as error:
        err.print(escape(str(error)))
        raise typer.Exit(1) from None
    snapshot = asyncio.run(_facts(customer_id, moment))
    if snapshot is None:
        err.print(f"[red]no customer {escape(customer_id)!r}[/]")
        raise typer.Exit(1)
    outcomes = rulebook.explain({**snapshot, "event_type": event})
    if as_json:
        print(json.dumps(outcomes_json(outcomes), ensure_ascii=False, default=str))
        return
    console.print(outcomes_table(outcomes, f"rules for {customer_id} ({event})"))


def outcomes_json(outcomes: Sequence[RuleOutcome]) -> list[dict[str, object]]:
    """Outcomes as plain JSON-ready dictionaries."""
    return [asdict(outcome) for outcome in outcomes]


def outcomes_table(outcomes: Sequence[RuleOutcome], title: str) -> Table:
    """One row per rule: fired (with what it asks for) or why not, with the actual value."""
    table = Table(title=title)
    for column in ("ruleset", "rule", "fires", "why / what"):
        table.add_column(column)
    for outcome in outcomes:
        if outcome.fired:
            asked = ", ".join(intent.label for intent in outcome.intents)
            table.add_row(outcome.ruleset, outcome.rule_id, "[green]yes[/]", escape(asked))
        else:
            table.add_row(
                outcome.ruleset, outcome.rule_id, "[red]no[/]", escape(failure_words(outcome))
            )
    return table
