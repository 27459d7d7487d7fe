"""The campaign files checked against the folder they sit in: its segments, its event
types and its templates. `rules check`, the release gate and `campaign launch` all
call `campaign_file_problems`, so a campaign that passes one passes the others."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from careflow.campaigns.spec import CampaignSpec, SmsCheck, campaign_problems, load_campaigns
from careflow.channels.checks import sms_template_problem
from careflow.config_files import ConfigFileError
from careflow.custom_events.declarations import (
    BUILT_IN_EVENT_TYPES,
    EVENTS_FILE_NAME,
    load_event_declarations,
)
from careflow.rule_references import folder_references
from careflow.rules import RuleFileError
from careflow.segments.book import load_segments


def _segments(rules_dir: Path) -> Collection[str] | None:
    try:
        return set(load_segments(rules_dir))
    except RuleFileError:
        return None  # segments.yaml's own mistakes are reported by its own check


def _events(rules_dir: Path) -> Collection[str] | None:
    try:
        declared = load_event_declarations(rules_dir / EVENTS_FILE_NAME)
    except ConfigFileError:
        return None  # reported by the events file's own check
    return {*BUILT_IN_EVENT_TYPES, *declared.events}


def _sms(rules_dir: Path, templates_dir: Path) -> SmsCheck:
    def problem(template: str, topic: str, locales: tuple[str, ...]) -> str | None:
        return sms_template_problem(
            rules_dir, templates_dir, template, audience=topic, locales=locales
        )

    return problem


def campaign_file_problems(rules_dir: Path, templates_dir: Path) -> list[str]:
    """Every mistake of every campaign file, `campaigns/NAME.campaign.yaml:LINE:COL: ...`."""
    return campaign_problems(
        rules_dir,
        references=folder_references(templates_dir, rules_dir),
        segments=_segments(rules_dir),
        events=_events(rules_dir),
        sms=_sms(rules_dir, templates_dir),
    )


def checked_campaigns(rules_dir: Path, templates_dir: Path) -> dict[str, CampaignSpec]:
    """The campaigns, checked as `rules check` checks them (CampaignFileError if not)."""
    return load_campaigns(
        rules_dir,
        references=folder_references(templates_dir, rules_dir),
        segments=_segments(rules_dir),
        events=_events(rules_dir),
        sms=_sms(rules_dir, templates_dir),
    )
