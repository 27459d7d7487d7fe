"""The two operator files of outbound HTTP: `rules/webhooks.yaml` and `rules/staff_alerts.yaml`.

`webhooks.yaml` subscribes endpoints (the CRM, the helpdesk) to careflow's events;
rules may also name an endpoint (`webhook: NAME`). `staff_alerts.yaml` sends a
team's task and notification alerts to its WeCom group robot, DingTalk robot or a
Slack-compatible incoming webhook, besides or instead of email.

Secrets never live in these files: an endpoint's signing secret, a robot's URL
(which holds its key or access token) and DingTalk's signing secret are read from
the environment variables the file names. `url: capture` is the capture endpoint
`careflow up` runs (files under `CAREFLOW_HOME/outbox/webhooks/`).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from careflow.config_files import ConfigFileError, load_config_file
from careflow.webhooks.events import EVENT_TYPES

WEBHOOKS_FILE_NAME = "webhooks.yaml"
STAFF_ALERTS_FILE_NAME = "staff_alerts.yaml"
# The embedded capture endpoint of `careflow up`, as a URL in these files.
CAPTURE = "capture"
# As rule ids: a rule names an endpoint with `webhook: NAME`.
_NAME = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
_ENV = re.compile(r"^[A-Z][A-Z0-9_]*$")

EventType = Literal[
    "journey.started",
    "journey.ended",
    "message.sent",
    "message.failed",
    "task.created",
    "consent.changed",
]
assert set(EventType.__args__) == set(EVENT_TYPES)  # type: ignore[attr-defined]
RobotKind = Literal["wecom", "dingtalk", "slack"]


class WebhooksConfigError(ConfigFileError):
    what = "webhooks file"


class StaffAlertsConfigError(ConfigFileError):
    what = "staff alerts file"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_env_name(value: str | None) -> str | None:
    if value is not None and not _ENV.match(value):
        raise ValueError(
            f"{value!r} is not an environment variable name (capitals, digits and _, "
            "e.g. CAREFLOW_WEBHOOK_SECRET_CRM)"
        )
    return value


def _check_url(value: str | None) -> str | None:
    if value is not None and value != CAPTURE and not value.startswith(("http://", "https://")):
        raise ValueError(f"expected an http:// or https:// URL or {CAPTURE!r}, got {value!r}")
    return value


class _Target(_Strict):
    """Where to POST: a URL written here, or one read from the environment."""

    url: str | None = None
    url_env: str | None = None

    @field_validator("url")
    @classmethod
    def _valid_url(cls, value: str | None) -> str | None:
        return _check_url(value)

    @field_validator("url_env")
    @classmethod
    def _valid_url_env(cls, value: str | None) -> str | None:
        return _check_env_name(value)

    @model_validator(mode="after")
    def _one_url(self) -> _Target:
        if (self.url is None) == (self.url_env is None):
            raise ValueError("give exactly one of url: or url_env: (a variable holding the URL)")
        return self

    def resolved_url(self, capture_url: str | None, name: str) -> str:
        """The URL to POST to now; ValueError saying what is missing."""
        if self.url_env is not None:
            value = os.environ.get(self.url_env, "")
            if not value:
                raise ValueError(f"environment variable {self.url_env} is not set")
            return value
        assert self.url is not None
        if self.url == CAPTURE:
            if capture_url is None:
                raise ValueError("url: capture works only under `careflow up`")
            return f"{capture_url}/{name}"
        return self.url


class Endpoint(_Target):
    """One subscriber of careflow's events, signed per Standard Webhooks."""

    # Required except for `url: capture`, which `careflow up` signs with a secret of its own.
    secret_env: str | None = None
    events: list[EventType] = Field(default_factory=list)
    pause_after_failures: Annotated[int, Field(ge=1, le=1000)] = 10

    @field_validator("secret_env")
    @classmethod
    def _valid_secret_env(cls, value: str | None) -> str | None:
        return _check_env_name(value)

    @model_validator(mode="after")
    def _secret_unless_capture(self) -> Endpoint:
        if self.secret_env is None and self.url != CAPTURE:
            raise ValueError(
                "secret_env: required: the environment variable holding the signing secret"
            )
        return self

    def secret(self, capture_secret: str | None = None) -> str:
        """The signing secret (`whsec_...` base64, as Standard Webhooks writes it)."""
        if self.secret_env is None:
            if capture_secret is None:
                raise ValueError("secret_env: not set, and this is not careflow up's capture")
            return capture_secret
        value = os.environ.get(self.secret_env, "")
        if not value:
            raise ValueError(f"environment variable {self.secret_env} is not set")
        return value


class WebhooksConfig(_Strict):
    """`rules/webhooks.yaml`."""

    endpoints: dict[str, Endpoint] = Field(default_factory=dict)

    @field_validator("endpoints")
    @classmethod
    def _names(cls, value: dict[str, Endpoint]) -> dict[str, Endpoint]:
        for name in value:
            if not _NAME.match(name):
                raise ValueError(
                    f"endpoint name {name!r} must be kebab-case, e.g. crm or help-desk"
                )
        return value


class Robot(_Target):
    """A team's group robot or incoming webhook."""

    kind: RobotKind
    # DingTalk robots with "加签" security: the secret that signs each request's URL.
    secret_env: str | None = None
    pause_after_failures: Annotated[int, Field(ge=1, le=1000)] = 10

    @field_validator("secret_env")
    @classmethod
    def _valid_secret_env(cls, value: str | None) -> str | None:
        return _check_env_name(value)

    @model_validator(mode="after")
    def _secret_for_dingtalk_only(self) -> Robot:
        if self.secret_env is not None and self.kind != "dingtalk":
            raise ValueError("secret_env: only DingTalk robots sign their URL")
        return self

    def secret(self) -> str | None:
        """DingTalk's signing secret, when configured."""
        if self.secret_env is None:
            return None
        value = os.environ.get(self.secret_env, "")
        if not value:
            raise ValueError(f"environment variable {self.secret_env} is not set")
        return value


class TeamAlerts(_Strict):
    """Where one team (or staff role) hears about its tasks and notifications."""

    robots: list[Robot] = Field(default_factory=list)
    # false: the robots instead of email for this team's staff notifications.
    email: bool = True


class StaffAlertsConfig(_Strict):
    """`rules/staff_alerts.yaml`: per team (journeys.yaml `staff.teams`) or staff role
    (`agent`, `supervisor`, `manager`, `account_manager`)."""

    teams: dict[str, TeamAlerts] = Field(default_factory=dict)

    def robot_name(self, team: str, index: int) -> str:
        """The endpoint name deliveries and the console use for a team's robot."""
        return f"staff-{team}-{index + 1}-{self.teams[team].robots[index].kind}"


def load_webhooks_config(path: Path) -> WebhooksConfig:
    """`webhooks.yaml` (no file: no endpoints); WebhooksConfigError naming each mistake."""
    if not path.exists():
        return WebhooksConfig()
    return load_config_file(path, WebhooksConfig, WebhooksConfigError, empty_ok=True, columns=True)


def load_staff_alerts_config(path: Path) -> StaffAlertsConfig:
    """`staff_alerts.yaml` (no file: email only); StaffAlertsConfigError naming each mistake."""
    if not path.exists():
        return StaffAlertsConfig()
    return load_config_file(
        path, StaffAlertsConfig, StaffAlertsConfigError, empty_ok=True, columns=True
    )


def config_problems(rules_dir: Path) -> list[str]:
    """Every mistake in the folder's webhooks.yaml and staff_alerts.yaml, for
    `careflow rules check`."""
    problems: list[str] = []
    try:
        load_webhooks_config(rules_dir / WEBHOOKS_FILE_NAME)
    except WebhooksConfigError as error:
        problems += error.problems
    try:
        load_staff_alerts_config(rules_dir / STAFF_ALERTS_FILE_NAME)
    except StaffAlertsConfigError as error:
        problems += error.problems
    return problems
