"""Team rosters (`rules/teams.yaml`): who is on each team, when they work, how work is shared.

Operators edit the file; it is read through `careflow/config_files.py` (every mistake as
`teams.yaml:LINE:COL: field: message`, re-read when it changes) and checked by
`careflow rules check`. A team shares its work among the members on duty, `round_robin`
(each in turn) or `least_loaded` (whoever has the fewest open tasks); see
`careflow/assignment.py`. A deployment without the file has no rosters: work for a
team goes to the team's address in `journeys.yaml` (`staff.teams`), as before.
"""

from __future__ import annotations

from datetime import datetime, time
from pathlib import Path
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from careflow.config_files import ConfigFileError, load_config_file
from careflow.facts.occasions import zone_or_none

TEAMS_FILE_NAME = "teams.yaml"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Strategy = Literal["round_robin", "least_loaded"]
# The team an account manager is chosen from when a customer who needs one has none.
ACCOUNT_MANAGER_TEAM = "sales"


class TeamsConfigError(ConfigFileError):
    """`rules/teams.yaml` is invalid; `problems` lists each mistake with its line and column."""

    what = "team rosters"


class _Strict(BaseModel):
    # A misspelt key must be an error, not a silently ignored setting.
    model_config = ConfigDict(extra="forbid", frozen=True)


class Member(_Strict):
    """One person: how work reaches them, and when they are on duty."""

    name: str = Field(min_length=1, max_length=64, pattern=r"^\S(.*\S)?$")
    # Staff emails (a task's notice, the account manager's) go here.
    email: str = Field(max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    phone: str | None = Field(default=None, max_length=64)
    days: list[str] = Field(default_factory=lambda: list(WEEKDAYS[:5]))
    # Local working hours, "09:00-18:00"; "24:00" means until midnight.
    hours: str = "09:00-18:00"
    # The member's own time zone, when it is not the team's.
    timezone: str | None = None

    @property
    def address(self) -> str:
        """What a task's assignee holds for them: their email."""
        return self.email

    @field_validator("days")
    @classmethod
    def _weekdays(cls, value: list[str]) -> list[str]:
        wrong = [day for day in value if day not in WEEKDAYS]
        if wrong:
            raise ValueError(f"unknown day(s) {wrong}; expected some of {list(WEEKDAYS)}")
        return value

    @field_validator("hours")
    @classmethod
    def _hours(cls, value: str) -> str:
        _hours_of(value)
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None and zone_or_none(value) is None:
            raise ValueError(f"unknown IANA time zone {value!r}")
        return value

    def on_duty(self, now: datetime, team_zone: str) -> bool:
        """Whether `now` (aware) falls in the member's working hours on a working day."""
        zone = zone_or_none(self.timezone or team_zone)
        assert zone is not None  # both were validated
        local = now.astimezone(zone)
        opens, closes = _hours_of(self.hours)
        return WEEKDAYS[local.weekday()] in self.days and opens <= local.time() < closes


def _hours_of(value: str) -> tuple[time, time]:
    """ "09:00-18:00" as (09:00, 18:00); ValueError naming the expected form."""
    try:
        start, end = (part.strip() for part in value.split("-"))
        opens = time.fromisoformat(start)
        closes = time.max if end in ("24:00", "24:00:00") else time.fromisoformat(end)
    except ValueError:
        raise ValueError(
            f"expected working hours as HH:MM-HH:MM, e.g. 09:00-18:00, not {value!r}"
        ) from None
    if opens >= closes:
        raise ValueError(f"the hours {value!r} must start before they end")
    return opens, closes


class Team(_Strict):
    """A team's members, its time zone, and how its work is shared among them."""

    strategy: Strategy = "round_robin"
    timezone: str = "UTC"
    members: list[Member] = Field(min_length=1)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        if zone_or_none(value) is None:
            raise ValueError(f"unknown IANA time zone {value!r}")
        return value

    @model_validator(mode="after")
    def _distinct(self) -> Self:
        names = [member.name for member in self.members]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"member names must be distinct: {twice} appear more than once")
        return self

    def on_duty(self, now: datetime) -> list[Member]:
        """Members working at `now`, in roster order."""
        return [member for member in self.members if member.on_duty(now, self.timezone)]


class TeamsConfig(_Strict):
    """Every team's roster, by the team name rules and journeys use (`sales`, `service`)."""

    teams: dict[str, Team] = Field(default_factory=dict)

    def person(self, name: str) -> Member | None:
        """The member called `name` in any team (the first roster that has them)."""
        for team in self.teams.values():
            for member in team.members:
                if member.name == name:
                    return member
        return None


def load_teams_config(path: Path) -> TeamsConfig:
    """The rosters in `path`; no file means no rosters. Raises `TeamsConfigError`."""
    if not path.exists():
        return TeamsConfig()
    return load_config_file(path, TeamsConfig, TeamsConfigError, empty_ok=True, columns=True)
