"""The first slice end to end: a complaint event -> rule -> journey -> acknowledgement email.

Real parts throughout: the store (SQLite and PostgreSQL), the shipped rule files,
the Temporal test server with careflow's worker, and an SMTP server on loopback.
Time skipping is off here: skipping ahead would run the journey's SLA timers while
the test waits for mail.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

from sqlalchemy import select
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from careflow.config import Settings
from careflow.intake.events import EventIn, EventType, accept_event
from careflow.outreach.mailer import SmtpDelivery
from careflow.pseudonyms import customer_pseudonym
from careflow.store import Database, OutreachLedger, RuleDecision
from careflow.worker import create_worker
from careflow.workflows.ids import complaint_workflow_id
from tests.smtp_sink import SmtpSink
from tests.workflows.harness import save_history


def event(kind: EventType, customer: str, data: dict[str, object], event_id: str) -> EventIn:
    return EventIn(
        type=kind, customer_id=customer, occurred_at=datetime.now(UTC), data=data, event_id=event_id
    )


LI_WEI = {
    "name": "李伟",
    "email": "li.wei@example.com",
    "locale": "zh-CN",
    "timezone": "Asia/Shanghai",
}


async def acknowledge_and_resolve(
    db: Database, client: Client, settings: Settings, sink: SmtpSink
) -> list[EmailMessage]:
    delivery = SmtpDelivery(settings.smtp_target)
    queue = settings.task_queue
    # Workflow ids derive from business ids, and the test server lives for the whole
    # session: every test uses ids of its own.
    run = queue
    async with create_worker(client, settings, db=db, delivery=delivery):
        await accept_event(
            db, client, queue, event("customer_upserted", "c-1", LI_WEI, f"e-1-{run}")
        )
        complaint = event(
            "complaint_opened",
            "c-1",
            {"complaint_id": f"k-9-{run}", "severity": "high", "subject": "包裹破损"},
            f"e-2-{run}",
        )
        accepted = await accept_event(db, client, queue, complaint)
        await client.get_workflow_handle(accepted.workflow_id).result()
        await save_history(
            client.get_workflow_handle(accepted.workflow_id), "customer_event_complaint_opened"
        )
        # The same event again, and a second event for the same complaint: no new journey.
        await accept_event(db, client, queue, complaint)
        again = event("complaint_opened", "c-1", {"complaint_id": f"k-9-{run}"}, f"e-3-{run}")
        repeat = await accept_event(db, client, queue, again)
        repeat_result = await client.get_workflow_handle(repeat.workflow_id).result()
        # Journey ids name the customer by a keyed pseudonym, never by the raw id.
        customer = customer_pseudonym(settings.secret_key, "c-1")
        assert repeat_result["existing"] == [complaint_workflow_id(customer, f"k-9-{run}")]
        await sink.wait_for(1)
        resolved = event("complaint_resolved", "c-1", {"complaint_id": f"k-9-{run}"}, f"e-4-{run}")
        await accept_event(db, client, queue, resolved)
        # The journey goes on (a survey follows a day later); the resolution is out now.
        messages = await sink.wait_for(2)
    await delivery.close()
    return messages


async def test_complaint_is_acknowledged_once_in_the_customers_language(
    db: Database, workflow_env: WorkflowEnvironment, settings: Settings, smtp_sink: SmtpSink
) -> None:
    with workflow_env.auto_time_skipping_disabled():
        messages = await acknowledge_and_resolve(db, workflow_env.client, settings, smtp_sink)

    ack = messages[0]
    assert ack["To"] == "li.wei@example.com"
    assert "k-9" in str(ack["Subject"])
    assert ack["Content-Language"] == "zh-CN"
    assert "李伟" in ack.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert ack["List-Unsubscribe"] is None, "transactional mail has no unsubscribe"
    assert len(messages) == 2
    assert len({m["Message-ID"] for m in messages}) == 2
    async with db.session() as session:
        ledger = list(await session.scalars(select(OutreachLedger)))
        decisions = list(await session.scalars(select(RuleDecision)))
    assert sorted((row.step_id, row.status) for row in ledger) == [
        ("ack", "sent"),
        ("resolved", "sent"),
    ]
    assert {row.message_id for row in ledger} == {m["Message-ID"] for m in messages}
    assert {d.rule_id for d in decisions} >= {"acknowledge-new-complaint"}
    assert all(len(d.ruleset_hash) >= 12 for d in decisions)


async def test_old_events_are_recorded_but_not_acted_on(
    db: Database, workflow_env: WorkflowEnvironment, settings: Settings, smtp_sink: SmtpSink
) -> None:
    client = workflow_env.client
    delivery = SmtpDelivery(settings.smtp_target)
    queue = settings.task_queue
    async with create_worker(client, settings, db=db, delivery=delivery):
        await accept_event(
            db,
            client,
            queue,
            event("customer_upserted", "c-2", {"email": "o@example.com"}, f"o-1-{queue}"),
        )
        stale = EventIn(
            type="complaint_opened",
            customer_id="c-2",
            occurred_at=datetime.now(UTC) - timedelta(days=30),
            data={"complaint_id": "k-old"},
            event_id=f"o-2-{queue}",
        )
        accepted = await accept_event(db, client, queue, stale)
        result = await client.get_workflow_handle(accepted.workflow_id).result()
        await save_history(
            client.get_workflow_handle(accepted.workflow_id), "customer_event_too_old"
        )
    await delivery.close()
    assert result["not_acted_reason"] == "event is too old to act on"
    assert smtp_sink.messages == []
