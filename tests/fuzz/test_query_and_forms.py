"""Every query parameter, path parameter and console form fuzzed: no server errors.

The schema-driven fuzz (test_api_schema.py) covers JSON bodies; this one covers what
it cannot see. For every GET route of the app, the API's and the console's pages
alike (read from the app, so a new page is fuzzed without editing this file), each
query parameter it declares, and a few it does not, gets a value from `NASTY`: dates
off the calendar or at its edges, numbers that do not fit, `NaN`, percent-encoded
bytes that are not UTF-8 or are lone surrogates, blanks, and arbitrary text. Every
console form (POST route) is sent with such values in its fields and a valid CSRF
token, as a logged-in admin would. The answer must never be a 5xx.

The run is bounded (a fixed number of examples each) so it fits CI.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import quote, unquote

import fastapi.routing
import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from temporalio.testing import WorkflowEnvironment

from careflow.api.app import create_app
from careflow.api.state import ApiState
from careflow.config import Settings
from careflow.console.roles import Role
from careflow.console.users import add_user
from careflow.store import Database
from tests.console.seed import seed_store

EXAMPLES = 120
PASSWORD = "correct horse battery staple"
CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')

# Values as they appear in a URL or form, already percent-encoded.
EDGE_VALUES = [
    "0001-01-01",
    "0001-01-01T00:00:00%2B01:00",
    "9999-12-31",
    "9999-12-31T23:59:59-01:00",
    "1899-12-31",
    "2200-12-31T23:59:59-05:00",
    "-1",
    "0",
    "1e400",
    "NaN",
    "Infinity",
    "-Infinity",
    "99999999999999999999999999",
    "true",
    "",
    "%20%20",
    "%ED%A0%80",  # a lone surrogate, UTF-8 encoded the way Python's "surrogatepass" would
    "%FF%FE",  # not UTF-8 at all
    "%E2%80%AE",  # right-to-left override
    "x" * 5000,
]
NASTY = st.sampled_from(EDGE_VALUES) | st.text(max_size=40).map(lambda text: quote(text, safe=""))
EXTRA_NAMES = ["lang", "done", "next", "limit", "q", "since", "until", "days", "at"]
# Fields of the console's forms (their handlers read these names).
FORM_FIELDS = [
    "name",
    "password",
    "role",
    "next",
    "workflow_id",
    "customer_id",
    "channel",
    "topic",
    "granted",
    "note",
]
# Ends the fuzzing client's own session: every later example would only see the login.
NOT_FUZZED = {"/console/logout"}


@dataclass(frozen=True)
class Route:
    path: str
    query_names: list[str]


def routes(app: FastAPI, method: str) -> list[Route]:
    """The app's routes for `method` with their query parameters, included routers
    flattened (FastAPI 0.13x+ keeps included routers; older releases copied routes)."""
    flatten = getattr(fastapi.routing, "iter_route_contexts", None)
    found = []
    for context in flatten(app.routes) if flatten else app.routes:
        route = getattr(context, "original_route", context)
        path, methods = getattr(context, "path", None), getattr(context, "methods", None) or set()
        if isinstance(route, APIRoute) and path and method in methods and path not in NOT_FUZZED:
            found.append(Route(path, [param.alias for param in route.dependant.query_params]))
    return found


def fill_path(route: Route, values: list[str]) -> str:
    """The route's path with each `{parameter}` replaced by one of `values` in turn."""
    supply = iter(values)
    return re.sub(r"\{[^}]+\}", lambda _: next(supply, "c-alice") or "c-alice", route.path)


@pytest.fixture
async def admin(
    db: Database, workflow_env: WorkflowEnvironment, settings: Settings
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The whole app on a seeded store and a client logged in to the console as an admin."""
    await seed_store(db)
    await add_user(db, "ada", Role.ADMIN, PASSWORD, actor="test")
    await add_user(db, "otto", Role.OPERATOR, PASSWORD, actor="test")
    app = create_app(ApiState(db, workflow_env.client, settings.task_queue, settings.secret_key))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://careflow.test") as client:
        token = await _csrf(client, "/console/login")
        response = await client.post(
            "/console/login", data={"name": "ada", "password": PASSWORD, "csrf": token}
        )
        assert response.status_code == 303, response.text
        yield app, client


async def _csrf(client: httpx.AsyncClient, page: str) -> str:
    found = CSRF_FIELD.search((await client.get(page)).text)
    assert found, page
    return found.group(1)


def _fuzz_settings() -> settings:
    return settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
        ],
    )


@pytest.mark.timeout(300)
def test_query_and_path_parameters_never_reach_a_server_error(
    admin: tuple[FastAPI, httpx.AsyncClient], loop: asyncio.AbstractEventLoop
) -> None:
    app, client = admin
    pages = routes(app, "GET")
    # The enumeration must find the API's and the console's pages.
    paths = {route.path for route in pages}
    assert {"/kpis", "/tasks", "/console/", "/console/customers/{customer_id}/explain"} <= paths

    @_fuzz_settings()
    @given(data=st.data())
    def fuzz(data: st.DataObject) -> None:
        route = data.draw(st.sampled_from(pages), label="route")
        declared = route.query_names
        names = data.draw(
            st.lists(st.sampled_from(declared + EXTRA_NAMES), max_size=4, unique=True),
            label="parameters",
        )
        query = "&".join(f"{name}={data.draw(NASTY, label=name)}" for name in names)
        path = fill_path(route, data.draw(st.lists(NASTY, max_size=3), label="path"))
        url = f"{path}?{query}" if query else path
        response = loop.run_until_complete(client.get(url))
        assert response.status_code < 500, f"GET {url} -> {response.status_code}"
        answered.add(response.status_code)

    answered: set[int] = set()
    fuzz()
    # Pages were shown and inputs refused, not all turned away at the door.
    assert 200 in answered, answered
    assert answered & {400, 404, 422}, answered


@pytest.mark.timeout(300)
def test_console_forms_never_reach_a_server_error(
    admin: tuple[FastAPI, httpx.AsyncClient], loop: asyncio.AbstractEventLoop
) -> None:
    app, client = admin
    forms = [route for route in routes(app, "POST") if route.path.startswith("/console/")]
    assert {"/console/login", "/console/users", "/console/journeys/cancel"} <= {
        route.path for route in forms
    }
    token = loop.run_until_complete(_csrf(client, "/console/users"))
    text_values = st.sampled_from(EDGE_VALUES).map(_decoded) | st.text(max_size=60)

    @_fuzz_settings()
    @given(data=st.data())
    def fuzz(data: st.DataObject) -> None:
        route = data.draw(st.sampled_from(forms), label="form")
        fields = data.draw(
            st.dictionaries(st.sampled_from(FORM_FIELDS), text_values, max_size=6),
            label="fields",
        )
        if route.path == "/console/login":
            # Logging in as someone else would change whose session the client holds.
            fields["name"] = "nobody-" + fields.get("name", "")[:20]
        path = fill_path(route, data.draw(st.lists(NASTY, max_size=2), label="path"))
        body = {**fields, "csrf": token}
        response = loop.run_until_complete(client.post(path, data=body))
        assert response.status_code < 500, f"POST {path} {body!r} -> {response.status_code}"
        answered.add(response.status_code)

    answered: set[int] = set()
    fuzz()
    # The forms' handlers ran (the token was accepted) and refused what was wrong.
    assert answered & {400, 404}, answered
    assert 403 not in answered, answered


def _decoded(value: str) -> str:
    """A URL value as the text a form field would carry (undecodable bytes replaced)."""
    return unquote(value, errors="replace")
