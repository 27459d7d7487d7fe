"""The references a rule set is checked against, built from what the worker runs.

Every process that loads rules (the worker, the API and console, the CLI's
`rules check`, `simulate`) builds them here, from the journey registry the worker
registers and the settings it reads templates and `journeys.yaml` from. The signals
of a journey are read from its workflow class (`Journey.signals`), never listed again.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ruamel.yaml import YAML

from careflow.config import Settings
from careflow.config_files import _line_of
from careflow.journey_config import (
    JourneyConfig,
    JourneyConfigError,
    load_journey_config,
    named_templates,
)
from careflow.journey_spec import Journey
from careflow.paths import RULES_DIR, TEMPLATES_DIR
from careflow.rules.references import JOURNEY_CONFIG_FILE, References, template_ids
from careflow.webhooks.config import WEBHOOKS_FILE_NAME, WebhooksConfigError, load_webhooks_config
from careflow.workflows.registry import JOURNEYS


def staff_teams(rules_dir: Path) -> frozenset[str] | None:
    """Teams with an address under `staff.teams` in the folder's journeys.yaml.

    None when there is no such file, or it is broken (its own check reports that).
    """
    path = rules_dir / JOURNEY_CONFIG_FILE
    if not path.is_file():
        return None
    try:
        return frozenset(load_journey_config(path).staff.teams)
    except JourneyConfigError:
        return None


def webhook_endpoints(rules_dir: Path) -> frozenset[str] | None:
    """Endpoint names in the folder's webhooks.yaml; None when it is broken (its own
    check reports that). No file: no endpoints."""
    try:
        return frozenset(load_webhooks_config(rules_dir / WEBHOOKS_FILE_NAME).endpoints)
    except WebhooksConfigError:
        return None


def references_for(
    journeys: Mapping[str, Journey], *, templates_dir: Path, rules_dir: Path | None
) -> References:
    """References for these journeys, the templates in `templates_dir` and the teams in
    `rules_dir`'s journeys.yaml (no team check when `rules_dir` is None)."""
    return References(
        journeys={name: journey.signals for name, journey in journeys.items()},
        templates=template_ids(templates_dir),
        templates_dir=templates_dir,
        teams=staff_teams(rules_dir) if rules_dir is not None else None,
        subject_journeys=frozenset(
            name for name, journey in journeys.items() if journey.needs_subject
        ),
        webhooks=webhook_endpoints(rules_dir) if rules_dir is not None else None,
    )


def build_references(settings: Settings, *, rules_dir: Path | None = None) -> References:
    """References as the worker configured by `settings` sees them.

    `rules_dir` names another folder whose journeys.yaml lists the teams (a folder
    being checked or simulated); by default the configured rules folder.
    """
    return references_for(
        JOURNEYS, templates_dir=settings.templates_dir, rules_dir=rules_dir or settings.rules_dir
    )


def folder_references(templates_dir: Path, rules_dir: Path | None) -> References:
    """References for the worker's journeys with another templates and rules folder (a
    release being checked or served); no team check when `rules_dir` is None."""
    return references_for(JOURNEYS, templates_dir=templates_dir, rules_dir=rules_dir)


def shipped_references() -> References:
    """References for the shipped rules folder and templates (docs, tests, samples)."""
    return references_for(JOURNEYS, templates_dir=TEMPLATES_DIR, rules_dir=RULES_DIR)


def missing_journey_settings(
    journeys_file: Path, journeys: Mapping[str, Journey] = JOURNEYS
) -> list[str]:
    """`journeys.yaml: <section>: missing ...` for each declared journey whose settings
    section the file lacks (a journey would fail at its first step without it).

    A file that does not load reports its own problems elsewhere; nothing is added here.
    """
    try:
        config = load_journey_config(journeys_file)
    except JourneyConfigError:
        return []
    problems = []
    for journey in journeys.values():
        node: object = config
        for part in journey.settings.split("."):
            node = node.get(part) if isinstance(node, dict) else getattr(node, part, None)
        if node is None:
            problems.append(
                f"{journeys_file.name}: {journey.settings}: missing: the journey "
                f"{journey.name!r} reads its settings there"
            )
    return problems + _experiment_problems(journeys_file, config, journeys)


def _experiment_problems(
    journeys_file: Path, config: JourneyConfig, journeys: Mapping[str, Journey]
) -> list[str]:
    """`journeys.yaml:LINE: experiments.N...: ...` for an experiment on a journey that
    does not exist, or on a template that journey does not send (it would never run).

    The variants' templates are checked to exist with every other template the file
    names (`missing_template_problems`), their weights by the file's schema.
    """
    if not config.experiments:
        return []
    sent = _templates_sent(config, journeys)
    found: list[tuple[tuple[str | int, ...], str]] = []
    for index, experiment in enumerate(config.experiments):
        if experiment.journey not in journeys:
            found.append(
                (
                    ("experiments", index, "journey"),
                    f"unknown journey {experiment.journey!r}; expected one of {sorted(journeys)}",
                )
            )
        elif experiment.template not in sent[experiment.journey]:
            found.append(
                (
                    ("experiments", index, "template"),
                    f"journey {experiment.journey!r} sends no template {experiment.template!r};"
                    f" it sends {sorted(sent[experiment.journey])}",
                )
            )
    if not found:
        return []
    document = YAML(typ="rt").load(journeys_file.read_text(encoding="utf-8"))
    return [
        f"{journeys_file.name}:{_line_of(document, where)}: {'.'.join(map(str, where))}: {what}"
        for where, what in found
    ]


def _templates_sent(config: JourneyConfig, journeys: Mapping[str, Journey]) -> dict[str, set[str]]:
    """Each journey's customer templates: its declared ones and those its settings name."""
    named = named_templates(config)
    sent: dict[str, set[str]] = {}
    for journey in journeys.values():
        prefix = tuple(journey.settings.split("."))
        sent[journey.name] = {
            template for template, audience in journey.templates.items() if audience != "staff"
        } | {template for where, template in named if where[: len(prefix)] == prefix}
    return sent
