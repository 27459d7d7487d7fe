"""Idempotency keys identify the same request, not the same token or id: a different
body under a known `event_id` is refused, an unsubscribe link withdraws a consent
granted again after it was first used, and a survey is answered once, however many
links to it there are and whichever way the answer arrives. An answer that arrives
through `POST /events` reaches the running journey that asked, as the page's does."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from itsdangerous.timed import TimestampSigner
from sqlalchemy import func, select
from temporalio import workflow
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from careflow.api.app import create_app
from careflow.api.state import ApiState
from careflow.config import Settings
from careflow.intake.apply import set_consent, upsert_customer
from careflow.intake.events import EventIdConflict, EventIn, record_event
from careflow.intake.importer import ImportRejected, import_file
from careflow.intake.records import ConsentFields, CustomerFields
from careflow.outreach.links import survey_token, unsubscribe_token
from careflow.store import Consent, Database, Event, JourneyRecord, SurveyResponse

NOW = "2026-11-23T09:30:00+08:00"


@pytest.fixture
async def api(
    db: Database, workflow_env: WorkflowEnvironment, settings: Settings
) -> AsyncIterator[httpx.AsyncClient]:
    now = datetime.now(UTC)
    async with db.session() as session:
        customer, _ = await upsert_customer(
            session, "c-1", CustomerFields(email="li@example.com", locale="en"), now
        )
        await set_consent(session, customer, ConsentFields(topic="marketing", granted=True), now)
    app = create_app(ApiState(db, workflow_env.client, settings.task_queue, settings.secret_key))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://careflow") as client:
        yield client


async def test_a_different_body_under_a_known_event_id_is_refused(
    api: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    event = {
        "type": "order_placed",
        "customer_id": "c-1",
        "occurred_at": NOW,
        "data": {"order_id": "o-1", "amount": "10.50"},
        "event_id": f"e-{settings.task_queue}",
    }
    assert (await api.post("/events", json=event)).json()["duplicate"] is False
    assert (await api.post("/events", json=event)).json()["duplicate"] is True
    for changed in (
        {**event, "data": {"order_id": "o-2", "amount": "99"}},
        {**event, "occurred_at": "2026-11-23T10:30:00+08:00"},
        {**event, "customer_id": "c-2"},
    ):
        refused = await api.post("/events", json=changed)
        assert refused.status_code == 409, refused.text
        assert refused.json()["detail"][0]["loc"] == ["body", "event_id"]
        assert "already used for a different event" in refused.json()["detail"][0]["msg"]
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(Event)) == 1


async def _marketing_consent(db: Database) -> bool:
    async with db.session() as session:
        granted = await session.scalar(select(Consent.granted).where(Consent.topic == "marketing"))
    assert granted is not None
    return granted


async def test_the_same_unsubscribe_link_withdraws_a_consent_granted_again(
    api: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    token = unsubscribe_token(settings.secret_key, "c-1", "marketing")
    assert (await api.post(f"/unsubscribe/{token}")).status_code == 200
    assert await _marketing_consent(db) is False
    assert (await api.post(f"/unsubscribe/{token}")).status_code == 200  # a double click
    # The customer asks an operator to subscribe them again, then uses the old link.
    async with db.session() as session:
        customer, _ = await upsert_customer(session, "c-1", CustomerFields(), datetime.now(UTC))
        await set_consent(
            session,
            customer,
            ConsentFields(topic="marketing", granted=True, source="console:ops"),
            datetime.now(UTC) + timedelta(seconds=1),
        )
    assert await _marketing_consent(db) is True
    page = await api.post(f"/unsubscribe/{token}")
    assert "You are unsubscribed" in page.text
    assert await _marketing_consent(db) is False, "the page said unsubscribed, nothing changed"
    async with db.session() as session:
        opt_outs = await session.scalar(
            select(func.count()).select_from(Event).where(Event.type == "consent_changed")
        )
    assert opt_outs == 2


@workflow.defn(name="SurveyAnswerProbe")
class SurveyAnswerProbe:
    """Stands in for a journey waiting for its survey's answer."""

    def __init__(self) -> None:
        self.score: int | None = None

    @workflow.run
    async def run(self) -> int | None:
        await workflow.wait_condition(lambda: self.score is not None)
        return self.score

    @workflow.signal(name="survey_answered")
    def survey_answered(self, score: int | None = None) -> None:
        self.score = score


async def _waiting_survey(
    db: Database, env: WorkflowEnvironment, queue: str, workflow_id: str
) -> None:
    await env.client.start_workflow(SurveyAnswerProbe.run, id=workflow_id, task_queue=queue)
    async with db.session() as session:
        customer, _ = await upsert_customer(session, "c-1", CustomerFields(), datetime.now(UTC))
        session.add(
            JourneyRecord(
                workflow_id=workflow_id,
                journey="satisfaction_survey",
                customer_id=customer.id,
                rule_id="after-purchase",
                ruleset_hash="0" * 64,
                status="running",
                started_at=datetime.now(UTC),
            )
        )


async def test_an_answer_posted_as_an_event_reaches_the_waiting_journey_once(
    api: httpx.AsyncClient, db: Database, workflow_env: WorkflowEnvironment, settings: Settings
) -> None:
    queue = settings.task_queue
    workflow_id = f"survey-probe-{queue}"
    # The probe is defined next to the test (which imports the API): outside the sandbox.
    async with Worker(
        workflow_env.client,
        task_queue=queue,
        workflows=[SurveyAnswerProbe],
        workflow_runner=UnsandboxedWorkflowRunner(),
    ):
        await _waiting_survey(db, workflow_env, queue, workflow_id)
        answer = {
            "type": "survey_answered",
            "customer_id": "c-1",
            "occurred_at": NOW,
            "data": {"score": 2, "workflow_id": workflow_id},
            "event_id": f"answer-{queue}",
        }
        assert (await api.post("/events", json=answer)).status_code == 202
        assert await workflow_env.client.get_workflow_handle(workflow_id).result() == 2
    second = {
        **answer,
        "event_id": f"answer-2-{queue}",
        "data": {"score": 5, "workflow_id": workflow_id},
    }
    refused = await api.post("/events", json=second)
    assert refused.status_code == 409
    assert refused.json()["detail"][0]["loc"] == ["body", "data", "workflow_id"]
    # A survey link for the same journey shows the answer recorded, and records nothing.
    token = survey_token(settings.secret_key, workflow_id, "c-1")
    page = await api.post(f"/survey/{token}", data={"score": "4"})
    assert "already answered (2 of 5)" in page.text
    async with db.session() as session:
        assert list(await session.scalars(select(SurveyResponse.score))) == [2]


async def test_two_links_to_one_survey_record_one_answer(
    api: httpx.AsyncClient, db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    workflow_id = f"satisfaction_survey-c%2D1-{settings.task_queue}"
    second = survey_token(settings.secret_key, workflow_id, "c-1")
    # The first email's link was signed a day before the reminder's.
    day_before = int(time.time()) - 86_400
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda _self: day_before)
    first = survey_token(settings.secret_key, workflow_id, "c-1")
    monkeypatch.undo()
    assert first != second
    assert (await api.post(f"/survey/{first}", data={"score": "1"})).status_code == 200
    again = await api.post(f"/survey/{second}", data={"score": "5"})
    assert "already answered (1 of 5)" in again.text
    async with db.session() as session:
        assert list(await session.scalars(select(SurveyResponse.score))) == [1]


async def test_an_imported_answer_never_answers_a_survey_twice(
    api: httpx.AsyncClient, db: Database, settings: Settings, tmp_path: Path
) -> None:
    workflow_id = f"satisfaction_survey-c%2D1-{settings.task_queue}"
    token = survey_token(settings.secret_key, workflow_id, "c-1")
    assert (await api.post(f"/survey/{token}", data={"score": "3"})).status_code == 200
    surveys = tmp_path / "surveys.csv"
    surveys.write_text(
        "customer_id,answered_at,score,workflow_id\n"
        f"c-1,2026-11-20T10:00:00+00:00,5,{workflow_id}\n"
        "c-1,2026-11-21T10:00:00+00:00,4,w-other\n"
        "c-1,2026-11-22T10:00:00+00:00,1,w-other\n",
        encoding="utf-8",
    )
    with pytest.raises(ImportRejected) as rejected:
        await import_file(db, surveys, "surveys")
    assert [(problem.row, problem.field) for problem in rejected.value.problems] == [
        (2, "workflow_id"),
        (4, "workflow_id"),
    ]
    assert "was already answered (score 3)" in rejected.value.problems[0].message
    assert "is answered on row 3 already" in rejected.value.problems[1].message
    report = await import_file(db, surveys, "surveys", skip_invalid=True)
    assert report.imported == 1
    async with db.session() as session:
        answers = (
            await session.execute(
                select(SurveyResponse.workflow_id, SurveyResponse.score).order_by(SurveyResponse.id)
            )
        ).all()
    assert [tuple(answer) for answer in answers] == [(workflow_id, 3), ("w-other", 4)]


async def test_concurrent_repeats_are_one_event(db: Database) -> None:
    """Repeats racing each other: one is recorded, the others are told they are
    duplicates (a lost race is checked again, not guessed)."""
    order = EventIn(
        type="order_placed",
        customer_id="c-race",
        occurred_at=datetime(2026, 11, 23, tzinfo=UTC),
        data={"order_id": "o-race", "amount": "10"},
        event_id="e-race",
    )
    outcomes = await asyncio.gather(*(record_event(db, order) for _ in range(4)))
    assert sorted(duplicate for _, duplicate in outcomes) == [False, True, True, True]
    with pytest.raises(EventIdConflict):
        await record_event(db, order.model_copy(update={"data": {"order_id": "o", "amount": "9"}}))
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(Event)) == 1
