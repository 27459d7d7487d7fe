"""The operator-editable thresholds in `rules/tiers.yaml`, validated on load.

A mistake in the file is reported as `tiers.yaml:LINE: field.path: what was expected`
for every problem at once, so operations staff can fix the file in one go.
"""

from __future__ import annotations

from pathlib import Path
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from careflow.config import load_settings
from careflow.config_files import ConfigFileError, load_config_file
from careflow.facts.occasions import zone_or_none
from careflow.rules.facts import HOLIDAYS

TIERS_FILE_NAME = "tiers.yaml"


class FactsConfigError(ConfigFileError):
    """`rules/tiers.yaml` is missing or invalid; `problems` lists each one with its line."""

    what = "facts configuration"


class _Strict(BaseModel):
    # A misspelt key must be an error, not a silently ignored threshold.
    model_config = ConfigDict(extra="forbid", frozen=True)


class TierThresholds(_Strict):
    """A tier is reached by meeting any one of the thresholds that are set."""

    # Floats, like the spend facts they are compared with (money is kept to cents).
    min_spend_last_365d: float | None = Field(default=None, ge=0)
    min_total_spent: float | None = Field(default=None, ge=0)
    min_order_count: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _at_least_one(self) -> Self:
        if (
            self.min_spend_last_365d is None
            and self.min_total_spent is None
            and self.min_order_count is None
        ):
            raise ValueError(
                "set at least one of min_spend_last_365d, min_total_spent, min_order_count"
            )
        return self

    def reached_by(self, spend_last_365d: float, total_spent: float, order_count: int) -> bool:
        """Whether a customer with these figures meets any threshold of this tier."""
        return (
            (self.min_spend_last_365d is not None and spend_last_365d >= self.min_spend_last_365d)
            or (self.min_total_spent is not None and total_spent >= self.min_total_spent)
            or (self.min_order_count is not None and order_count >= self.min_order_count)
        )


class TierRules(_Strict):
    vip: TierThresholds
    regular: TierThresholds


class LifecycleRules(_Strict):
    new_customer_days: int = Field(ge=0)
    dormant_after_days: int = Field(ge=1)
    churned_after_days: int = Field(ge=1)

    @model_validator(mode="after")
    def _dormant_before_churned(self) -> Self:
        if self.churned_after_days <= self.dormant_after_days:
            raise ValueError("churned_after_days must be greater than dormant_after_days")
        return self


class OccasionRules(_Strict):
    default_timezone: str = "UTC"
    default_country: str | None = None
    holiday_names: dict[str, str] = Field(default_factory=dict)
    lantern_festival_countries: frozenset[str] = frozenset()

    @field_validator("default_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        if zone_or_none(value) is None:
            raise ValueError(f"unknown IANA time zone {value!r}")
        return value

    @field_validator("holiday_names")
    @classmethod
    def _closed_values(cls, value: dict[str, str]) -> dict[str, str]:
        wrong = sorted({v for v in value.values() if v not in HOLIDAYS})
        if wrong:
            raise ValueError(f"unknown holiday value(s) {wrong}; expected one of {list(HOLIDAYS)}")
        return value


class FactsConfig(_Strict):
    """Everything in `rules/tiers.yaml`."""

    tiers: TierRules
    lifecycle: LifecycleRules
    occasions: OccasionRules = OccasionRules()


def default_config_path() -> Path:
    """`tiers.yaml` in the rules folder (`CAREFLOW_RULES_DIR` when set)."""
    return load_settings().rules_dir / TIERS_FILE_NAME


def load_facts_config(path: Path | None = None) -> FactsConfig:
    """Read and validate the file; re-read only when it changed since the last call."""
    return load_config_file(path or default_config_path(), FactsConfig, FactsConfigError)


__all__ = [
    "FactsConfig",
    "FactsConfigError",
    "LifecycleRules",
    "OccasionRules",
    "TierRules",
    "TierThresholds",
    "load_facts_config",
]
