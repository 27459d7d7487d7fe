"""The random holdout group: customers who deliberately get no journey, to measure its effect.

Whether a retention offer retains anyone can only be told against customers the
rules picked just the same but who received nothing. `rules/holdout.yaml` sets,
per journey, the share of customers held out. Membership is a pure function of
the customer id, the journey and a salt: the same customer is always in (or out
of) the same journey's holdout, on any worker, on every retry and re-entry, with
nothing stored to decide it. Changing the salt draws a new group.

The dispatcher asks `HoldoutConfig.holds_out` before starting a journey and, for a
customer held out, records a journey row with status `holdout` instead of starting
the workflow; the KPIs compare conversion of the two groups from those rows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from careflow.config_files import ConfigFileError, load_config_file

HOLDOUT_FILE_NAME = "holdout.yaml"
# The journeys table status (and outcome) of a customer held out of a journey.
HOLDOUT_STATUS = "holdout"
# A complaint is always answered: its journey can never be held out.
NEVER_HELD_OUT = frozenset({"complaint_escalation"})
_SCALE = float(2**64)


class HoldoutConfigError(ConfigFileError):
    """`rules/holdout.yaml` is invalid; `problems` lists each one with its line."""

    what = "holdout configuration"


class HoldoutConfig(BaseModel):
    """Everything in `rules/holdout.yaml`: the salt and the share held out per journey."""

    # A misspelt key must be an error, not a silently ignored share.
    model_config = ConfigDict(extra="forbid", frozen=True)

    salt: str = Field(default="careflow", min_length=1)
    # Share of customers who get nothing from each journey; unlisted: none. More than
    # half held out is a mistake (0.1 meant, 10 typed), not a test design.
    journeys: dict[str, Annotated[float, Field(ge=0, le=0.5)]] = Field(default_factory=dict)

    @field_validator("journeys")
    @classmethod
    def _never_held_out(cls, value: dict[str, float]) -> dict[str, float]:
        for journey in value:
            if journey in NEVER_HELD_OUT:
                raise ValueError(f"{journey!r} can never be held out")
        return value

    def share(self, journey: str) -> float:
        """The share of customers held out of `journey` (0 when not listed)."""
        return self.journeys.get(journey, 0.0)

    def holds_out(self, customer_id: str, journey: str) -> bool:
        """Whether this customer belongs to the holdout group of `journey`."""
        return in_holdout(customer_id, journey, self.share(journey), self.salt)


def in_holdout(customer_id: str, journey: str, share: float, salt: str) -> bool:
    """Deterministic membership: a hash of (salt, journey, customer) below `share`.

    The hash spreads customers uniformly over [0, 1), so about `share` of any set
    of customers is held out, independently of their ids' order or shape, and a
    different journey or salt gives an independent draw.
    """
    if share <= 0:
        return False
    digest = hashlib.sha256(f"{salt}\x00{journey}\x00{customer_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / _SCALE < share


def load_holdout_config(path: Path, *, journeys: Collection[str] | None = None) -> HoldoutConfig:
    """Read and validate the file; a missing file means nobody is held out.

    With `journeys` (the registry's names), a journey the file names that does not
    exist is a mistake too. The file is re-read only when it changed.
    """
    if not path.exists():
        return HoldoutConfig()  # no file: nobody is held out
    config = load_config_file(path, HoldoutConfig, HoldoutConfigError, empty_ok=True)
    if journeys is not None:
        unknown = sorted(set(config.journeys) - set(journeys))
        if unknown:
            raise HoldoutConfigError(path, [f"{path.name}: journeys: unknown journey(s) {unknown}"])
    return config
