"""The only pages reachable without logging in: one-click unsubscribe and the survey."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import func, select
from temporalio.testing import WorkflowEnvironment

from careflow.api.app import create_app
from careflow.api.state import ApiState
from careflow.config import Settings
from careflow.intake.apply import set_consent, upsert_customer
from careflow.intake.records import ConsentFields, CustomerFields
from careflow.outreach.links import survey_token, unsubscribe_token
from careflow.store import Consent, Database, SurveyResponse


@pytest.fixture
async def api(
    db: Database, workflow_env: WorkflowEnvironment, settings: Settings
) -> AsyncIterator[httpx.AsyncClient]:
    now = datetime.now(UTC)
    async with db.session() as session:
        customer, _ = await upsert_customer(
            session, "c-1", CustomerFields(email="li@example.com", locale="zh-CN"), now
        )
        await set_consent(session, customer, ConsentFields(topic="marketing", granted=True), now)
    app = create_app(ApiState(db, workflow_env.client, settings.task_queue, settings.secret_key))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://careflow") as client:
        yield client


async def marketing_consent(db: Database) -> bool:
    async with db.session() as session:
        granted = await session.scalar(select(Consent.granted).where(Consent.topic == "marketing"))
    assert granted is not None
    return granted


async def test_get_only_asks_and_one_click_post_unsubscribes(
    api: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    token = unsubscribe_token(settings.secret_key, "c-1", "marketing")
    page = await api.get(f"/unsubscribe/{token}")
    assert page.status_code == 200
    assert "退订" in page.text  # the customer's own language
    assert await marketing_consent(db) is True, "a GET (e.g. a link scanner) changes nothing"

    # A mail client's RFC 8058 one-click request.
    done = await api.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200
    assert await marketing_consent(db) is False
    again = await api.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})
    assert again.status_code == 200


async def test_forged_or_foreign_tokens_are_refused(
    api: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    forged = unsubscribe_token("not-the-secret", "c-1", "marketing")
    assert (await api.post(f"/unsubscribe/{forged}")).status_code == 400
    survey_as_unsubscribe = survey_token(settings.secret_key, "journey-1", "c-1")
    assert (await api.post(f"/unsubscribe/{survey_as_unsubscribe}")).status_code == 400
    assert await marketing_consent(db) is True


async def test_survey_answer_is_recorded_once(
    api: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    token = survey_token(settings.secret_key, "survey-c-1-x", "c-1")
    form = await api.get(f"/survey/{token}")
    assert form.status_code == 200
    assert 'name="score"' in form.text
    assert (await api.post(f"/survey/{token}", data={"score": "2"})).status_code == 200
    assert (await api.post(f"/survey/{token}", data={"score": "5"})).status_code == 200
    assert (await api.post(f"/survey/{token}", data={"score": "9"})).status_code == 422
    async with db.session() as session:
        scores = list(await session.scalars(select(SurveyResponse.score)))
        count = await session.scalar(select(func.count()).select_from(SurveyResponse))
    assert (scores, count) == ([2], 1)
