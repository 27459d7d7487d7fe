"""`X-Forwarded-For` counts for the per-address login limit only from trusted proxies.

The API is served by uvicorn on loopback exactly as `careflow up` serves it (the same
config), and a password guesser on 127.0.0.1 puts a new `X-Forwarded-For` on every
attempt: with no trusted proxies (the default) the header is ignored and the guesser
is refused after the limit; with `CAREFLOW_TRUSTED_PROXIES=127.0.0.1` (a proxy on the
same host) the forwarded address is the client's, and only its own failures count.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
import uvicorn
from temporalio.testing import WorkflowEnvironment

from careflow.api.addresses import TrustedProxies, TrustedProxyError
from careflow.api.app import create_app
from careflow.api.state import ApiState
from careflow.config import Settings
from careflow.runtime.api_service import api_server_config
from careflow.store import Database
from tests.console.seed import Seeded

CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')
Serve = Callable[[str], Awaitable[str]]


@pytest.fixture
async def served(
    db: Database,
    workflow_env: WorkflowEnvironment,
    settings: Settings,
    seeded: Seeded,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Serve]:
    """Serve the API on a free loopback port with a limit of 3 failed logins."""
    monkeypatch.setenv("CAREFLOW_CONSOLE_LOGIN_ATTEMPTS", "3")
    servers: list[tuple[uvicorn.Server, asyncio.Task[None]]] = []

    async def start(trusted: str) -> str:
        monkeypatch.setenv("CAREFLOW_TRUSTED_PROXIES", trusted)
        app = create_app(
            ApiState(db, workflow_env.client, settings.task_queue, settings.secret_key)
        )
        server = uvicorn.Server(api_server_config(app, "127.0.0.1", 0))
        server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        task = asyncio.create_task(server.serve())
        servers.append((server, task))
        while not server.started:
            assert not task.done(), "the API did not start"
            await asyncio.sleep(0.02)
        port = server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    yield start
    for server, task in servers:
        server.should_exit = True
        await task


async def attempt(base: str, forwarded_for: str) -> int:
    """One login as ada from a fresh browser, claiming `forwarded_for`."""
    headers = {"X-Forwarded-For": forwarded_for}
    async with httpx.AsyncClient(base_url=base, headers=headers) as browser:
        form = await browser.get("/console/login")
        token = CSRF_FIELD.search(form.text)
        assert token, form.text
        # Different names, so only the per-address count can refuse.
        response = await browser.post(
            "/console/login",
            data={
                "name": f"ada{forwarded_for[-1]}",
                "password": "not the password",
                "csrf": token[1],
            },
        )
        return response.status_code


async def test_without_trusted_proxies_a_forged_header_does_not_escape_the_limit(
    served: Serve,
) -> None:
    base = await served("")
    for hop in ("203.0.113.1", "203.0.113.2", "203.0.113.3"):
        assert await attempt(base, hop) == 401
    # A fourth "address" is still 127.0.0.1, which has used up its attempts.
    assert await attempt(base, "203.0.113.4") == 429


async def test_behind_a_trusted_proxy_the_forwarded_address_is_the_client(
    served: Serve,
) -> None:
    base = await served("127.0.0.1")
    for _ in range(3):
        assert await attempt(base, "203.0.113.1") == 401
    assert await attempt(base, "203.0.113.1") == 429
    # Another client behind the same proxy is not held back by the first one's failures,
    assert await attempt(base, "203.0.113.2") == 401
    # and one that writes a fake address before the proxy's entry is known by the real one.
    assert await attempt(base, "198.51.100.7, 203.0.113.1") == 429


def test_the_setting_is_checked_and_read_from_the_right() -> None:
    proxies = TrustedProxies.parse(" 10.0.0.0/8, ::1 ,192.168.1.5")
    assert proxies.client_of("10.1.2.3", ["198.51.100.7, 203.0.113.9, 10.0.0.2"]) == "203.0.113.9"
    assert proxies.client_of("203.0.113.50", ["198.51.100.7"]) == "203.0.113.50"
    assert proxies.client_of("::1", []) == "::1"
    assert proxies.client_of("10.0.0.1", ["10.0.0.2", "garbage"]) == "garbage"
    assert TrustedProxies.parse("").client_of("127.0.0.1", ["1.2.3.4"]) == "127.0.0.1"
    with pytest.raises(TrustedProxyError, match="'localhost' is not an IP address"):
        TrustedProxies.parse("127.0.0.1, localhost")
