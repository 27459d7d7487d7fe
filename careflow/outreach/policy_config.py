"""The operator-editable outreach policy in `rules/outreach_policy.yaml`, validated on load.

Quiet hours, the contact budget, care consent, what to do with each kind of message
when the budget is used up, and the locale fallback order for templates. A mistake
is reported as `outreach_policy.yaml:LINE: field.path: what was expected`, for every
problem at once. What the file cannot do, by design: change a message's topic, make
marketing need no consent, or reach an erased customer.
"""

from __future__ import annotations

from datetime import time, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from careflow.config_files import ConfigFileError, load_config_file
from careflow.facts.occasions import zone_or_none
from careflow.outreach.budget import ContactBudget
from careflow.outreach.consent import CareConsent
from careflow.outreach.decisions import Topic
from careflow.outreach.locales import normalise_locale
from careflow.outreach.quiet_hours import QuietHours
from careflow.outreach.templates import TEMPLATE_ID_PATTERN

POLICY_FILE_NAME = "outreach_policy.yaml"


class OutreachPolicyError(ConfigFileError):
    """The policy file is missing or invalid; `problems` lists each one with its line."""

    what = "outreach policy"


class OverBudget(StrEnum):
    """What happens to a message the contact budget has no room for."""

    DEFER = "defer"  # wait for the next slot (up to max_delay_days)
    SKIP = "skip"  # drop it, recorded as skipped: it would be stale later


class _Strict(BaseModel):
    # A misspelt key must be an error, not a silently ignored limit.
    model_config = ConfigDict(extra="forbid", frozen=True)


class QuietHoursConfig(_Strict):
    start: time
    end: time
    applies_to: frozenset[Topic] = frozenset({Topic.CARE, Topic.MARKETING})

    @field_validator("start", "end", mode="before")
    @classmethod
    def _quoted(cls, value: object) -> object:
        # YAML 1.1 readers turn an unquoted 21:00 into the number 1260.
        if isinstance(value, int):
            raise ValueError('write the time in quotes, like "21:00"')
        return value

    def hours(self) -> QuietHours:
        return QuietHours(start=self.start, end=self.end)


class ContactBudgetConfig(_Strict):
    window_days: float = Field(gt=0)
    marketing_max: int = Field(ge=0)
    total_max: int = Field(ge=0)
    over_budget: OverBudget = OverBudget.DEFER
    max_delay_days: float | None = Field(default=7, gt=0)

    @model_validator(mode="after")
    def _marketing_within_total(self) -> Self:
        if self.marketing_max > self.total_max:
            raise ValueError(
                "total_max counts care and marketing together, so it must be at least marketing_max"
            )
        return self

    def budget(self) -> ContactBudget:
        return ContactBudget(
            window=timedelta(days=self.window_days),
            marketing_max=self.marketing_max,
            total_max=self.total_max,
        )


class SuppressionConfig(_Strict):
    """One suppression: while `when` holds for the customer, their messages of these
    topics (and templates, when listed) are deferred or skipped.

    `when` is written in the rule condition language over any fact, built-in or
    derived; it is parsed against the fact schema by `careflow.outreach.suppression`
    (and `careflow rules check`), which keeps its lines for error messages.
    """

    id: str = Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")
    description: str = ""
    # Transactional messages (complaint acknowledgements) are never held back.
    topics: tuple[Literal[Topic.MARKETING, Topic.CARE], ...] = Field(min_length=1)
    templates: tuple[str, ...] = ()  # only these messages of the topics; none: all of them
    when: Any
    action: Literal["defer", "skip"] = "defer"
    # A deferred message is looked at again after this long (and deferred again while
    # the condition holds).
    recheck_after_hours: float = Field(default=24, gt=0, le=24 * 30)

    @field_validator("when")
    @classmethod
    def _conditions(cls, value: object) -> object:
        if not isinstance(value, dict | list) or not value:
            raise ValueError("expected conditions (fact: test, or all:/any:/not:)")
        return value

    @property
    def recheck_after(self) -> timedelta:
        return timedelta(hours=self.recheck_after_hours)


class ConsentConfig(_Strict):
    care: CareConsent = CareConsent.OPT_OUT


class MessageKindConfig(_Strict):
    """Per template: overrides of the budget's over_budget / max_delay_days."""

    over_budget: OverBudget | None = None
    max_delay_days: float | None = Field(default=None, gt=0)


class LocalesConfig(_Strict):
    fallback: tuple[str, ...] = ("en",)

    @field_validator("fallback")
    @classmethod
    def _well_formed(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        written = tuple(normalise_locale(tag) for tag in value)
        if any(not tag or not tag.split("-")[0].isalpha() for tag in written):
            raise ValueError("locales look like en, zh-CN or zh-Hant-TW")
        return written


class MessageHandling(BaseModel):
    """The resolved handling of one template when over budget."""

    model_config = ConfigDict(frozen=True)

    over_budget: OverBudget
    max_delay: timedelta | None


class OutreachPolicy(_Strict):
    """Everything in `rules/outreach_policy.yaml`."""

    version: Literal[1] = 1
    default_timezone: str = "UTC"
    locales: LocalesConfig = LocalesConfig()
    quiet_hours: QuietHoursConfig
    contact_budget: ContactBudgetConfig
    consent: ConsentConfig = ConsentConfig()
    messages: dict[str, MessageKindConfig] = Field(default_factory=dict)
    suppression: tuple[SuppressionConfig, ...] = ()

    @field_validator("suppression")
    @classmethod
    def _unique_ids(cls, value: tuple[SuppressionConfig, ...]) -> tuple[SuppressionConfig, ...]:
        ids = [item.id for item in value]
        repeated = sorted({name for name in ids if ids.count(name) > 1})
        if repeated:
            raise ValueError(f"suppression ids must be unique: {', '.join(repeated)}")
        return value

    @field_validator("default_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        if zone_or_none(value) is None:
            raise ValueError(f"unknown IANA time zone {value!r}")
        return value

    @field_validator("messages")
    @classmethod
    def _template_ids(cls, value: dict[str, MessageKindConfig]) -> dict[str, MessageKindConfig]:
        wrong = sorted(key for key in value if not TEMPLATE_ID_PATTERN.match(key))
        if wrong:
            raise ValueError(f"template ids are lower-case letters, digits and _: {wrong}")
        return value

    def handling(self, template_id: str) -> MessageHandling:
        """How `template_id` is treated over budget: its own entry, else the default."""
        kind = self.messages.get(template_id, MessageKindConfig())
        budget = self.contact_budget
        days = kind.max_delay_days if kind.max_delay_days is not None else budget.max_delay_days
        return MessageHandling(
            over_budget=kind.over_budget or budget.over_budget,
            max_delay=timedelta(days=days) if days is not None else None,
        )

    def unknown_templates(self, available: set[str]) -> list[str]:
        """Template ids named under `messages` that do not exist (for `rules check`)."""
        return sorted(set(self.messages) - available)


def default_policy_path() -> Path:
    """`outreach_policy.yaml` in the rules folder (`CAREFLOW_RULES_DIR` when set)."""
    from careflow.config import load_settings

    return load_settings().rules_dir / POLICY_FILE_NAME


def load_outreach_policy(path: Path | None = None) -> OutreachPolicy:
    """Read and validate the file; re-read only when it changed since the last call."""
    return load_config_file(path or default_policy_path(), OutreachPolicy, OutreachPolicyError)
