"""The HTTP API over a real SQLite store and the test server, with two customers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from careflow.api.app import create_app
from careflow.api.state import ApiState
from careflow.config import Settings
from careflow.intake.apply import find_customer, set_consent, upsert_customer
from careflow.intake.records import ConsentFields, CustomerFields
from careflow.store import Consent, Database

CUSTOMERS = ("c-1", "c-2")
# What is checked here does not depend on the database: SQLite is enough.
ON_SQLITE = pytest.mark.parametrize("db", ["sqlite"], indirect=True)
ApiFactory = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
async def customers(db: Database) -> tuple[str, ...]:
    """Two customers who both agreed to marketing email."""
    now = datetime.now(UTC)
    async with db.session() as session:
        for external_id in CUSTOMERS:
            customer, _ = await upsert_customer(
                session, external_id, CustomerFields(email=f"{external_id}@example.com"), now
            )
            await set_consent(
                session, customer, ConsentFields(topic="marketing", granted=True), now
            )
    return CUSTOMERS


@pytest.fixture
def api(db: Database, workflow_env: WorkflowEnvironment, settings: Settings) -> ApiFactory:
    """`async with api(api_token=...) as http:` an HTTP client of the app, in process."""

    @asynccontextmanager
    async def client(*, api_token: str | None = None) -> AsyncIterator[httpx.AsyncClient]:
        state = ApiState(
            db, workflow_env.client, settings.task_queue, settings.secret_key, api_token=api_token
        )
        transport = httpx.ASGITransport(app=create_app(state))
        async with httpx.AsyncClient(transport=transport, base_url="http://careflow") as http:
            yield http

    return client


async def marketing_consent(db: Database, external_id: str) -> bool:
    async with db.session() as session:
        customer = await find_customer(session, external_id)
        assert customer is not None
        granted = await session.scalar(
            select(Consent.granted).where(
                Consent.customer_id == customer.id, Consent.topic == "marketing"
            )
        )
    assert granted is not None
    return granted
