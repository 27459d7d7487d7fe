"""What rule files may name outside themselves: journeys, their signals, templates."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

# Used only while workflows/registry.py does not exist (a checkout without workflows):
# the journeys the design names, with the signals each accepts.
DESIGNED_JOURNEYS: dict[str, tuple[str, ...]] = {
    "complaint_escalation": ("complaint_resolved", "survey_answered", "customer_erased"),
    "retention_offer": ("order_placed", "opted_out", "customer_erased"),
    "care_message": ("opted_out", "customer_erased"),
    "satisfaction_survey": (),
    "onboarding": (),
    "contact_change_notice": (),
}


JOURNEY_CONFIG_FILE = "journeys.yaml"


@dataclass(frozen=True)
class References:
    """The journeys (name -> signals), template ids and teams a rule file may name."""

    journeys: Mapping[str, tuple[str, ...]]
    templates: frozenset[str]
    templates_dir: Path
    teams: frozenset[str] | None = None  # None: no team list to check against
    # Journeys about the triggering event's subject (a complaint): an `occasion` param
    # cannot name what they are about, so it would be ignored.
    subject_journeys: frozenset[str] = frozenset()
    # Endpoints of webhooks.yaml a `webhook:` action may name; None: not checked.
    webhooks: frozenset[str] | None = None


def registered_journeys() -> dict[str, tuple[str, ...]]:
    """Journeys from the workflow registry, imported lazily: it pulls in temporalio."""
    try:
        from careflow.workflows.registry import JOURNEYS
    except ModuleNotFoundError as missing:
        if missing.name not in ("careflow.workflows", "careflow.workflows.registry"):
            raise
        return dict(DESIGNED_JOURNEYS)
    return {name: tuple(journey.signals) for name, journey in JOURNEYS.items()}


def subject_journeys() -> frozenset[str]:
    """Journeys whose subject is the event's (a complaint), from the workflow registry."""
    try:
        from careflow.workflows.registry import JOURNEYS
    except ModuleNotFoundError as missing:
        if missing.name not in ("workflows", "workflows.registry"):
            raise
        return frozenset({"complaint_escalation"})
    return frozenset(name for name, journey in JOURNEYS.items() if journey.needs_subject)


def template_ids(templates_dir: Path) -> frozenset[str]:
    """Folders under `templates_dir/email`: each is a template a rule may name."""
    email_dir = templates_dir / "email"
    if not email_dir.is_dir():
        return frozenset()
    return frozenset(
        folder.name
        for folder in email_dir.iterdir()
        if folder.is_dir() and not folder.name.startswith(("_", "."))
    )


def staff_teams(rules_dir: Path) -> frozenset[str] | None:
    """Teams with an address under `staff.teams` in the folder's journeys.yaml.

    None when there is no such file, or it is broken (its own check reports that).
    """
    path = rules_dir / JOURNEY_CONFIG_FILE
    if not path.is_file():
        return None
    from careflow.journey_config import JourneyConfigError, load_journey_config

    try:
        return frozenset(load_journey_config(path).staff.teams)
    except JourneyConfigError:
        return None


def webhook_endpoints(rules_dir: Path) -> frozenset[str] | None:
    """Endpoint names in the folder's webhooks.yaml; None when it is broken (its own
    check reports that). No file: no endpoints."""
    from careflow.webhooks.config import (
        WEBHOOKS_FILE_NAME,
        WebhooksConfigError,
        load_webhooks_config,
    )

    try:
        return frozenset(load_webhooks_config(rules_dir / WEBHOOKS_FILE_NAME).endpoints)
    except WebhooksConfigError:
        return None


def default_references(
    templates_dir: Path | None = None, rules_dir: Path | None = None
) -> References:
    """References as the running system sees them (shipped templates by default)."""
    if templates_dir is None:
        from careflow.paths import TEMPLATES_DIR

        templates_dir = TEMPLATES_DIR
    teams = staff_teams(rules_dir) if rules_dir is not None else None
    return References(
        registered_journeys(),
        template_ids(templates_dir),
        templates_dir,
        teams,
        subject_journeys=subject_journeys(),
        webhooks=webhook_endpoints(rules_dir) if rules_dir is not None else None,
    )
