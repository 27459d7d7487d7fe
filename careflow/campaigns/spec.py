"""`rules/campaigns/NAME.campaign.yaml`: one broadcast per file.

A campaign names a segment (rules/segments.yaml), a topic (care or marketing: a
broadcast is never transactional, so consent always applies), a channel, one
template or weighted variants, a send window in the customer's local time, a
holdout share, an optional goal and the time it may start. Files are read through
`careflow.config_files` (bounded, no aliases) and every mistake is reported as
`NAME.campaign.yaml:LINE:COL: field: message`, all at once, with the cross-file
checks (unknown segment, unknown template or one missing a locale, goal event not
declared) naming the line of the field they are about.

This module imports nothing above `careflow.rules`: the simulator and the release
gate read campaigns without the workflow or store layers.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from careflow.config_files import (
    ConfigFileError,
    OperatorFileTooLarge,
    bounded,
    describe_validation_errors,
    parse_operator_yaml,
    position_of,
    read_operator_file,
    yaml_problem,
)
from careflow.outreach.locales import normalise_locale
from careflow.outreach.templates import template_locales
from careflow.rules.derived_facts import Duration
from careflow.rules.references import References

CAMPAIGNS_DIR_NAME = "campaigns"
CAMPAIGN_SUFFIX = ".campaign.yaml"
NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
# The locales every campaign template must have unless the file lists its own: the
# languages careflow's customers read (outreach_policy.yaml's fallback order).
DEFAULT_LOCALES = ("zh-CN", "en")
# A rate nobody would choose on purpose: a typo (60000 for 600) is refused.
MAX_PER_MINUTE = 100_000
_TIME = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")


# Why a template cannot go by SMS to a topic's audience in these locales, or None
# (careflow/channels/checks.py's `sms_template_problem`, passed in by the caller).
SmsCheck = Callable[[str, str, tuple[str, ...]], str | None]


class CampaignFileError(ConfigFileError):
    """One or more campaign files are invalid; `problems` lists each with its line."""

    what = "campaign files"


class _Strict(BaseModel):
    # A misspelt key is an error, never a silently ignored setting.
    model_config = ConfigDict(extra="forbid", frozen=True)


def _clock(value: object) -> time:
    if isinstance(value, str) and (match := _TIME.match(value.strip())):
        return time(int(match.group(1)), int(match.group(2)))
    raise ValueError(f'expected a time of day in quotes such as "09:30", got {value!r}')


class SendWindow(_Strict):
    """Local hours in the customer's own time zone when the campaign may send.

    `from` before `to` (a window across midnight is refused: a broadcast at night is
    what quiet hours forbid anyway). The outreach policy's quiet hours still apply.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    start: time = Field(alias="from")
    end: time = Field(alias="to")

    @field_validator("start", "end", mode="before")
    @classmethod
    def _parse(cls, value: object) -> time:
        return _clock(value)

    @model_validator(mode="after")
    def _ordered(self) -> SendWindow:
        if self.start >= self.end:
            raise ValueError(
                f"the window must start before it ends on the same day "
                f"(from {self.start:%H:%M} to {self.end:%H:%M})"
            )
        return self

    def contains(self, local: time) -> bool:
        return self.start <= local < self.end


class Variant(_Strict):
    template: str
    weight: Annotated[int, Field(ge=1, le=1000)] = 1


class Goal(_Strict):
    """What counts as the campaign working: the customer's `event` within `within`."""

    event: str
    within: Duration


class Rate(_Strict):
    """At most this many messages per minute (the workflow paces its pages)."""

    per_minute: Annotated[int, Field(ge=1, le=MAX_PER_MINUTE)]


class CampaignSpec(_Strict):
    """One campaign file. `name` comes from the file name, not from the file."""

    name: str = ""
    description: str = ""
    segment: str
    topic: Literal["care", "marketing"]
    # `email` or `sms`: only that channel (a member it cannot reach there is skipped,
    # with the reason); `preferred`: the customer's preferred channel, falling back
    # along the template's order in rules/sms.yaml (`channels`), as journeys send.
    channel: Literal["email", "sms", "preferred"] = "email"
    template: str | None = None
    variants: dict[str, Variant] | None = None
    send_window: SendWindow
    holdout: Annotated[float, Field(ge=0, le=0.5)] = 0.0
    goal: Goal | None = None
    start: AwareDatetime
    rate: Rate | None = None  # None: as fast as the send step goes
    locales: tuple[str, ...] = DEFAULT_LOCALES
    # Members per page (one activity, one ledger read). The segment computes facts
    # 2,000 customers at a time (careflow/segments/members.py): a smaller page would
    # compute the same batch several times. A rate smaller than a page makes the page
    # one minute's worth.
    page_size: Annotated[int, Field(ge=1, le=5000)] = 2000

    @model_validator(mode="after")
    def _one_way_to_name_templates(self) -> CampaignSpec:
        if (self.template is None) == (self.variants is None):
            raise ValueError("expected either `template` or `variants` (exactly one of them)")
        if self.variants is not None and not self.variants:
            raise ValueError("`variants` needs at least one variant")
        for variant in self.variants or {}:
            if not NAME.match(variant):
                raise ValueError(
                    f"variant name {variant!r}: lower-case letters, digits and _, "
                    "starting with a letter"
                )
        return self

    @field_validator("start")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)

    @property
    def weights(self) -> dict[str, int]:
        """Variant name -> weight; a single template is the one variant `main`."""
        if self.variants is None:
            return {"main": 1}
        return {name: variant.weight for name, variant in self.variants.items()}

    def template_for(self, variant: str) -> str:
        if self.variants is None:
            assert self.template is not None
            return self.template
        return self.variants[variant].template

    @property
    def templates(self) -> tuple[str, ...]:
        if self.variants is None:
            assert self.template is not None
            return (self.template,)
        return tuple(dict.fromkeys(variant.template for variant in self.variants.values()))

    @property
    def send_channel(self) -> str | None:
        """The channel the send step must use (`SendEmailInput.channel`); None: its own
        choice (rules/sms.yaml's order, the customer's preferred channel first)."""
        return None if self.channel == "preferred" else self.channel

    @property
    def experiment(self) -> str:
        """The experiment name variant and holdout draws are keyed by."""
        return f"campaign:{self.name}"

    @property
    def goal_window(self) -> timedelta | None:
        return None if self.goal is None else self.goal.within


@dataclass(frozen=True)
class CampaignFile:
    """Where a campaign came from (for error lines beyond the model's own)."""

    path: Path
    document: Any


def campaigns_dir(rules_dir: Path) -> Path:
    return rules_dir / CAMPAIGNS_DIR_NAME


def campaign_files(rules_dir: Path) -> list[Path]:
    """Every `*.campaign.yaml` under `rules/campaigns/`, sorted by name."""
    folder = campaigns_dir(rules_dir)
    if not folder.is_dir():
        return []
    return sorted(path for path in folder.iterdir() if path.name.endswith(CAMPAIGN_SUFFIX))


def load_campaigns(
    rules_dir: Path,
    *,
    references: References | None,
    segments: Collection[str] | None,
    events: Collection[str] | None = None,
    sms: SmsCheck | None = None,
) -> dict[str, CampaignSpec]:
    """Every campaign file of `rules_dir/campaigns`, by name; CampaignFileError naming
    every mistake of every file with its line and what was expected.

    `references` (templates), `segments` (segment names) and `events` (event types a
    goal may name): what the files may refer to; None skips that check (the
    simulator reads campaigns without templates). `sms` says why a template cannot
    go by SMS (a campaign with `channel: sms`); None skips that check. No folder: no
    campaigns.
    """
    campaigns: dict[str, CampaignSpec] = {}
    problems: list[str] = []
    for path in campaign_files(rules_dir):
        spec, found = _load_one(
            path, references=references, segments=segments, events=events, sms=sms
        )
        problems += found
        if spec is not None:
            campaigns[spec.name] = spec
    if problems:
        raise CampaignFileError(campaigns_dir(rules_dir), problems)
    return campaigns


def campaign_problems(
    rules_dir: Path,
    *,
    references: References | None,
    segments: Collection[str] | None,
    events: Collection[str] | None = None,
    sms: SmsCheck | None = None,
) -> list[str]:
    """What `rules check` and the release gate report about the campaign files."""
    try:
        load_campaigns(rules_dir, references=references, segments=segments, events=events, sms=sms)
    except CampaignFileError as error:
        return [f"{CAMPAIGNS_DIR_NAME}/{problem}" for problem in error.problems]
    return []


def _load_one(
    path: Path,
    *,
    references: References | None,
    segments: Collection[str] | None,
    events: Collection[str] | None,
    sms: SmsCheck | None = None,
) -> tuple[CampaignSpec | None, list[str]]:
    name = path.name[: -len(CAMPAIGN_SUFFIX)]
    if not NAME.match(name):
        return None, [
            f"{path.name}:1:1: campaign name {name!r} (the file name before .campaign.yaml): "
            "lower-case letters, digits and _, starting with a letter, at most 64 characters"
        ]
    try:
        text = read_operator_file(path).decode("utf-8")
    except OperatorFileTooLarge as problem:
        return None, [f"{path.name}:1:1: {problem}"]
    except UnicodeDecodeError as problem:
        return None, [f"{path.name}:1:1: the file is not UTF-8 text ({problem.reason})"]
    try:
        document = parse_operator_yaml(text)
    except MarkedYAMLError as problem:
        line, col, what = yaml_problem(problem)
        return None, [f"{path.name}:{line}:{col}: not valid YAML: {what}"]
    except YAMLError as problem:
        return None, [f"{path.name}:1:1: not valid YAML: {bounded(str(problem))}"]
    if not isinstance(document, dict):
        return None, [f"{path.name}:1:1: expected a mapping of campaign settings (segment, ...)"]
    if "name" in document:
        line, col = position_of(document, ("name",))
        return None, [f"{path.name}:{line}:{col}: name: the name is the file's name ({name})"]
    try:
        spec = CampaignSpec.model_validate({**document, "name": name})
    except ValidationError as error:
        return None, describe_validation_errors(path, document, error, columns=True)
    found = CampaignFile(path, document)
    problems = list(_reference_problems(spec, found, references, segments, events, sms))
    return (None if problems else spec), problems


def _reference_problems(
    spec: CampaignSpec,
    found: CampaignFile,
    references: References | None,
    segments: Collection[str] | None,
    events: Collection[str] | None,
    sms: SmsCheck | None = None,
) -> Iterable[str]:
    def at(*location: str | int) -> str:
        line, col = position_of(found.document, location)
        return f"{found.path.name}:{line}:{col}"

    if segments is not None and spec.segment not in segments:
        known = ", ".join(sorted(segments)) or "none (declare them in rules/segments.yaml)"
        yield f"{at('segment')}: segment: unknown segment {spec.segment!r}; expected one of {known}"
    if spec.goal is not None and events is not None and spec.goal.event not in events:
        known = ", ".join(sorted(events))
        yield (
            f"{at('goal', 'event')}: goal.event: unknown event type {spec.goal.event!r}; "
            f"expected a built-in type or one declared in rules/events.yaml ({known})"
        )
    if references is None:
        return
    for variant in spec.weights:
        template = spec.template_for(variant)
        where = at("template") if spec.variants is None else at("variants", variant, "template")
        field = "template" if spec.variants is None else f"variants.{variant}.template"
        if template not in references.templates:
            yield (
                f"{where}: {field}: unknown template {template!r}; expected a folder under "
                f"templates/email/ ({', '.join(sorted(references.templates))})"
            )
            continue
        missing = sorted(
            {normalise_locale(locale) for locale in spec.locales}
            - template_locales(references.templates_dir, template)
        )
        if missing:
            yield (
                f"{where}: {field}: template {template!r} has no {', '.join(missing)} "
                f"version; expected templates/email/{template}/subject.LOCALE.j2 and its "
                f"bodies for every locale of the campaign ({', '.join(spec.locales)})"
            )
    if spec.channel != "sms" or sms is None:
        return
    for variant in spec.weights:
        template = spec.template_for(variant)
        where = at("template") if spec.variants is None else at("variants", variant, "template")
        field = "template" if spec.variants is None else f"variants.{variant}.template"
        problem = sms(template, spec.topic, spec.locales)
        if problem is not None:
            yield (
                f"{where}: {field}: channel: sms, but template {template!r} cannot go by "
                f"SMS: {problem}; expected templates/sms/{template}/body.LOCALE.j2 for "
                f"every locale of the campaign and its code under templates: in rules/sms.yaml"
            )


def load_campaign(rules_dir: Path, name: str) -> CampaignSpec:
    """The campaign `name` alone (what the workflow's activities read at each page);
    CampaignFileError when its file is missing or invalid. References are checked by
    `rules check` and at launch, not on every page."""
    path = campaigns_dir(rules_dir) / f"{name}{CAMPAIGN_SUFFIX}"
    if not NAME.match(name) or not path.is_file():
        names = (found.name[: -len(CAMPAIGN_SUFFIX)] for found in campaign_files(rules_dir))
        known = ", ".join(sorted(names))
        raise CampaignFileError(
            campaigns_dir(rules_dir),
            [f"no campaign {name!r}: expected one of {known or 'none'} (rules/campaigns/)"],
        )
    spec, problems = _load_one(path, references=None, segments=None, events=None)
    if spec is None:
        raise CampaignFileError(campaigns_dir(rules_dir), problems)
    return spec
