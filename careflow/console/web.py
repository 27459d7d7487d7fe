"""The console's plumbing: who is asking, in which language, refusals, and rendering.

Every page and action depends on `require(role)` (or `require_form(role)` for a
POST, which also checks the CSRF token), so nothing under /console/ runs for a
visitor who has not logged in: an HTML GET is sent to the login page, anything
else gets 401; a role too low gets 403, also audited. Roles are checked here, on
the server; hidden buttons are only a courtesy.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from fastapi import Depends, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, PackageLoader, StrictUndefined
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.datastructures import FormData

from careflow.api.addresses import TrustedProxies
from careflow.api.state import ApiState
from careflow.config import Settings
from careflow.config_files import ConfigFileError
from careflow.console.audit import FORBIDDEN, record_audit
from careflow.console.i18n import (
    LANGUAGE_COOKIE,
    LANGUAGES,
    Formatter,
    Translator,
    choose_language,
)
from careflow.console.logins import login_is_live
from careflow.console.roles import Role
from careflow.console.session import (
    COOKIE_PATH,
    SessionCodec,
    SessionData,
    csrf_matches,
    new_session,
)
from careflow.console.throttle import (
    DEFAULT_LOGIN_ATTEMPTS,
    DEFAULT_LOGIN_WINDOW_SECONDS,
    LoginLimits,
)
from careflow.console.users import UserInfo, find_user
from careflow.demo.history import HistoryStatus, read_status
from careflow.operator_language import say_problem
from careflow.rule_references import build_references
from careflow.rules import LiveRuleBook
from careflow.team_zone import UTC_ZONE, offset_label, team_zone, zone_name

PREFIX = "/console"
# `?tz=utc` shows every time and day in UTC, `?tz=team` in the team's zone (the
# default); the choice is remembered in this cookie.
ZONE_COOKIE = "careflow_tz"
ZONE_CHOICES = ("team", "utc")
LOGIN_PATH = f"{PREFIX}/login"
# Pages anyone may open: the login form and its POST.
PUBLIC_PATHS = frozenset({LOGIN_PATH})


class ConsoleSettings(BaseSettings):
    """Settings only the console reads (the rest are careflow's `Settings`)."""

    model_config = SettingsConfigDict(env_prefix="CAREFLOW_", extra="ignore")

    temporal_ui_url: str | None = Field(
        default=None,
        description="Base URL of the Temporal UI for journey links; default: the embedded UI.",
    )
    console_login_attempts: int = Field(
        default=DEFAULT_LOGIN_ATTEMPTS,
        ge=1,
        description="Failed logins per user name and per client address within the window.",
    )
    console_login_window: int = Field(
        default=DEFAULT_LOGIN_WINDOW_SECONDS,
        ge=1,
        description="The window of failed logins, in seconds.",
    )
    trusted_proxies: str = Field(
        default="",
        description="Proxies (addresses or networks, comma-separated) whose X-Forwarded-For "
        "names the client; none by default.",
    )


class Console:
    """What the console's handlers share: settings, sessions, the live rules, templates."""

    def __init__(self, settings: Settings, api: ApiState) -> None:
        if api.follower is not None:
            # The release this process serves, as the worker's activities read it.
            settings = settings.model_copy(
                update={
                    "rules_dir": api.follower.rules_dir,
                    "templates_dir": api.follower.templates_dir,
                }
            )
        self.settings = settings
        self.api = api
        self.sessions = SessionCodec(api.secret_key)
        # Built as the worker builds its own (activities/registry.py), so both see the same.
        self.rulebook: LiveRuleBook = (
            api.follower.rulebook
            if api.follower is not None
            else LiveRuleBook(settings.rules_dir, references=build_references(settings))
        )
        # The Segments page's last count (careflow/console/segments_page.py), reused for
        # a few minutes.
        self.segment_sizes: object = None
        console_settings = ConsoleSettings()
        self.temporal_ui_url = console_settings.temporal_ui_url
        self.login_limits = LoginLimits(
            console_settings.console_login_attempts,
            timedelta(seconds=console_settings.console_login_window),
        )
        self.trusted_proxies = TrustedProxies.parse(console_settings.trusted_proxies)
        # Developer-owned templates: a normal environment (not sandboxed), escaping on.
        self.templates = Environment(
            loader=PackageLoader("careflow.console", "templates"),
            autoescape=True,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.templates.filters["as_json"] = _as_json
        self.templates.filters["as_fields"] = as_fields
        # A checker's `file:line:col: message` in the reader's language (same location).
        self.templates.filters["said"] = lambda problem, language: say_problem(
            str(problem), language
        )

    def team_zone(self) -> ZoneInfo:
        """The team's zone; UTC while the outreach policy it comes from is broken (the
        pages say which zone they show, and the rules page shows the mistake)."""
        try:
            return team_zone(self.settings)
        except ConfigFileError:
            return UTC_ZONE

    def temporal_link(self, request: Request, workflow_id: str) -> str:
        """The journey's page in the Temporal UI (the embedded one, on the console's host)."""
        base = self.temporal_ui_url
        if base is None:
            base = f"http://{request.url.hostname}:{self.settings.temporal_ui_port}"
        namespace = quote(self.api.client.namespace, safe="")
        return f"{base.rstrip('/')}/namespaces/{namespace}/workflows/{quote(workflow_id, safe='')}"


def _as_json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, default=str, sort_keys=True)


def as_fields(details: Mapping[str, object], prefix: str = "") -> list[tuple[str, str]]:
    """A record's details as `(name, value)` lines for people: nested records flattened
    to dotted names, empty values left out (a wall of `null`s hides what happened)."""
    fields: list[tuple[str, str]] = []
    for name in sorted(details):
        value = details[name]
        if value is None or value == "" or value == [] or value == {}:
            continue
        if isinstance(value, Mapping):
            fields.extend(as_fields(value, f"{prefix}{name}."))
        elif isinstance(value, str):
            fields.append((f"{prefix}{name}", value))
        else:
            fields.append((f"{prefix}{name}", _as_json(value)))
    return fields


@dataclass
class Visit:
    """One request to the console: its session, user (if logged in) and language."""

    request: Request
    console: Console
    session: SessionData
    user: UserInfo | None
    language: str
    # The cookie must be (re)written: a new visitor, a login or a logout.
    session_changed: bool = False
    # The team's zone (careflow/team_zone.py) and whether the viewer asked for UTC instead.
    team: ZoneInfo = UTC_ZONE
    utc: bool = False

    @property
    def t(self) -> Translator:
        return Translator(self.language)

    @property
    def zone(self) -> ZoneInfo:
        """Where the pages' days start and in which their times are shown."""
        return UTC_ZONE if self.utc else self.team

    @property
    def fmt(self) -> Formatter:
        return Formatter(self.language, self.zone)

    @property
    def api(self) -> ApiState:
        return self.console.api

    @property
    def sees_personal_data(self) -> bool:
        return self.user is not None and self.user.role.sees_personal_data

    @property
    def actor(self) -> str:
        return self.user.name if self.user else "anonymous"

    def with_session(self, session: SessionData, user: UserInfo | None) -> Visit:
        self.session, self.user, self.session_changed = session, user, True
        return self


class ConsoleRefusal(Exception):
    """Not logged in (401, or a redirect to the login page) or not allowed (403)."""

    def __init__(self, visit: Visit, status: int, reason: str) -> None:
        super().__init__(reason)
        self.visit = visit
        self.status = status
        self.reason = reason  # a message key


async def visit(request: Request) -> Visit:
    """The session and user of a console request (a login ended since, or a user removed
    since, is logged out)."""
    console: Console = request.app.state.careflow_console
    session = console.sessions.read(request)
    changed = session is None
    session = session or new_session()
    user = None
    if session.user_id is not None and session.user_name is not None and session.login_token:
        if await login_is_live(console.api.db, session.login_token, session.user_id):
            user = await find_user(console.api.db, session.user_id, session.user_name)
        if user is None:
            session, changed = session.logged_out(), True
    return Visit(
        request,
        console,
        session,
        user,
        choose_language(request),
        changed,
        team=console.team_zone(),
        utc=choose_zone(request) == "utc",
    )


def choose_zone(request: Request) -> str:
    """`?tz=`, then the cookie, then the team's zone."""
    for candidate in (request.query_params.get("tz"), request.cookies.get(ZONE_COOKIE)):
        if candidate in ZONE_CHOICES:
            return candidate
    return "team"


def require(role: Role) -> Callable[..., Awaitable[Visit]]:
    """A dependency: the visit of a logged-in user whose role allows `role`."""

    async def dependency(current: Visit = Depends(visit)) -> Visit:
        if current.user is None:
            raise ConsoleRefusal(current, 401, "refusal.login")
        if not current.user.role.allows(role):
            await record_audit(
                current.api.db,
                current.user.name,
                FORBIDDEN,
                current.request.url.path,
                {
                    "method": current.request.method,
                    "role": current.user.role.value,
                    "needed": role.value,
                },
            )
            raise ConsoleRefusal(current, 403, "refusal.role")
        return current

    return dependency


@dataclass
class FormVisit:
    visit: Visit
    form: FormData

    def field(self, name: str) -> str:
        """The form field as text, stripped ("" when absent)."""
        value = self.form.get(name)
        return value.strip() if isinstance(value, str) else ""


def require_form(role: Role) -> Callable[..., Awaitable[FormVisit]]:
    """A dependency for POSTs: `require(role)`, then the form with a valid CSRF token."""

    async def dependency(current: Visit = Depends(require(role))) -> FormVisit:
        form = await current.request.form()
        if not csrf_matches(current.session, form.get("csrf")):
            raise ConsoleRefusal(current, 403, "refusal.csrf")
        return FormVisit(current, form)

    return dependency


def render(
    current: Visit, template: str, context: dict[str, Any], *, status: int = 200
) -> HTMLResponse:
    """A page of the console, in the visit's language."""
    request = current.request
    notice_key = request.query_params.get("done")
    html = current.console.templates.get_template(template).render(
        t=current.t,
        fmt=current.fmt,
        user=current.user,
        csrf=current.session.csrf,
        path=request.url.path,
        lang_links=[(code, language_link(request, code)) for code in LANGUAGES],
        zone_links=[
            (choice, zone_link(request, choice), (choice == "utc") == current.utc)
            for choice in ZONE_CHOICES
        ],
        demo_history=unfinished_history(current.console.settings.resolved_home),
        team_zone=zone_name(current.team),
        team_offset=offset_label(datetime.now(UTC), current.team),
        notice=current.t(f"notice.{notice_key}") if notice_key in NOTICES else None,
        admin=current.user is not None and current.user.role.allows(Role.ADMIN),
        operator=current.user is not None and current.user.role.allows(Role.OPERATOR),
        **context,
    )
    response = HTMLResponse(html, status_code=status)
    finish(current, response)
    return response


def unfinished_history(home: Path) -> HistoryStatus | None:
    """The demo history's build while it is not done (careflow/demo/history.py)."""
    status = read_status(home)
    return status if status is not None and status.state != "done" else None


def language_link(request: Request, language: str) -> str:
    """This page in `language`; after a POST (a form shown again), the overview in it."""
    if request.method != "GET":
        return f"{PREFIX}/?lang={quote(language)}"
    return f"{request.url.path}?{urlencode({**request.query_params, 'lang': language})}"


def zone_link(request: Request, choice: str) -> str:
    """This page with its times in `choice` (`team` or `utc`); after a POST, the overview."""
    if request.method != "GET":
        return f"{PREFIX}/?tz={choice}"
    return f"{request.url.path}?{urlencode({**request.query_params, 'tz': choice})}"


# Outcomes an action may report after redirecting (`?done=`), each a message key.
NOTICES = frozenset(
    {"consent_changed", "journey_cancelled", "journey_ended", "user_added", "user_removed"}
    | {"release_activated", "release_rolled_back"}
    | {"task_claimed", "task_assigned", "task_completed", "task_cancelled"}
    | {"complaint_responded", "complaint_resolved", "approval_decided"}
    | {"campaign_launched", "campaign_cancelled"}
)


def redirect(current: Visit, url: str) -> RedirectResponse:
    """303 See Other to `url` (after a POST), with the session cookie when it changed."""
    response = RedirectResponse(url, status_code=303)
    finish(current, response)
    return response


def finish(current: Visit, response: Response) -> None:
    """Write the session cookie if it changed and remember a language chosen with ?lang=."""
    if current.session_changed:
        current.console.sessions.write(current.request, response, current.session)
    if current.request.query_params.get("tz") in ZONE_CHOICES:
        response.set_cookie(
            ZONE_COOKIE,
            "utc" if current.utc else "team",
            max_age=365 * 86400,
            path=COOKIE_PATH,
            samesite="lax",
            secure=current.request.url.scheme == "https",
        )
    if current.request.query_params.get("lang"):
        response.set_cookie(
            LANGUAGE_COOKIE,
            current.language,
            max_age=365 * 86400,
            path=COOKIE_PATH,
            samesite="lax",
            secure=current.request.url.scheme == "https",
        )


def safe_next(value: str | None) -> str:
    """Where to go after logging in: a console path only (never another site)."""
    if (
        value
        and value.startswith(f"{PREFIX}/")
        and not value.startswith("//")
        and "\\" not in value
    ):
        return value
    return f"{PREFIX}/"
