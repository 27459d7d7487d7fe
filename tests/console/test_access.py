"""Access to the console over HTTP: nothing without logging in, roles enforced on the
server (not only by hidden buttons), CSRF on every form, personal data masked for
viewers, and every operator action and login failure in the audit log."""

from __future__ import annotations

import re
import uuid

import fastapi.routing
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, text
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment

from careflow.console.web import PUBLIC_PATHS
from careflow.store import AuditEntry, Database, JourneyRecord
from careflow.workflows.ids import event_workflow_id
from tests.console.conftest import PASSWORD, csrf_token, log_in
from tests.console.seed import ALICE, RUNNING_JOURNEY, Seeded


def console_routes(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path) of every console route but the login page, read from the app.

    FastAPI 0.13x+ keeps included routers as such; `iter_route_contexts` flattens them
    (older releases copied every route into `app.routes`).
    """
    flatten = getattr(fastapi.routing, "iter_route_contexts", None)
    found = []
    for route in flatten(app.routes) if flatten else app.routes:
        path, methods = getattr(route, "path", None), getattr(route, "methods", None)
        if path and methods and path.startswith("/console") and path not in PUBLIC_PATHS:
            found.extend((method, path) for method in sorted(methods - {"HEAD"}))
    return found


def concrete(path: str) -> str:
    """The path with every `{parameter}` filled in."""
    return re.sub(r"\{[^}]+\}", "c-alice", path)


async def audit_rows(db: Database, action: str) -> list[AuditEntry]:
    async with db.session() as session:
        return list(await session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


async def test_every_console_route_refuses_anonymous_requests(
    console_app: FastAPI, anonymous: httpx.AsyncClient, seeded: Seeded
) -> None:
    routes = console_routes(console_app)
    # The enumeration itself must find the console: pages and actions.
    assert {method for method, _ in routes} == {"GET", "POST"}
    assert len(routes) >= 12, routes
    for method, path in routes:
        url = concrete(path)
        response = await anonymous.request(method, url, data={"csrf": "x", "name": "ada"})
        if method == "GET":
            assert response.status_code == 303, (method, path)
            assert response.headers["location"].startswith("/console/login?next="), path
        else:
            assert response.status_code == 401, (method, path, response.status_code)
        # Nothing of the store leaks into a refusal.
        assert ALICE["name"] not in response.text


async def test_unsubscribe_and_survey_pages_stay_public(anonymous: httpx.AsyncClient) -> None:
    for path in ("/unsubscribe/not-a-token", "/survey/not-a-token"):
        response = await anonymous.get(path)
        # The public page answers itself (a bad token is its own error), never the login.
        assert response.status_code not in (303, 401), path
        assert "/console/login" not in response.headers.get("location", "")


async def test_login_logout_and_failed_logins_are_audited(
    anonymous: httpx.AsyncClient, db: Database, seeded: Seeded
) -> None:
    wrong = await log_in(anonymous, "ada", "not the password")
    assert wrong.status_code == 401
    assert "Wrong user name or password" in wrong.text
    unknown = await log_in(anonymous, "nobody", PASSWORD)
    assert unknown.status_code == 401
    failures = await audit_rows(db, "login_failed")
    assert sorted(row.actor for row in failures) == ["ada", "nobody"]

    ok = await log_in(anonymous, "ada")
    assert ok.status_code == 303
    assert ok.headers["location"] == "/console/"
    cookie = ok.headers["set-cookie"]
    for attribute in ("HttpOnly", "Path=/console", "SameSite=lax"):
        assert attribute.lower() in cookie.lower()
    page = await anonymous.get("/console/")
    assert page.status_code == 200
    assert 'data-testid="whoami">ada' in page.text

    token = await csrf_token(anonymous, "/console/")
    out = await anonymous.post("/console/logout", data={"csrf": token})
    assert out.status_code == 303
    assert (await anonymous.get("/console/")).status_code == 303
    assert [row.actor for row in await audit_rows(db, "login")] == ["ada"]
    assert [row.actor for row in await audit_rows(db, "logout")] == ["ada"]


async def test_login_goes_on_to_the_page_asked_for_but_never_off_site(
    anonymous: httpx.AsyncClient, seeded: Seeded
) -> None:
    first = await anonymous.get("/console/tasks?status=open")
    assert first.headers["location"] == "/console/login?next=%2Fconsole%2Ftasks%3Fstatus%3Dopen"
    for asked, expected in (
        ("/console/tasks?status=open", "/console/tasks?status=open"),
        ("https://evil.example/", "/console/"),
        ("//evil.example/console/", "/console/"),
    ):
        token = await csrf_token(anonymous)
        response = await anonymous.post(
            "/console/login",
            data={"name": "vera", "password": PASSWORD, "csrf": token, "next": asked},
        )
        assert response.headers["location"] == expected
        await anonymous.post(
            "/console/logout", data={"csrf": await csrf_token(anonymous, "/console/")}
        )


async def test_a_viewer_cannot_act_even_with_a_valid_form(
    logged_in: dict[str, httpx.AsyncClient], db: Database
) -> None:
    viewer = logged_in["vera"]
    token = await csrf_token(viewer, "/console/customers/c-alice")
    # The page offers no operator buttons to a viewer...
    page = await viewer.get("/console/customers/c-alice")
    assert "/console/journeys/cancel" not in page.text
    assert 'id="consent-form"' not in page.text
    # ...and the server refuses the requests a hand-made form would send.
    attempts = [
        ("/console/journeys/cancel", {"workflow_id": RUNNING_JOURNEY, "customer_id": "c-alice"}),
        (
            "/console/customers/c-alice/consent",
            {"channel": "email", "topic": "marketing", "granted": "no", "note": "asked"},
        ),
        (
            "/console/users",
            {"name": "mallory", "role": "admin", "password": PASSWORD, "password_again": PASSWORD},
        ),
        ("/console/users/remove", {"name": "ada"}),
    ]
    for path, form in attempts:
        response = await viewer.post(path, data={**form, "csrf": token})
        assert response.status_code == 403, path
        assert "Your role does not allow this" in response.text
    for path in ("/console/users", "/console/audit"):
        assert (await viewer.get(path)).status_code == 403
    # Nothing changed, and every refusal is on record.
    async with db.session() as session:
        journey = await session.scalar(
            select(JourneyRecord).where(JourneyRecord.workflow_id == RUNNING_JOURNEY)
        )
        assert journey is not None
        assert journey.status == "running"
        consent = (await session.execute(text("select granted, source from consents"))).all()
        assert consent == [(True, "event")]
        users = (await session.execute(text("select name from console_users order by name"))).all()
        assert [row[0] for row in users] == ["ada", "otto", "vera"]
    refused = await audit_rows(db, "forbidden")
    assert len(refused) == len(attempts) + 2
    assert {row.actor for row in refused} == {"vera"}


async def test_an_operator_cannot_manage_users(logged_in: dict[str, httpx.AsyncClient]) -> None:
    operator = logged_in["otto"]
    token = await csrf_token(operator, "/console/")
    response = await operator.post(
        "/console/users",
        data={
            "name": "mallory",
            "role": "admin",
            "password": PASSWORD,
            "password_again": PASSWORD,
            "csrf": token,
        },
    )
    assert response.status_code == 403


async def test_forms_without_the_session_token_are_refused(
    logged_in: dict[str, httpx.AsyncClient], db: Database
) -> None:
    operator = logged_in["otto"]
    for token in (None, "forged", await csrf_token(logged_in["ada"], "/console/")):
        form = {"workflow_id": RUNNING_JOURNEY, "customer_id": "c-alice"}
        if token is not None:
            form["csrf"] = token
        response = await operator.post("/console/journeys/cancel", data=form)
        assert response.status_code == 403
        assert "The form had expired" in response.text
    assert await audit_rows(db, "journey_cancelled") == []


async def test_viewers_see_personal_data_masked_and_operators_see_it(
    logged_in: dict[str, httpx.AsyncClient],
) -> None:
    personal = (ALICE["name"], ALICE["email"], ALICE["phone"])
    for path in ("/console/customers/c-alice", "/console/customers?q=c-a"):
        viewer_page = (await logged_in["vera"].get(path)).text
        operator_page = (await logged_in["otto"].get(path)).text
        for value in personal:
            # Also in the timeline's event data (customer_upserted carries them).
            assert value not in viewer_page, (path, value)
        assert "A•••" in viewer_page
        assert ALICE["name"] in operator_page
    operator_page = (await logged_in["otto"].get("/console/customers/c-alice")).text
    assert ALICE["email"] in operator_page
    assert ALICE["phone"] in operator_page
    viewer_page = (await logged_in["vera"].get("/console/customers/c-alice")).text
    assert "a•••@•••" in viewer_page


async def test_an_operator_cancels_a_running_journey_through_temporal(
    logged_in: dict[str, httpx.AsyncClient], db: Database, workflow_env: WorkflowEnvironment
) -> None:
    # A real workflow with that id on the test server; no worker runs it, so it stays
    # running until the console's cancel request reaches its history.
    task_queue = f"console-{uuid.uuid4().hex[:8]}"
    handle = await workflow_env.client.start_workflow(
        "ComplaintEscalationWorkflow", id=RUNNING_JOURNEY, task_queue=task_queue
    )
    try:
        operator = logged_in["otto"]
        token = await csrf_token(operator, "/console/customers/c-alice")
        response = await operator.post(
            "/console/journeys/cancel",
            data={"workflow_id": RUNNING_JOURNEY, "customer_id": "c-alice", "csrf": token},
        )
        assert response.status_code == 303
        assert response.headers["location"] == "/console/customers/c-alice?done=journey_cancelled"
        history = await handle.fetch_history()
        assert any(
            event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED
            for event in history.events
        )
        page = await operator.get(response.headers["location"])
        assert "The journey was cancelled." in page.text
    finally:
        await handle.terminate(reason="test over")
    async with db.session() as session:
        journey = await session.scalar(
            select(JourneyRecord).where(JourneyRecord.workflow_id == RUNNING_JOURNEY)
        )
    assert journey is not None
    assert (journey.status, journey.outcome) == ("ended", "cancelled")
    [entry] = await audit_rows(db, "journey_cancelled")
    assert (entry.actor, entry.target) == ("otto", RUNNING_JOURNEY)
    assert entry.details["outcome"] == "cancelled"


async def test_an_operator_records_consent_on_request(
    logged_in: dict[str, httpx.AsyncClient], db: Database, workflow_env: WorkflowEnvironment
) -> None:
    operator = logged_in["otto"]
    token = await csrf_token(operator, "/console/customers/c-alice")
    form = {"channel": "email", "topic": "marketing", "granted": "no", "csrf": token}
    missing_note = await operator.post("/console/customers/c-alice/consent", data=form)
    assert missing_note.status_code == 400
    assert "Say how the customer asked" in missing_note.text
    bad = await operator.post(
        "/console/customers/c-alice/consent", data={**form, "topic": "everything", "note": "x"}
    )
    assert bad.status_code == 400
    assert "Choose a topic: marketing, care." in bad.text

    response = await operator.post(
        "/console/customers/c-alice/consent", data={**form, "note": "phoned, ticket 4711"}
    )
    assert response.status_code == 303
    async with db.session() as session:
        rows = (
            await session.execute(
                text("select channel, topic, granted, source from consents order by id")
            )
        ).all()
        events = (
            await session.execute(
                text("select type, data from events where event_id like 'console-%'")
            )
        ).all()
    assert rows == [("email", "marketing", False, "console:otto")]
    assert [event[0] for event in events] == ["consent_changed"]
    [entry] = await audit_rows(db, "consent_changed")
    assert (entry.actor, entry.target) == ("otto", "c-alice")
    assert entry.details["note"] == "phoned, ticket 4711"
    assert entry.details["granted"] is False
    # The event's rule evaluation was started as for any event; no worker runs here.
    started = workflow_env.client.get_workflow_handle(event_workflow_id(entry.details["event_id"]))
    await started.terminate(reason="test over")


async def test_admins_manage_users_with_clear_errors(
    logged_in: dict[str, httpx.AsyncClient], console_app: FastAPI, db: Database
) -> None:
    admin = logged_in["ada"]
    token = await csrf_token(admin, "/console/users")
    base = {"csrf": token, "role": "operator"}
    cases = [
        (
            {"name": "bad name!", "password": PASSWORD, "password_again": PASSWORD},
            "A user name has 1 to 64",
        ),
        (
            {"name": "olga", "password": "short", "password_again": "short"},
            "at least 10 characters",
        ),
        (
            {"name": "olga", "password": PASSWORD, "password_again": PASSWORD + "x"},
            "The two passwords differ",
        ),
        ({"name": "otto", "password": PASSWORD, "password_again": PASSWORD}, "exists already"),
        (
            {"name": "olga", "password": PASSWORD, "password_again": PASSWORD, "role": "root"},
            "Choose a role",
        ),
    ]
    for form, message in cases:
        response = await admin.post("/console/users", data={**base, **form})
        assert response.status_code == 400, form
        assert message in response.text, form
    added = await admin.post(
        "/console/users",
        data={**base, "name": "olga", "password": PASSWORD, "password_again": PASSWORD},
    )
    assert added.status_code == 303
    olga = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=console_app), base_url="http://careflow.test"
    )
    async with olga:
        assert (await log_in(olga, "olga")).status_code == 303
        assert (await olga.get("/console/")).status_code == 200
        removed = await admin.post("/console/users/remove", data={"csrf": token, "name": "olga"})
        assert removed.status_code == 303
        # Removing a user ends their session at once.
        assert (await olga.get("/console/")).status_code == 303
    last_admin = await admin.post("/console/users/remove", data={"csrf": token, "name": "ada"})
    assert last_admin.status_code == 400
    assert "last admin" in last_admin.text
    audit = (await admin.get("/console/audit")).text
    for action in ("added a user", "removed a user", "logged in"):
        assert action in audit
    assert [(row.actor, row.target) for row in await audit_rows(db, "user_added")][-1] == (
        "ada",
        "olga",
    )


@pytest.mark.parametrize(
    "path", ["/console/?days=3", "/console/?until=2999-01-01", "/console/?until=soon"]
)
async def test_bad_overview_parameters_get_a_clear_error(
    logged_in: dict[str, httpx.AsyncClient], path: str
) -> None:
    response = await logged_in["vera"].get(path)
    assert response.status_code == 400
    assert 'class="problem" role="alert"' in response.text
