"""Configuration from the environment (`CAREFLOW_*`).

Every setting has an embedded default, so `careflow up` with no configuration runs
everything locally under `var/`. A setting that names an external service switches
that part off in the embedded runtime. How to reach Temporal follows Temporal's own
conventions (`TEMPORAL_ADDRESS`, `TEMPORAL_NAMESPACE`, ...) and is read in one place,
`careflow/temporal_connection.py`.
"""

from __future__ import annotations

import os
import secrets
from functools import cached_property
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qs, unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from careflow.operator_project import default_rules_dir, default_templates_dir


class SmtpTarget(BaseModel):
    """Where and how to deliver email, parsed from `CAREFLOW_SMTP_URL`."""

    host: str
    port: int
    username: str | None = None
    password: str | None = None
    use_tls: bool = False
    start_tls: bool | None = None
    timeout_seconds: float = 30.0

    @classmethod
    def from_url(cls, url: str) -> SmtpTarget:
        """Parse `smtp://user:pass@host:587?starttls=true` (or `smtps://` for implicit TLS)."""
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps"):
            raise ValueError(f"CAREFLOW_SMTP_URL: expected smtp:// or smtps://, got {url!r}")
        if not parts.hostname:
            raise ValueError(f"CAREFLOW_SMTP_URL: no host in {url!r}")
        query = {key: values[-1].lower() for key, values in parse_qs(parts.query).items()}
        implicit_tls = parts.scheme == "smtps"
        start_tls: bool | None = None
        if "starttls" in query:
            start_tls = query["starttls"] in ("1", "true", "yes")
        return cls(
            host=parts.hostname,
            port=parts.port or (465 if implicit_tls else 25),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            use_tls=implicit_tls,
            start_tls=start_tls,
            timeout_seconds=float(query.get("timeout", "30")),
        )


class Settings(BaseSettings):
    """All of careflow's configuration; read from `CAREFLOW_*` environment variables."""

    model_config = SettingsConfigDict(env_prefix="CAREFLOW_", extra="ignore")

    home: Path = Field(default=Path("var"), description="Folder for embedded state.")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy async URL; default SQLite under home."
    )
    smtp_url: str | None = Field(
        default=None, description="External SMTP server; default: local capture server."
    )
    http: str = Field(default="127.0.0.1:8080", description="host:port of the HTTP API.")
    temporal_port: int = Field(
        default=7233, description="Port of the embedded Temporal (with no TEMPORAL_ADDRESS)."
    )
    task_queue: str = "careflow"
    smtp_capture_port: int = Field(default=8025, description="Port of the capture SMTP.")
    capture_http_port: int = Field(
        default=8026,
        description="Port of careflow up's capture endpoint (webhooks, staff robots, SMS).",
    )
    capture_url: str | None = Field(
        default=None,
        description="A capture endpoint already running (another careflow up's): careflow up"
        " sends there instead of starting its own on capture_http_port.",
    )
    mail_from: str = "careflow <care@careflow.localhost>"
    delivery: Literal["smtp", "dry-run"] = "smtp"
    rules_dir: Path = Field(
        default_factory=default_rules_dir,
        description="Operator rule files; default ./rules in an operator project, else shipped.",
    )
    templates_dir: Path = Field(
        default_factory=default_templates_dir,
        description="Message templates; default ./templates in an operator project, else shipped.",
    )
    public_url: str = Field(
        default="", description="Base URL for links in emails; default http://CAREFLOW_HTTP."
    )
    scan_time: str = Field(
        default="06:00", pattern=r"^\d{1,2}:\d{2}$", description="Local time of the daily scan."
    )
    scan_timezone: str = Field(default="UTC", description="IANA zone of scan_time.")
    team_timezone: str | None = Field(
        default=None,
        description="IANA zone where days start for the console, `careflow kpis` and "
        "`GET /kpis`; default: `default_timezone` of rules/outreach_policy.yaml.",
    )
    event_max_age_hours: float = Field(
        default=72, description="Older events are recorded but trigger no outreach."
    )
    event_path: Literal["direct", "workflow"] = Field(
        default="direct",
        description="How an accepted event's rules run: `direct` evaluates them and "
        "starts its journeys in the process that accepted it (no workflow for an event "
        "on which no rule fires); `workflow` starts a CustomerEventWorkflow per event "
        "(the earlier path, kept as the baseline of bench/e2e_bench.py).",
    )
    event_sweep_after_seconds: float = Field(
        default=60,
        gt=0,
        description="An event the direct path has not handled this long after it was "
        "stored (the process crashed, Temporal was away) is handed to its "
        "CustomerEventWorkflow by the worker's event sweep.",
    )
    configured_secret_key: str | None = Field(
        default=None,
        validation_alias="CAREFLOW_SECRET_KEY",
        description="Signs links and console sessions; default: generated once under home.",
    )

    max_body_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        description="Largest request body the HTTP API reads; longer ones get 413.",
    )
    api_token: str | None = Field(
        default=None,
        description="When set, the staff API (events, customers, tasks, KPIs) needs "
        "`Authorization: Bearer <token>`.",
    )
    metrics_http: str | None = Field(
        default=None,
        pattern=r"^\S*:\d{1,5}$",
        description="host:port where a worker serves its Prometheus metrics; unset: none.",
    )
    event_loop: Literal["uvloop", "asyncio"] = Field(
        default="uvloop",
        description="The event loop of careflow up, worker and api: `uvloop` (where "
        "installed, else asyncio's) or `asyncio`, Python's own (to rule the loop out "
        "when chasing a fault); careflow/runtime/event_loop.py.",
    )
    log_format: Literal["text", "json"] = Field(
        default="text", description="`json`: one JSON object a line; `text`: readable lines."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    release_approver_role: Literal["operator", "admin"] = Field(
        default="admin",
        description="The console role that may activate a rule release (careflow/releases/).",
    )
    release_self_approval: bool = Field(
        default=False,
        description="Whether the author of a release may activate it themselves.",
    )

    @field_validator("capture_url")
    @classmethod
    def _capture_url_is_http(cls, value: str | None) -> str | None:
        # Checked at start: a typo would otherwise surface only as failed deliveries.
        if value is not None:
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError("expected an http(s) URL, e.g. http://127.0.0.1:8026")
        return value

    @field_validator("team_timezone")
    @classmethod
    def _known_team_zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown IANA time zone {value!r}, e.g. Asia/Shanghai") from None
        return value

    # `CAREFLOW_LOG_LEVEL=info`, `CAREFLOW_LOG_FORMAT=JSON` and `CAREFLOW_EVENT_LOOP=
    # Asyncio` mean what they say.
    @field_validator("log_level", mode="before")
    @classmethod
    def _level_in_capitals(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("log_format", "event_loop", mode="before")
    @classmethod
    def _choice_in_lower_case(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @cached_property
    def resolved_home(self) -> Path:
        return self.home.resolve()

    @cached_property
    def secret_key(self) -> str:
        """`CAREFLOW_SECRET_KEY`, or a random key generated once into the home folder.

        Never a value shipped in the code: anyone could sign unsubscribe and survey
        links, or console sessions, with it. Several hosts must share one key, so
        they need CAREFLOW_SECRET_KEY set (see `careflow up`'s warning).
        """
        return self.configured_secret_key or local_secret_key(self.resolved_home)

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            return normalise_database_url(self.database_url)
        return f"sqlite+aiosqlite:///{self.resolved_home / 'careflow.db'}"

    @property
    def outbox_dir(self) -> Path:
        return self.resolved_home / "outbox"

    @property
    def temporal_ui_port(self) -> int:
        return self.temporal_port + 1000

    @property
    def embedded_smtp(self) -> bool:
        return not self.smtp_url and self.delivery == "smtp"

    @property
    def smtp_target(self) -> SmtpTarget:
        if self.smtp_url:
            return SmtpTarget.from_url(self.smtp_url)
        return SmtpTarget(host="127.0.0.1", port=self.smtp_capture_port)

    @property
    def http_host(self) -> str:
        return self.http.rsplit(":", 1)[0]

    @property
    def http_port(self) -> int:
        return int(self.http.rsplit(":", 1)[1])

    @property
    def metrics_address(self) -> tuple[str, int] | None:
        """`CAREFLOW_METRICS_HTTP` as (host, port); an empty host means every interface."""
        if not self.metrics_http:
            return None
        host, port = self.metrics_http.rsplit(":", 1)
        return host.strip("[]"), int(port)

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.http}").rstrip("/")


def normalise_database_url(url: str) -> str:
    """Accept plain `postgresql://` and `sqlite://` URLs and pick the async drivers."""
    if url.startswith(("postgres://", "postgresql://")):
        return "postgresql+asyncpg://" + url.split("://", 1)[1]
    if url.startswith("sqlite://") and "+aiosqlite" not in url:
        return "sqlite+aiosqlite://" + url.split("://", 1)[1]
    return url


KEY_FILE_NAME = "secret_key"


def local_secret_key(home: Path) -> str:
    """The key in `home/secret_key`, created on first use, readable by its owner only."""
    path = home / KEY_FILE_NAME
    if path.exists():
        return path.read_text().strip()
    home.mkdir(parents=True, exist_ok=True)
    # Written in full under a private name, then linked into place: when the API, the
    # worker and a CLI start at once, exactly one complete key wins and all read it.
    candidate = home / f".{KEY_FILE_NAME}.{os.getpid()}.{secrets.token_hex(4)}"
    descriptor = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(secrets.token_urlsafe(32))
    try:
        os.link(candidate, path)
    except FileExistsError:
        pass
    finally:
        candidate.unlink()
    return path.read_text().strip()


def load_settings() -> Settings:
    """Read settings from the environment now (tests change it between calls)."""
    return Settings()
