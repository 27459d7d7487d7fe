"""The check a release must pass: `careflow rules check` over the release's own files.

Every mistake in the rule files (`file:line:col`), every example run, every template
of every journey rendered in every locale with sample data, every template
`journeys.yaml` names checked to exist, and each operator settings file (tiers,
outreach policy, holdout, journeys) validated with its line. `careflow rules check`
and the release gate call the same functions, so a draft that passes one passes the
other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from careflow.config_files import ConfigFileError
from careflow.journey_spec import template_audiences
from careflow.rule_references import folder_references
from careflow.rules import RuleBook, RuleFileError, load_rule_files
from careflow.rules.references import JOURNEY_CONFIG_FILE
from careflow.rules.rulebook import rule_files
from careflow.workflows.registry import JOURNEYS


@dataclass(frozen=True)
class CheckReport:
    """What a check found: every problem (empty: passed) and what was checked."""

    problems: list[str] = field(default_factory=list)
    rulesets: int = 0
    rules: int = 0
    examples: int = 0
    rules_hash: str = ""

    @property
    def passed(self) -> bool:
        return not self.problems

    def as_json(self) -> dict[str, Any]:
        return {
            "problems": self.problems,
            "rulesets": self.rulesets,
            "rules": self.rules,
            "examples": self.examples,
            "rules_hash": self.rules_hash,
        }


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
    from careflow.outreach.samples import sample_context
    from careflow.outreach.templates import TemplateProblem, TemplateRenderer, template_locales

    renderer = TemplateRenderer(templates_dir)
    audiences = template_audiences(JOURNEYS.values())
    problems: list[str] = []
    for template_id, pos in sorted(named, key=lambda item: (item[1].path, item[1].line)):
        for locale in sorted(template_locales(templates_dir, template_id)):
            try:
                context = sample_context(template_id, locale, audience=audiences.get(template_id))
                renderer.render(template_id, locale, context)
            except TemplateProblem as problem:
                problems.append(str(pos.error(f"template {template_id!r} ({locale}): {problem}")))
    return problems


def journey_template_problems(journeys_file: Path, templates_dir: Path) -> list[str]:
    """Every template of every journey rendered in every locale it has with sample
    data, and every template `journeys_file` names checked to exist.

    Each problem names the template file and line (or the journeys.yaml line).
    """
    from careflow.experiments.journeys import variant_stand_ins, with_variant_audiences
    from careflow.journey_config import missing_template_problems
    from careflow.outreach.samples import check_templates
    from careflow.outreach.templates import available_templates
    from careflow.rule_references import missing_journey_settings

    stand_ins = variant_stand_ins(journeys_file)
    audiences = with_variant_audiences(template_audiences(JOURNEYS.values()), stand_ins)
    problems = [
        str(problem)
        for problem in check_templates(templates_dir, audiences=audiences, stand_ins=stand_ins)
    ]
    return (
        problems
        + missing_template_problems(journeys_file, available_templates(templates_dir))
        + missing_journey_settings(journeys_file)
    )


def operator_file_problems(rules_dir: Path, templates_dir: Path) -> list[str]:
    """The operator files beside the rules that are neither rules nor settings: team
    rosters, the policy's suppressions, SMS, webhooks, staff robots and campaigns, each
    problem naming its file (and line and column where the file has them)."""
    from careflow.campaigns.checks import campaign_file_problems
    from careflow.channels.checks import sms_problems
    from careflow.experiments.journeys import variant_stand_ins, with_variant_audiences
    from careflow.outreach.suppression import suppression_problems
    from careflow.teams import TEAMS_FILE_NAME, TeamsConfigError, load_teams_config
    from careflow.webhooks.config import config_problems as outbound_problems

    problems: list[str] = []
    try:
        load_teams_config(rules_dir / TEAMS_FILE_NAME)
    except TeamsConfigError as error:
        problems += list(error.problems)
    problems += suppression_problems(rules_dir)
    audiences = with_variant_audiences(
        template_audiences(JOURNEYS.values()),
        variant_stand_ins(rules_dir / JOURNEY_CONFIG_FILE),
    )
    problems += sms_problems(rules_dir, templates_dir, audiences=audiences)
    problems += outbound_problems(rules_dir)
    problems += campaign_file_problems(rules_dir, templates_dir)
    return problems


def settings_file_problems(rules_dir: Path) -> list[str]:
    """Each operator settings file of the folder validated, with `FILE:LINE: field: ...`.

    journeys.yaml is reported by `journey_template_problems`; the others here.
    """
    from careflow.facts.config import TIERS_FILE_NAME, load_facts_config
    from careflow.holdout import HOLDOUT_FILE_NAME, load_holdout_config
    from careflow.outreach.policy_config import POLICY_FILE_NAME, load_outreach_policy

    loaders: list[tuple[str, Callable[[Path], object]]] = [
        (TIERS_FILE_NAME, load_facts_config),
        (POLICY_FILE_NAME, load_outreach_policy),
        (HOLDOUT_FILE_NAME, lambda path: load_holdout_config(path, journeys=JOURNEYS)),
    ]
    problems: list[str] = []
    for name, load in loaders:
        path = rules_dir / name
        if not path.is_file():
            continue  # the configured or shipped one is used (as simulate does)
        try:
            load(path)
        except ConfigFileError as error:
            problems += [
                item if item.startswith(f"{name}:") else f"{name}: {item}"
                for item in error.problems
            ]
    return problems


def check_folder(rules_dir: Path, templates_dir: Path) -> CheckReport:
    """The whole check of a rules folder and its templates (a materialised release)."""
    files = rule_files([rules_dir])
    if not files:
        return CheckReport(problems=[f"{rules_dir}: no *.rules.yaml files"])
    references = folder_references(templates_dir, rules_dir)
    problems = journey_template_problems(rules_dir / JOURNEY_CONFIG_FILE, templates_dir)
    problems += settings_file_problems(rules_dir)
    problems += operator_file_problems(rules_dir, templates_dir)
    try:
        rulebook = load_rule_files(files, references=references)
    except RuleFileError as error:
        return CheckReport(problems=[str(problem) for problem in error.errors] + problems)
    problems = template_problems(rulebook, templates_dir) + problems
    return CheckReport(
        problems=problems,
        rulesets=len(rulebook.rulesets),
        rules=sum(len(ruleset.rules) for ruleset in rulebook.rulesets),
        examples=sum(len(rule.examples) for ruleset in rulebook.rulesets for rule in ruleset.rules),
        rules_hash=rulebook.hash,
    )
