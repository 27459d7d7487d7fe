"""`POST /events` and `GET /customers/{id}` over HTTP (ASGI), with the real store and Temporal."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import func, select
from temporalio.testing import WorkflowEnvironment

from careflow.api.app import create_app
from careflow.api.state import ApiState
from careflow.config import Settings
from careflow.store import Complaint, Database, Event

NOW = "2026-11-23T09:30:00+08:00"


@pytest.fixture
async def api(
    db: Database, workflow_env: WorkflowEnvironment, settings: Settings
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(ApiState(db, workflow_env.client, settings.task_queue, settings.secret_key))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://careflow") as client:
        yield client


async def test_customer_upsert_then_read_back(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/events",
        json={
            "type": "customer_upserted",
            "customer_id": "c-100",
            "occurred_at": NOW,
            "data": {
                "name": "王芳",
                "email": "wang@example.com",
                "locale": "zh-CN",
                "timezone": "Asia/Shanghai",
                "birthday": "1992-02-29",
            },
        },
    )
    assert response.status_code == 202, response.text
    customer = (await api.get("/customers/c-100")).json()
    assert (customer["name"], customer["locale"], customer["birthday"]) == (
        "王芳",
        "zh-CN",
        "1992-02-29",
    )
    assert (await api.get("/customers/nobody")).status_code == 404


async def test_repeated_event_id_is_accepted_once(
    api: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    event_id = f"evt-{settings.task_queue}"  # workflow ids outlive a test on the server
    event = {
        "type": "complaint_opened",
        "customer_id": "c-200",
        "occurred_at": NOW,
        "data": {"complaint_id": "k-1", "severity": "high", "subject": "Broken"},
        "event_id": event_id,
    }
    first = (await api.post("/events", json=event)).json()
    second = (await api.post("/events", json=event)).json()
    assert (first["duplicate"], second["duplicate"]) == (False, True)
    assert first["workflow_id"] == second["workflow_id"] == f"event-{event_id}"
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(Event)) == 1
        assert await session.scalar(select(func.count()).select_from(Complaint)) == 1


@pytest.mark.parametrize(
    ("body", "where", "words"),
    [
        (
            {"type": "order_placed", "customer_id": "c", "occurred_at": NOW, "data": {}},
            ["body", "data", "order_id"],
            "Field required",
        ),
        (
            {
                "type": "complaint_opened",
                "customer_id": "c",
                "occurred_at": NOW,
                "data": {"complaint_id": "k", "severity": "urgent"},
            },
            ["body", "data", "severity"],
            "'low', 'medium', 'high' or 'critical'",
        ),
        (
            {
                "type": "order_placed",
                "customer_id": "c",
                "occurred_at": "2026-11-23T09:30:00",
                "data": {"order_id": "o", "amount": 1},
            },
            ["body", "occurred_at"],
            "UTC offset",
        ),
        (
            {"type": "birthday", "customer_id": "c", "occurred_at": NOW},
            ["body", "type"],
            "customer_upserted",
        ),
    ],
)
async def test_bad_bodies_name_the_field_and_store_nothing(
    api: httpx.AsyncClient, db: Database, body: dict[str, object], where: list[str], words: str
) -> None:
    response = await api.post("/events", json=body)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert any(d["loc"] == where and words in d["msg"] for d in detail), detail
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(Event)) == 0


async def test_openapi_document_is_served(api: httpx.AsyncClient) -> None:
    document = (await api.get("/openapi.json")).json()
    assert "/events" in document["paths"]
    assert "/customers/{customer_id}" in document["paths"]
