"""The operator-editable journey settings in `rules/journeys.yaml`, validated on load.

Timings, offer values, templates, service-level targets, business hours and the
low-score threshold live here rather than in workflow code, so operations staff can
change them without a release. Journeys read the file through their plan
activities: a running journey keeps the values it planned with (they are in its
history), and the next journey uses the edited file.

A mistake is reported as `journeys.yaml:LINE: field.path: what was expected`, for
every problem at once.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from datetime import date, time
from pathlib import Path
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator, model_validator
from ruamel.yaml import YAML

from careflow.business_hours import BusinessCalendar

# The line-locating error report is shared with rules/tiers.yaml.
from careflow.config_files import ConfigFileError, _line_of, load_config_file
from careflow.facts.occasions import zone_or_none

JOURNEYS_FILE_NAME = "journeys.yaml"
ESCALATION_LEVELS = ("agent", "supervisor", "manager")
SEVERITIES = ("low", "medium", "high", "critical")
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Experiment variant names: short, stable keys (they are stored in the ledger).
_VARIANT_NAME = re.compile(r"[a-z0-9_]{1,64}")


class JourneyConfigError(ConfigFileError):
    """`rules/journeys.yaml` is missing or invalid; `problems` lists each one with its line."""

    what = "journey configuration"


class _Strict(BaseModel):
    # A misspelt key must be an error, not a silently ignored setting.
    model_config = ConfigDict(extra="forbid", frozen=True)


class Coupon(_Strict):
    """A money-off code: its value in the shop's currency and how long it is valid."""

    value: float = Field(gt=0)
    valid_days: int = Field(default=14, ge=1)


class Offer(Coupon):
    """One row of the offer table; the first row whose conditions all hold wins."""

    tier: str | None = None
    min_spend_last_365d: float | None = Field(default=None, ge=0)

    def applies_to(self, tier: str, spend_last_365d: float) -> bool:
        return (self.tier is None or self.tier == tier) and (
            self.min_spend_last_365d is None or spend_last_365d >= self.min_spend_last_365d
        )


class StaffConfig(_Strict):
    """Who is notified: one address per escalation level, and one per team."""

    agent: str
    supervisor: str
    manager: str
    teams: dict[str, str] = Field(default_factory=dict)

    def level(self, name: str) -> str:
        return str(getattr(self, name))


class BusinessHoursConfig(_Strict):
    timezone: str = "UTC"
    open_days: list[str] = Field(default_factory=lambda: list(_WEEKDAYS[:5]))
    opens: time = time(9)
    # "24:00" means until midnight.
    closes: time = time(18)
    holiday_country: str | None = None
    closed_days: list[date] = Field(default_factory=list)
    working_days: list[date] = Field(default_factory=list)

    @field_validator("closes", mode="before")
    @classmethod
    def _midnight(cls, value: object) -> object:
        return time.max if value in ("24:00", "24:00:00") else value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        if zone_or_none(value) is None:
            raise ValueError(f"unknown IANA time zone {value!r}")
        return value

    @field_validator("open_days")
    @classmethod
    def _weekday_names(cls, value: list[str]) -> list[str]:
        wrong = [day for day in value if day not in _WEEKDAYS]
        if wrong:
            raise ValueError(f"unknown day(s) {wrong}; expected some of {list(_WEEKDAYS)}")
        return value

    @model_validator(mode="after")
    def _opens_before_closes(self) -> Self:
        if self.opens >= self.closes:
            raise ValueError("opens must be earlier than closes")
        return self

    def calendar(self) -> BusinessCalendar:
        """The calendar these settings describe."""
        zone = zone_or_none(self.timezone)
        assert zone is not None  # checked by the validator
        return BusinessCalendar(
            zone=zone,
            opens=self.opens,
            closes=self.closes,
            open_weekdays=frozenset(_WEEKDAYS.index(day) for day in self.open_days),
            holiday_country=self.holiday_country,
            closed_days=frozenset(self.closed_days),
            working_days=frozenset(self.working_days),
        )


class ApprovalConfig(_Strict):
    """Offers worth more than `above_value` wait for approval: each approver in turn has
    `wait_hours` to approve or reject before it goes to the next; when nobody answered,
    `on_timeout` decides."""

    above_value: float = Field(ge=0)
    approvers: list[str] = Field(min_length=1)
    wait_hours: float = Field(gt=0)
    on_timeout: Literal["approve", "reject"] = "reject"


class RetentionConfig(_Strict):
    template: str = "retention_offer"
    reminder_template: str = "retention_reminder"
    call_task_template: str = "staff_call_task"
    remind_after_days: float = Field(gt=0)
    goal_wait_days: float = Field(gt=0)
    call_task_due_days: float = Field(default=2, gt=0)
    call_task_tiers: list[str] = Field(default_factory=lambda: ["vip"])
    code_prefix: str = "THANKS"
    offers: list[Offer] = Field(min_length=1)
    # None: no offer needs approval.
    approval: ApprovalConfig | None = None

    @model_validator(mode="after")
    def _reminder_before_end(self) -> Self:
        if self.remind_after_days >= self.goal_wait_days:
            raise ValueError("remind_after_days must be shorter than goal_wait_days")
        return self


class CareOccasionConfig(_Strict):
    """A care message a rule starts with `params: {occasion: NAME}` (other than a
    birthday or a holiday): its template, and the facts its template may show."""

    template: str
    # Facts (built-in or from derived_facts.yaml) given to the template by name, as
    # they stand when the message is planned (e.g. points_balance).
    facts: list[str] = Field(default_factory=list)


class CareMessageConfig(_Strict):
    birthday_template: str = "birthday_greeting"
    holiday_template: str = "holiday_greeting"
    occasions: dict[str, CareOccasionConfig] = Field(default_factory=dict)
    send_at_local_hour: int = Field(ge=0, le=23)
    # A greeting later than this many hours after the occasion's day began is not sent.
    latest_after_hours: int = Field(default=24, ge=1)
    coupon_tiers: list[str] = Field(default_factory=lambda: ["vip"])
    coupon: Coupon | None = None
    code_prefix: str = "GIFT"


class SlaTarget(_Strict):
    """Working hours until the first staff response and until the resolution."""

    response_hours: float = Field(gt=0)
    resolution_hours: float = Field(gt=0)

    @model_validator(mode="after")
    def _response_first(self) -> Self:
        if self.response_hours > self.resolution_hours:
            raise ValueError("response_hours must not exceed resolution_hours")
        return self


class ComplaintConfig(_Strict):
    ack_template: str = "complaint_ack"
    update_template: str = "complaint_update"
    resolved_template: str = "complaint_resolved"
    escalation_template: str = "staff_escalation"
    survey_template: str = "satisfaction_survey"
    survey_reminder_template: str = "survey_reminder"
    # Targets by customer tier ("default" for any other), then by severity.
    sla: dict[str, dict[str, SlaTarget]]
    give_up_after_days: float = Field(default=30, gt=0)
    survey_after_hours: float = Field(default=24, ge=0)
    survey_remind_after_days: float = Field(default=3, gt=0)
    survey_close_after_days: float = Field(default=7, gt=0)
    reopen_due_hours: float = Field(default=4, gt=0)

    @field_validator("sla")
    @classmethod
    def _complete(cls, value: dict[str, dict[str, SlaTarget]]) -> dict[str, dict[str, SlaTarget]]:
        if "default" not in value:
            raise ValueError("needs a 'default' tier")
        for tier, targets in value.items():
            missing = [s for s in SEVERITIES if s not in targets]
            unknown = [s for s in targets if s not in SEVERITIES]
            if missing or unknown:
                raise ValueError(
                    f"tier {tier!r}: severities must be exactly {list(SEVERITIES)}"
                    f" (missing {missing}, unknown {unknown})"
                )
        return value

    def target(self, tier: str, severity: str) -> SlaTarget:
        """The targets for this tier and severity (unknown ones use the defaults)."""
        targets = self.sla.get(tier, self.sla["default"])
        return targets.get(severity, targets["medium"])


class SurveyConfig(_Strict):
    template: str = "satisfaction_survey"
    reminder_template: str = "survey_reminder"
    delay_after_start_days: float = Field(default=3, ge=0)
    remind_after_days: float = Field(gt=0)
    close_after_days: float = Field(gt=0)
    low_score_task_due_hours: float = Field(default=24, gt=0)


class OnboardingStep(_Strict):
    step: str = Field(pattern=r"^[a-z0-9_]+$")
    template: str
    after_days: float = Field(ge=0)


class OnboardingConfig(_Strict):
    steps: list[OnboardingStep] = Field(min_length=1)

    @field_validator("steps")
    @classmethod
    def _ordered_unique(cls, value: list[OnboardingStep]) -> list[OnboardingStep]:
        names = [step.step for step in value]
        if len(set(names)) != len(names):
            raise ValueError("step names must be unique: they key the messages sent")
        if [step.after_days for step in value] != sorted(step.after_days for step in value):
            raise ValueError("steps must be listed in the order of after_days")
        return value


class ContactChangeConfig(_Strict):
    template: str = "staff_contact_change"
    teams: list[str] = Field(min_length=1)


class SimpleJourneyConfig(_Strict):
    """A journey that sends, waits, reminds once and stops on its goal (simple_journey.py).

    The message goes out `delay_days` after the trigger, the reminder
    `remind_after_days` after the message, and the journey gives up
    `close_after_days` after the message.
    """

    template: str
    reminder_template: str
    topic: Literal["transactional", "care", "marketing"] = "care"
    delay_days: float = Field(default=0, ge=0)
    remind_after_days: float = Field(gt=0)
    close_after_days: float = Field(gt=0)
    # Whether the messages carry the signed survey link (`survey_url`) the customer
    # answers with; the answer is the journey's goal.
    survey_link: bool = False

    @model_validator(mode="after")
    def _reminder_before_end(self) -> Self:
        if self.remind_after_days >= self.close_after_days:
            raise ValueError("remind_after_days must be shorter than close_after_days")
        return self


class ExperimentVariant(_Strict):
    """One arm of an A/B experiment: the template it sends and its share (a weight)."""

    template: str
    # A positive whole number; shares are weight / sum of the weights. Strict: 1.5 or
    # "1" is a typo, not a weight.
    weight: StrictInt = Field(default=1, ge=1)


class ExperimentGoal(_Strict):
    """What counts as the message working: an event of this type within the window."""

    # An event type customers' events carry (intake events such as `order_placed`,
    # or a custom event type from rules/events.yaml).
    event: str = Field(default="order_placed", min_length=1)
    within_days: float = Field(default=7, gt=0)


class JourneyExperiment(_Strict):
    """An A/B test of one journey message: where `journey` would send `template`, each
    customer gets one of the variants, chosen by weight and the same on every run."""

    journey: str = Field(min_length=1)
    template: str
    variants: dict[str, ExperimentVariant] = Field(min_length=2)
    goal: ExperimentGoal = ExperimentGoal()

    @field_validator("variants")
    @classmethod
    def _variant_names(cls, value: dict[str, ExperimentVariant]) -> dict[str, ExperimentVariant]:
        wrong = [name for name in value if not _VARIANT_NAME.fullmatch(name)]
        if wrong:
            raise ValueError(
                f"variant names {wrong}: expected lower-case letters, digits and _ (max 64)"
            )
        return value

    @property
    def name(self) -> str:
        """The experiment's name in the ledger, the results and the assignment hash."""
        return f"journey:{self.journey}:{self.template}"

    @property
    def weights(self) -> dict[str, int]:
        return {name: variant.weight for name, variant in self.variants.items()}


class JourneyConfig(_Strict):
    """Everything in `rules/journeys.yaml`."""

    currency: str = Field(min_length=3, max_length=3)
    # A survey score at or below this is low: the case goes to a manager.
    low_score_threshold: int = Field(ge=0)
    staff: StaffConfig
    business_hours: BusinessHoursConfig = BusinessHoursConfig()
    retention_offer: RetentionConfig
    care_message: CareMessageConfig
    complaint: ComplaintConfig
    satisfaction_survey: SurveyConfig
    onboarding: OnboardingConfig
    contact_change: ContactChangeConfig
    # Journeys of the simple shape, by journey name (see workflows/simple_journey.py).
    simple_journeys: dict[str, SimpleJourneyConfig] = Field(default_factory=dict)
    # A/B tests of journey messages (careflow/experiments/).
    experiments: list[JourneyExperiment] = Field(default_factory=list)

    @model_validator(mode="after")
    def _teams_known(self) -> Self:
        unknown = [team for team in self.contact_change.teams if team not in self.staff.teams]
        if unknown:
            raise ValueError(f"contact_change.teams {unknown} have no address in staff.teams")
        return self

    @field_validator("experiments")
    @classmethod
    def _one_experiment_per_message(cls, value: list[JourneyExperiment]) -> list[JourneyExperiment]:
        names = [experiment.name for experiment in value]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(
                f"more than one experiment for the same journey and template: {repeated}"
            )
        return value

    def experiment_for(self, journey: str, template: str) -> JourneyExperiment | None:
        """The experiment on `journey`'s `template` message, if one is set up."""
        for experiment in self.experiments:
            if experiment.journey == journey and experiment.template == template:
                return experiment
        return None


def load_journey_config(path: Path) -> JourneyConfig:
    """Read and validate the file; re-read only when it changed since the last call."""
    return load_config_file(path, JourneyConfig, JourneyConfigError)


def named_templates(config: JourneyConfig) -> list[tuple[tuple[str | int, ...], str]]:
    """Every template the configuration names, with the field path that names it.

    Found by walking the model rather than listing fields, so a template setting
    added to a journey later is checked without anyone remembering to list it here.
    """
    found: list[tuple[tuple[str | int, ...], str]] = []

    def walk(value: object, path: tuple[str | int, ...]) -> None:
        if isinstance(value, BaseModel):
            for name in type(value).model_fields:
                child = getattr(value, name)
                if (name == "template" or name.endswith("_template")) and isinstance(child, str):
                    found.append(((*path, name), child))
                else:
                    walk(child, (*path, name))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                walk(item, (*path, index))
        elif isinstance(value, dict):
            for key, item in value.items():
                walk(item, (*path, str(key)))

    walk(config, ())
    return found


def missing_template_problems(path: Path, templates: Collection[str]) -> list[str]:
    """`journeys.yaml:LINE: field: ...` for each template the file names that does not exist.

    A broken file reports its own problems instead (there is nothing to check in it).
    """
    try:
        config = load_journey_config(path)
    except JourneyConfigError as error:
        return [
            problem if problem.startswith(f"{path.name}:") else f"{path.name}: {problem}"
            for problem in error.problems
        ]
    missing = [(where, name) for where, name in named_templates(config) if name not in templates]
    if not missing:
        return []
    document = YAML(typ="rt").load(path.read_text(encoding="utf-8"))
    return [
        f"{path.name}:{_line_of(document, where)}: {'.'.join(map(str, where))}: "
        f"template {name!r} does not exist (no templates/email/{name}/subject.<locale>.j2)"
        for where, name in missing
    ]
