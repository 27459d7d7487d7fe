"""The console's actions (POST): logging in and out, cancelling a journey, recording consent
on a customer's request, and managing users. Each is audited with who, when and what.

Every action but the login requires a role (checked on the server) and the
session's CSRF token; the login form carries the anonymous session's token.
"""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from careflow.api.addresses import client_address
from careflow.console.audit import (
    CONSENT_CHANGED,
    JOURNEY_CANCELLED,
    LOGIN,
    LOGIN_FAILED,
    LOGIN_THROTTLED,
    LOGOUT,
    record_audit,
)
from careflow.console.logins import close_login, open_login
from careflow.console.pages import CONSENT_CHANNELS, CONSENT_TOPICS, customer_view, users_view
from careflow.console.passwords import MIN_PASSWORD_LENGTH
from careflow.console.roles import Role
from careflow.console.session import SESSION_HOURS, csrf_matches
from careflow.console.throttle import login_retry_after
from careflow.console.users import UserError, add_user, authenticate, parse_role, remove_user
from careflow.console.web import (
    LOGIN_PATH,
    PREFIX,
    FormVisit,
    Visit,
    redirect,
    render,
    require_form,
    safe_next,
    visit,
)
from careflow.intake.apply import find_customer
from careflow.intake.events import EventIn, accept_event
from careflow.rule_impact import RUNNING, cancel_journeys
from careflow.store import JourneyRecord

router = APIRouter(prefix=PREFIX, include_in_schema=False)

ViewerForm = Annotated[FormVisit, Depends(require_form(Role.VIEWER))]
OperatorForm = Annotated[FormVisit, Depends(require_form(Role.OPERATOR))]
AdminForm = Annotated[FormVisit, Depends(require_form(Role.ADMIN))]
# Long enough for "phoned 2026-11-23, ticket 4711"; the note is for the audit log.
MAX_NOTE_LENGTH = 200


@router.get("/login")
async def login_page(current: Annotated[Visit, Depends(visit)], next: str = "") -> Response:
    """The login form (a logged-in user goes straight on)."""
    if current.user is not None:
        return redirect(current, safe_next(next))
    return render(current, "login.html.j2", {"next": safe_next(next), "problem": None, "name": ""})


@router.post("/login")
async def login(request: Request, current: Annotated[Visit, Depends(visit)]) -> Response:
    """Check name and password; a failure is audited and answered like any other.

    Too many recent failures for the name or from the address answer 429 with
    Retry-After (see `throttle`), the same for names that exist and names that don't.
    """
    form = await request.form()
    name = str(form.get("name") or "").strip()
    password = str(form.get("password") or "")
    target = safe_next(str(form.get("next") or ""))
    if not csrf_matches(current.session, form.get("csrf")):
        # Usually a login page older than its cookie: show a fresh form.
        fresh = current.with_session(current.session.logged_out(), None)
        return render(
            fresh,
            "login.html.j2",
            {"next": target, "problem": fresh.t("login.expired"), "name": name},
            status=403,
        )
    client = client_address(request, current.console.trusted_proxies)
    retry_after = await login_retry_after(
        current.api.db,
        current.console.login_limits,
        name=name,
        client=client,
        now=datetime.now(UTC),
    )
    if retry_after is not None:
        # Checked before the password, so even the right one is refused while throttled.
        await record_audit(
            current.api.db,
            name or "(empty)",
            LOGIN_THROTTLED,
            None,
            {"client": client, "retry_after": retry_after},
        )
        response = render(
            current,
            "login.html.j2",
            {
                "next": target,
                "problem": current.t("login.throttled", minutes=math.ceil(retry_after / 60)),
                "name": name,
            },
            status=429,
        )
        response.headers["Retry-After"] = str(retry_after)
        return response
    user = await authenticate(current.api.db, name, password) if name and password else None
    if user is None:
        await record_audit(
            current.api.db, name or "(empty)", LOGIN_FAILED, None, {"client": client}
        )
        return render(
            current,
            "login.html.j2",
            {"next": target, "problem": current.t("login.failed"), "name": name},
            status=401,
        )
    await record_audit(current.api.db, user.name, LOGIN, None, {"role": user.role.value})
    token = await open_login(current.api.db, user.id, timedelta(hours=SESSION_HOURS))
    current.with_session(current.session.logged_in_as(user, token), user)
    return redirect(current, target)


@router.post("/logout")
async def logout(submitted: ViewerForm) -> RedirectResponse:
    """End the session on the server (a copy of the cookie stops working too); the cookie
    stays, without a user, for the next login's CSRF token."""
    current = submitted.visit
    if current.session.login_token:
        await close_login(current.api.db, current.session.login_token)
    await record_audit(current.api.db, current.actor, LOGOUT)
    current.with_session(current.session.logged_out(), None)
    return redirect(current, LOGIN_PATH)


@router.post("/journeys/cancel")
async def cancel_journey(submitted: OperatorForm) -> Response:
    """Cancel one running journey through Temporal; it ends with outcome `cancelled`."""
    current = submitted.visit
    workflow_id = submitted.field("workflow_id")
    async with current.api.db.session() as session:
        record = await session.scalar(
            select(JourneyRecord).where(JourneyRecord.workflow_id == workflow_id)
        )
    if record is None:
        return render(current, "not_found.html.j2", {"what": workflow_id or "-"}, status=404)
    back = submitted.field("customer_id")
    page = f"{PREFIX}/customers/{quote(back, safe='')}" if back else f"{PREFIX}/"
    if record.status != RUNNING:
        return redirect(current, f"{page}?done=journey_ended")
    cancelled = await cancel_journeys(current.api.db, current.api.client, [record])
    await record_audit(
        current.api.db,
        current.actor,
        JOURNEY_CANCELLED,
        workflow_id,
        {
            "journey": record.journey,
            "rule_id": record.rule_id,
            "customer": back or None,
            "outcome": "cancelled" if cancelled else "already ended",
        },
    )
    return redirect(current, f"{page}?done={'journey_cancelled' if cancelled else 'journey_ended'}")


@router.post("/customers/{customer_id}/consent")
async def change_consent(submitted: OperatorForm, customer_id: str) -> Response:
    """Record the customer's consent choice, as they asked (a `consent_changed` event)."""
    current = submitted.visit
    t = current.t
    channel, topic = submitted.field("channel"), submitted.field("topic")
    granted, note = submitted.field("granted"), submitted.field("note")
    problems = []
    if channel not in CONSENT_CHANNELS:
        problems.append(t("error.channel", choices=", ".join(CONSENT_CHANNELS)))
    if topic not in CONSENT_TOPICS:
        problems.append(t("error.topic", choices=", ".join(CONSENT_TOPICS)))
    if granted not in ("yes", "no"):
        problems.append(t("error.granted"))
    if not note:
        problems.append(t("error.note_missing"))
    elif len(note) > MAX_NOTE_LENGTH:
        problems.append(t("error.note_long", limit=MAX_NOTE_LENGTH))
    async with current.api.db.session() as session:
        customer = await find_customer(session, customer_id)
    if customer is None or customer.erased_at is not None:
        return render(current, "not_found.html.j2", {"what": customer_id}, status=404)
    if problems:
        return await customer_view(current, customer_id, problem=" ".join(problems), status=400)
    event = EventIn(
        type="consent_changed",
        customer_id=customer_id,
        occurred_at=datetime.now(UTC),
        event_id=f"console-{uuid.uuid4()}",
        # `source` says who recorded it; the Consent row keeps it (64 characters at most).
        data={
            "channel": channel,
            "topic": topic,
            "granted": granted == "yes",
            "source": f"console:{current.actor}"[:64],
        },
    )
    accepted = await accept_event(current.api.db, current.api.client, current.api.task_queue, event)
    await record_audit(
        current.api.db,
        current.actor,
        CONSENT_CHANGED,
        customer_id,
        {
            "channel": channel,
            "topic": topic,
            "granted": granted == "yes",
            "note": note,
            "event_id": accepted.event_id,
        },
    )
    return redirect(
        current, f"{PREFIX}/customers/{quote(customer_id, safe='')}?done=consent_changed"
    )


@router.post("/users")
async def add_user_action(submitted: AdminForm) -> Response:
    """Add a console user (admins only); every mistake is shown on the form."""
    current = submitted.visit
    name, role = submitted.field("name"), submitted.field("role")
    password = str(submitted.form.get("password") or "")
    again = str(submitted.form.get("password_again") or "")
    values = {"name": name, "role": role}
    try:
        chosen = parse_role(role)
        if password != again:
            raise UserError("the passwords differ", "mismatch")
        await add_user(current.api.db, name, chosen, password, actor=current.actor)
    except UserError as error:
        return await users_view(
            current, problem=user_problem(current, error), form=values, status=400
        )
    return redirect(current, f"{PREFIX}/users?done=user_added")


@router.post("/users/remove")
async def remove_user_action(submitted: AdminForm) -> Response:
    """Remove a console user (admins only); their sessions end at once."""
    current = submitted.visit
    try:
        await remove_user(current.api.db, submitted.field("name"), actor=current.actor)
    except UserError as error:
        return await users_view(current, problem=user_problem(current, error), status=400)
    return redirect(current, f"{PREFIX}/users?done=user_removed")


def user_problem(current: Visit, error: UserError) -> str:
    """The user error in the reader's language."""
    return current.t(f"users.error.{error.code}", length=MIN_PASSWORD_LENGTH)
