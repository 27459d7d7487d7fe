"""The first slice end to end: a complaint event -> rule -> journey -> acknowledgement email.

Real parts throughout: the store (SQLite and PostgreSQL), the shipped rule files,
the Temporal time-skipping server with careflow's worker, and an SMTP server on
loopback.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from careflow.config import Settings
from careflow.intake.events import EventIn, accept_event
from careflow.outreach.mailer import SmtpDelivery
from careflow.store import Database, OutreachLedger, RuleDecision
from tests.smtp_sink import SmtpSink
from worker import create_worker


def event(kind: str, customer: str, data: dict[str, object], event_id: str) -> EventIn:
    return EventIn(
        type=kind,  # type: ignore[arg-type]
        customer_id=customer,
        occurred_at=datetime.now(UTC),
        data=data,
        event_id=event_id,
    )


async def test_complaint_is_acknowledged_once_in_the_customers_language(
    db: Database, workflow_env: WorkflowEnvironment, settings: Settings, smtp_sink: SmtpSink
) -> None:
    client = workflow_env.client
    delivery = SmtpDelivery(settings.smtp_target)
    async with create_worker(client, settings, db=db, delivery=delivery):
        await accept_event(
            db,
            client,
            settings.task_queue,
            event(
                "customer_upserted",
                "c-1",
                {
                    "name": "李伟",
                    "email": "li.wei@example.com",
                    "locale": "zh-CN",
                    "timezone": "Asia/Shanghai",
                },
                "e-1",
            ),
        )
        complaint = event(
            "complaint_opened",
            "c-1",
            {"complaint_id": "k-9", "severity": "high", "subject": "包裹破损"},
            "e-2",
        )
        accepted = await accept_event(db, client, settings.task_queue, complaint)
        await client.get_workflow_handle(accepted.workflow_id).result()
        # The same event again, and a second event for the same complaint: no new journey.
        await accept_event(db, client, settings.task_queue, complaint)
        again = event("complaint_opened", "c-1", {"complaint_id": "k-9"}, "e-3")
        repeat = await accept_event(db, client, settings.task_queue, again)
        repeat_result = await client.get_workflow_handle(repeat.workflow_id).result()
        assert repeat_result["existing"] == ["complaint-c-1-k-9"]

        [message] = await smtp_sink.wait_for(1)
        assert message["To"] == "li.wei@example.com"
        assert "k-9" in str(message["Subject"])
        assert message["Content-Language"] == "zh-CN"
        assert "李伟" in message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        # Transactional: no unsubscribe header.
        assert message["List-Unsubscribe"] is None

        journey = client.get_workflow_handle("complaint-c-1-k-9")
        await accept_event(
            db,
            client,
            settings.task_queue,
            event("complaint_resolved", "c-1", {"complaint_id": "k-9"}, "e-4"),
        )
        assert await journey.result() == "resolved"
        messages = await smtp_sink.wait_for(2)
    await delivery.close()

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
    assert decisions, "every firing is audited with the ruleset hash"
    assert all(len(d.ruleset_hash) >= 12 for d in decisions)


async def test_old_events_are_recorded_but_not_acted_on(
    db: Database, workflow_env: WorkflowEnvironment, settings: Settings, smtp_sink: SmtpSink
) -> None:
    client = workflow_env.client
    delivery = SmtpDelivery(settings.smtp_target)
    async with create_worker(client, settings, db=db, delivery=delivery):
        await accept_event(
            db,
            client,
            settings.task_queue,
            event("customer_upserted", "c-2", {"email": "old@example.com"}, "o-1"),
        )
        stale = EventIn(
            type="complaint_opened",
            customer_id="c-2",
            occurred_at=datetime.now(UTC) - timedelta(days=30),
            data={"complaint_id": "k-old"},
            event_id="o-2",
        )
        accepted = await accept_event(db, client, settings.task_queue, stale)
        result = await client.get_workflow_handle(accepted.workflow_id).result()
    await delivery.close()
    assert result["not_acted_reason"] == "event is too old to act on"
    assert smtp_sink.messages == []
