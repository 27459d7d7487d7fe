"""Failed-login throttling over HTTP: per user name and per client address, counted from the
audit log (so a restarted or second API process sees the same count), the same answer for
names that exist and names that don't, every refusal audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from temporalio.testing import WorkflowEnvironment

from careflow.api.app import create_app
from careflow.api.state import ApiState
from careflow.config import Settings
from careflow.console.audit import LOGIN_FAILED, add_audit_entry
from careflow.console.throttle import DEFAULT_LOGIN_ATTEMPTS, DEFAULT_LOGIN_WINDOW_SECONDS
from careflow.console.web import ConsoleSettings
from careflow.store import Database
from tests.console.conftest import PASSWORD, log_in
from tests.console.seed import Seeded
from tests.console.test_access import audit_rows

WINDOW = 600


@pytest.fixture
def limited_app(
    db: Database,
    workflow_env: WorkflowEnvironment,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> FastAPI:
    """The API app with at most 3 failed logins in 10 minutes, set through the environment."""
    monkeypatch.setenv("CAREFLOW_CONSOLE_LOGIN_ATTEMPTS", "3")
    monkeypatch.setenv("CAREFLOW_CONSOLE_LOGIN_WINDOW", str(WINDOW))
    return create_app(ApiState(db, workflow_env.client, settings.task_queue, settings.secret_key))


def client_from(app: FastAPI, address: str) -> httpx.AsyncClient:
    """A browser at `address` (the address the throttle counts by)."""
    transport = httpx.ASGITransport(app=app, client=(address, 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://careflow.test")


def test_defaults_without_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CAREFLOW_CONSOLE_LOGIN_ATTEMPTS", raising=False)
    monkeypatch.delenv("CAREFLOW_CONSOLE_LOGIN_WINDOW", raising=False)
    defaults = ConsoleSettings()
    assert defaults.console_login_attempts == DEFAULT_LOGIN_ATTEMPTS
    assert defaults.console_login_window == DEFAULT_LOGIN_WINDOW_SECONDS
    monkeypatch.setenv("CAREFLOW_CONSOLE_LOGIN_ATTEMPTS", "0")
    with pytest.raises(ValueError, match="console_login_attempts"):
        ConsoleSettings()


async def test_a_name_is_throttled_from_every_address_whether_it_exists_or_not(
    limited_app: FastAPI, db: Database, seeded: Seeded
) -> None:
    for name, address in (("ada", "10.0.0.1"), ("nobody", "10.0.0.2")):
        async with client_from(limited_app, address) as browser:
            for _ in range(3):
                assert (await log_in(browser, name, "not the password")).status_code == 401
    refused = {}
    async with client_from(limited_app, "10.0.0.3") as elsewhere:
        for name in ("ada", "nobody"):
            # Another address, and for ada the right password: still refused.
            response = await log_in(elsewhere, name, PASSWORD)
            assert response.status_code == 429, name
            assert 0 < int(response.headers["retry-after"]) <= WINDOW
            assert "Too many failed logins" in response.text
            refused[name] = response
    # Nothing tells an existing name from an unknown one: the same page but the name typed.
    assert refused["ada"].text.replace('value="ada"', 'value="nobody"') == refused["nobody"].text
    # Other names from other addresses are untouched.
    async with client_from(limited_app, "10.0.0.4") as other:
        assert (await log_in(other, "otto")).status_code == 303
    # The count is in the store: a restarted (or second) API process refuses too.
    restarted = create_app(limited_app.state.careflow)
    async with client_from(restarted, "10.0.0.9") as elsewhere:
        again = await log_in(elsewhere, "ada")
        assert again.status_code == 429
        assert "Retry-After" in again.headers
    throttled = await audit_rows(db, "login_throttled")
    assert sorted((row.actor, row.details["client"]) for row in throttled) == [
        ("ada", "10.0.0.3"),
        ("ada", "10.0.0.9"),
        ("nobody", "10.0.0.3"),
    ]
    # Throttled attempts were never checked, so they are not failures.
    assert len(await audit_rows(db, "login_failed")) == 6


async def test_an_address_is_throttled_for_every_name(limited_app: FastAPI, seeded: Seeded) -> None:
    async with client_from(limited_app, "10.0.0.1") as guesser:
        for name in ("ada", "otto", "someone"):
            assert (await log_in(guesser, name, "not the password")).status_code == 401
        # A fresh name, with its right password, from the same address.
        blocked = await log_in(guesser, "vera")
        assert blocked.status_code == 429
        assert "Retry-After" in blocked.headers
    # vera herself, from elsewhere, is not locked out by someone else's guessing.
    async with client_from(limited_app, "10.0.0.2") as other:
        assert (await log_in(other, "vera")).status_code == 303


async def test_failures_leave_the_window_and_a_login_starts_the_name_afresh(
    limited_app: FastAPI, db: Database, seeded: Seeded
) -> None:
    now = datetime.now(UTC)
    async with db.session() as session:
        for minutes in (11, 12, 13):  # older than the 10-minute window
            add_audit_entry(
                session,
                "ada",
                LOGIN_FAILED,
                details={"client": "10.0.0.1"},
                at=now - timedelta(minutes=minutes),
            )

    async def attempt(address: str, password: str) -> int:
        async with client_from(limited_app, address) as browser:
            return (await log_in(browser, "ada", password)).status_code

    assert await attempt("10.0.0.1", PASSWORD) == 303
    # Two failures, a login, two more: four in the window, but two since the login,
    # so a third is still checked (401, not 429)...
    assert [await attempt("10.0.0.2", "wrong password") for _ in range(2)] == [401, 401]
    assert await attempt("10.0.0.3", PASSWORD) == 303
    assert [await attempt("10.0.0.1", "wrong password") for _ in range(2)] == [401, 401]
    assert await attempt("10.0.0.4", "wrong password") == 401
    # ...and reaches the limit (no address has three).
    assert await attempt("10.0.0.5", PASSWORD) == 429


async def test_the_refusal_is_in_chinese_for_a_chinese_browser(
    limited_app: FastAPI, seeded: Seeded
) -> None:
    async with client_from(limited_app, "10.0.0.1") as browser:
        await browser.get("/console/login", params={"lang": "zh-CN"})
        for _ in range(3):
            await log_in(browser, "ada", "not the password")
        response = await log_in(browser, "ada")
    assert response.status_code == 429
    assert "登录失败次数过多" in response.text
