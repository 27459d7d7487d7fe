"""Fixtures of the console tests: a seeded store, one user per role, logged-in clients."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from temporalio.testing import WorkflowEnvironment

from careflow.api.app import create_app
from careflow.api.state import ApiState
from careflow.config import Settings
from careflow.console.roles import Role
from careflow.console.users import add_user
from careflow.store import Database
from tests.console.seed import Seeded, seed_store

PASSWORD = "correct horse battery staple"
USERS = {"ada": Role.ADMIN, "otto": Role.OPERATOR, "vera": Role.VIEWER}
CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture
async def seeded(db: Database) -> Seeded:
    """The sample history of tests/console/seed.py and one user per role."""
    result = await seed_store(db)
    for name, role in USERS.items():
        await add_user(db, name, role, PASSWORD, actor="test")
    return result


@pytest.fixture
def console_app(db: Database, workflow_env: WorkflowEnvironment, settings: Settings) -> FastAPI:
    """The whole API app (console mounted) on the test's store and Temporal test server."""
    return create_app(ApiState(db, workflow_env.client, settings.task_queue, settings.secret_key))


@pytest.fixture
async def anonymous(console_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client that has not logged in (it follows no redirects)."""
    transport = httpx.ASGITransport(app=console_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://careflow.test") as client:
        yield client


async def csrf_token(client: httpx.AsyncClient, page: str = "/console/login") -> str:
    """The CSRF token of the client's session, read from a form on `page`."""
    response = await client.get(page)
    found = CSRF_FIELD.search(response.text)
    assert found, f"no CSRF field on {page} ({response.status_code})"
    return found.group(1)


async def log_in(client: httpx.AsyncClient, name: str, password: str = PASSWORD) -> httpx.Response:
    """Log in through the form, as a browser does."""
    token = await csrf_token(client)
    return await client.post(
        "/console/login", data={"name": name, "password": password, "csrf": token, "next": ""}
    )


@pytest.fixture
async def logged_in(
    console_app: FastAPI, seeded: Seeded
) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    """One logged-in client per role name of USERS."""
    clients: dict[str, httpx.AsyncClient] = {}
    try:
        for name in USERS:
            client = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=console_app), base_url="http://careflow.test"
            )
            clients[name] = client
            response = await log_in(client, name)
            assert response.status_code == 303, response.text
        yield clients
    finally:
        for client in clients.values():
            await client.aclose()
