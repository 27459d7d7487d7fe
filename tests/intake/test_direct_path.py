"""The direct event path end to end: rules evaluated as the event is accepted, journeys
started by the accepting process, no workflow for an event on which no rule fires,
and the sweep that hands an event left unhandled (a crash) to its workflow.

Real parts: the store (SQLite and PostgreSQL), the shipped rule files, the Temporal
test server with careflow's worker, an SMTP server on loopback. Time skipping is off
while mail is awaited, as in test_event_to_email.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from careflow.activities.registry import build_direct_evaluation
from careflow.api.app import create_app
from careflow.api.state import ApiState
from careflow.config import Settings
from careflow.intake.direct import DirectEvaluation
from careflow.intake.events import EventIn, EventType, accept_event, store_event
from careflow.intake.sweep import EventSweeper
from careflow.outreach.mailer import SmtpDelivery
from careflow.pseudonyms import customer_pseudonym
from careflow.rule_references import build_references
from careflow.store import Database, Event, OutreachLedger
from careflow.worker import create_worker
from careflow.workflows.ids import complaint_workflow_id, event_workflow_id
from careflow.workflows.registry import JOURNEYS
from tests.smtp_sink import SmtpSink


def event(kind: EventType, customer: str, data: dict[str, object], event_id: str) -> EventIn:
    return EventIn(
        type=kind, customer_id=customer, occurred_at=datetime.now(UTC), data=data, event_id=event_id
    )


def direct_evaluation(db: Database, client: Client, settings: Settings) -> DirectEvaluation:
    return build_direct_evaluation(
        settings,
        db=db,
        client=client,
        journeys=JOURNEYS,
        references=build_references(settings),
    )


async def has_workflow(client: Client, workflow_id: str) -> bool:
    try:
        await client.get_workflow_handle(workflow_id).describe()
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True


async def handled_at(db: Database, event_id: str) -> datetime | None:
    async with db.session() as session:
        return await session.scalar(select(Event.handled_at).where(Event.event_id == event_id))


async def acks(db: Database) -> list[str]:
    async with db.session() as session:
        return list(
            await session.scalars(
                select(OutreachLedger.workflow_id).where(OutreachLedger.step_id == "ack")
            )
        )


async def test_direct_path_starts_the_journey_once_and_no_workflow_for_the_event(
    db: Database, workflow_env: WorkflowEnvironment, settings: Settings, smtp_sink: SmtpSink
) -> None:
    client = workflow_env.client
    queue = run = settings.task_queue
    direct = direct_evaluation(db, client, settings)
    delivery = SmtpDelivery(settings.smtp_target)
    journey = complaint_workflow_id(customer_pseudonym(settings.secret_key, "d-1"), f"k-{run}")
    with workflow_env.auto_time_skipping_disabled():
        async with create_worker(client, settings, db=db, delivery=delivery):
            profile = {"email": "d1@example.com", "locale": "en"}
            await accept_event(
                db, client, queue, event("customer_upserted", "d-1", profile, f"p-{run}")
            )
            complaint = event("complaint_opened", "d-1", {"complaint_id": f"k-{run}"}, f"c-{run}")
            accepted = await accept_event(db, client, queue, complaint, direct=direct)
            assert accepted.workflow_id is None
            assert accepted.dispatched is not None
            assert accepted.dispatched.started == [journey]
            assert await handled_at(db, f"c-{run}") is not None
            assert not await has_workflow(client, event_workflow_id(f"c-{run}"))
            await smtp_sink.wait_for(1)

            # The same event delivered again: handled already, nothing runs again.
            repeat = await accept_event(db, client, queue, complaint, direct=direct)
            assert (repeat.duplicate, repeat.workflow_id, repeat.dispatched) == (True, None, None)
            # Another event about the same complaint finds the journey running.
            again = event("complaint_opened", "d-1", {"complaint_id": f"k-{run}"}, f"a-{run}")
            second = await accept_event(db, client, queue, again, direct=direct)
            assert second.dispatched is not None
            assert (second.dispatched.started, second.dispatched.existing) == ([], [journey])
            # Marked on its own: no write of its carried the mark (nothing was recorded).
            assert await handled_at(db, f"a-{run}") is not None

            # An event on which no rule fires starts no workflow at all.
            consent = {"topic": "care", "granted": True}
            order = event("consent_changed", "d-1", consent, f"o-{run}")
            quiet = await accept_event(db, client, queue, order, direct=direct)
            assert quiet.dispatched is not None
            assert quiet.dispatched.not_acted_reason == "no rule fired"
            assert not await has_workflow(client, event_workflow_id(f"o-{run}"))
            assert await handled_at(db, f"o-{run}") is not None
    await delivery.close()
    assert await acks(db) == [journey]
    assert len(smtp_sink.messages) == 1


@pytest.mark.parametrize("crashed", ["before dispatch", "after dispatch"])
async def test_the_sweep_hands_an_event_left_unhandled_to_its_workflow(
    db: Database,
    workflow_env: WorkflowEnvironment,
    settings: Settings,
    smtp_sink: SmtpSink,
    crashed: str,
) -> None:
    client = workflow_env.client
    queue = run = settings.task_queue
    direct = direct_evaluation(db, client, settings)
    delivery = SmtpDelivery(settings.smtp_target)
    journey = complaint_workflow_id(customer_pseudonym(settings.secret_key, "d-2"), f"k-{run}")
    sweeper = EventSweeper(db, client, queue, after=timedelta(minutes=1))
    with workflow_env.auto_time_skipping_disabled():
        async with create_worker(client, settings, db=db, delivery=delivery):
            profile = {"email": "d2@example.com", "locale": "en"}
            await accept_event(
                db, client, queue, event("customer_upserted", "d-2", profile, f"p-{run}")
            )
            # The process stored the event and died before marking it handled: before
            # its rules ran at all, or after they ran and the journey started.
            complaint = event("complaint_opened", "d-2", {"complaint_id": f"k-{run}"}, f"c-{run}")
            recorded = await store_event(db, complaint, pending=True)
            if crashed == "after dispatch":
                done = await direct.handle(recorded.event_id, recorded.received_at)
                assert done.started == [journey]
            assert await handled_at(db, f"c-{run}") is None

            # Within the grace period the sweep leaves it to the direct path.
            assert await sweeper.run_once(recorded.received_at) == []
            later = recorded.received_at + timedelta(minutes=2)
            assert await sweeper.run_once(later) == [f"c-{run}"]
            result = await client.get_workflow_handle(event_workflow_id(f"c-{run}")).result()
            if crashed == "after dispatch":
                assert (result["started"], result["existing"]) == ([], [journey])
            else:
                assert result["started"] == [journey]
            assert await handled_at(db, f"c-{run}") is not None
            assert await sweeper.run_once(later) == []
            await smtp_sink.wait_for(1)
    await delivery.close()
    assert await acks(db) == [journey]
    assert len(smtp_sink.messages) == 1


async def test_a_repeat_of_an_unhandled_event_goes_to_its_workflow(
    db: Database, workflow_env: WorkflowEnvironment, settings: Settings, smtp_sink: SmtpSink
) -> None:
    client = workflow_env.client
    queue = run = settings.task_queue
    direct = direct_evaluation(db, client, settings)
    delivery = SmtpDelivery(settings.smtp_target)
    with workflow_env.auto_time_skipping_disabled():
        async with create_worker(client, settings, db=db, delivery=delivery):
            consent = {"topic": "care", "granted": True}
            order = event("consent_changed", "d-3", consent, f"o-{run}")
            await store_event(db, order, pending=True)
            repeat = await accept_event(db, client, queue, order, direct=direct)
            assert repeat.duplicate
            assert repeat.workflow_id == event_workflow_id(f"o-{run}")
            result = await client.get_workflow_handle(repeat.workflow_id).result()
            assert result["not_acted_reason"] == "no rule fired"
            assert await handled_at(db, f"o-{run}") is not None
    await delivery.close()


async def test_post_events_on_the_direct_path_names_the_journeys_it_started(
    db: Database, workflow_env: WorkflowEnvironment, settings: Settings
) -> None:
    client = workflow_env.client
    run = settings.task_queue
    direct = direct_evaluation(db, client, settings)
    app = create_app(ApiState(db, client, settings.task_queue, settings.secret_key, direct=direct))
    journey = complaint_workflow_id(customer_pseudonym(settings.secret_key, "d-4"), f"k-{run}")
    complaint = {
        "type": "complaint_opened",
        "customer_id": "d-4",
        "occurred_at": datetime.now(UTC).isoformat(),
        "data": {"complaint_id": f"k-{run}"},
        "event_id": f"c-{run}",
    }
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://careflow") as http:
        first = await http.post("/events", json=complaint)
        second = await http.post("/events", json=complaint)
    assert first.status_code == second.status_code == 202, first.text
    assert first.json() == {
        "event_id": f"c-{run}",
        "duplicate": False,
        "workflow_id": None,
        "started": [journey],
    }
    assert second.json()["duplicate"] is True
    assert second.json()["started"] == []
    # Nothing runs the journey here: it is only started.
    await client.get_workflow_handle(journey).terminate()
