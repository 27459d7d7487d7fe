"""`GET /ready` names the dependency that does not answer, within a bounded time;
`GET /health` stays up regardless. (Temporal stopped under a running careflow:
test_careflow_up_observed.py.)"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from careflow.api.app import create_app
from careflow.api.state import ApiState
from careflow.config import Settings
from careflow.store import Database, create_database
from tests.smtp_sink import free_port


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port that accepts connections and never says a word (a hung database)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    accepted: list[socket.socket] = []
    stopped = threading.Event()

    def accept() -> None:
        while not stopped.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield int(listener.getsockname()[1])
    stopped.set()
    listener.close()
    for connection in accepted:
        connection.close()


async def _ready(db: Database, env: WorkflowEnvironment, settings: Settings) -> httpx.Response:
    app = create_app(ApiState(db, env.client, settings.task_queue, settings.secret_key))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://careflow") as http:
        assert (await http.get("/health")).status_code == 200  # alive all the same
        return await http.get("/ready")


async def test_ready_when_store_and_temporal_answer(
    db: Database, workflow_env: WorkflowEnvironment, settings: Settings
) -> None:
    response = await _ready(db, workflow_env, settings)
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"store": "ok", "temporal": "ok"}}


@pytest.mark.parametrize("kind", ["refused", "hung"])
async def test_an_unreachable_store_is_named(
    kind: str, workflow_env: WorkflowEnvironment, settings: Settings, silent_server: int
) -> None:
    port = free_port() if kind == "refused" else silent_server
    db = create_database(f"postgresql+asyncpg://postgres@127.0.0.1:{port}/test")
    try:
        response = await _ready(db, workflow_env, settings)
    finally:
        await db.dispose()
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"] == {"store": "unavailable", "temporal": "ok"}
    if kind == "hung":
        # Bounded: the probe gave up instead of waiting for the driver's own timeout.
        assert body["problems"]["store"] == "no answer within 2 s"
    else:
        assert body["problems"]["store"].startswith("ConnectionRefusedError")


async def test_probes_need_no_token(
    db: Database, workflow_env: WorkflowEnvironment, settings: Settings
) -> None:
    """Orchestrators and Prometheus call these without the staff token; neither
    answer carries personal data."""
    state = ApiState(
        db, workflow_env.client, settings.task_queue, settings.secret_key, api_token="t0ken"
    )
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://careflow") as http:
        assert (await http.get("/ready")).status_code == 200
        assert (await http.get("/metrics")).status_code == 200
        assert (await http.get("/tasks")).status_code == 401
