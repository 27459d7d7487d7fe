"""The journeys with the shipped templates (not the tests' minimal ones): every message a
journey sends renders, in Chinese and English, with what the journey passes."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from careflow.config import Settings
from careflow.contracts import JourneyInput
from careflow.store import Complaint, Customer, Database, Event
from careflow.workflows.care_message import CareMessageWorkflow
from careflow.workflows.complaint_escalation import ComplaintEscalationWorkflow
from careflow.workflows.contact_change_notice import ContactChangeNoticeWorkflow
from careflow.workflows.retention_offer import RetentionOfferWorkflow
from tests.smtp_sink import SmtpSink
from tests.workflows.harness import add_complaint, add_customer, journey_worker, new_id


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
async def test_every_journey_message_renders_from_the_shipped_templates(
    locale: str,
    workflow_env: WorkflowEnvironment,
    db: Database,
    settings: Settings,
    journey_config: Path,
    smtp_sink: SmtpSink,
) -> None:
    now = await workflow_env.get_current_time()
    await add_customer(db, "C-90", tier="vip", account_manager="am@shop.example", now=now)
    async with db.session() as session:
        customer = await session.get(Customer, 1)
        assert customer is not None
        customer.locale = locale
    await add_complaint(db, "C-90", "CS-90", opened_at=now, severity="high")
    async with journey_worker(workflow_env.client, settings, db, journey_config):
        holiday = await workflow_env.client.start_workflow(
            CareMessageWorkflow.run,
            JourneyInput(
                customer_id="C-90",
                rule_id="holiday",
                ruleset_hash="h",
                subject=f"mid_autumn-{now.year}",
            ),
            id=new_id("care"),
            task_queue=settings.task_queue,
        )
        assert await holiday.result() == "sent"
        complaint = await workflow_env.client.start_workflow(
            ComplaintEscalationWorkflow.run,
            JourneyInput(
                customer_id="C-90", rule_id="complaint", ruleset_hash="h", subject="CS-90"
            ),
            id=new_id("complaint"),
            task_queue=settings.task_queue,
        )
        await smtp_sink.wait_for(2)
        await workflow_env.sleep(timedelta(hours=9))  # both targets missed
        await smtp_sink.wait_for(6)
        await complaint.signal("complaint_resolved")
        await workflow_env.sleep(timedelta(hours=25))
        await smtp_sink.wait_for(8)
        await complaint.signal("survey_answered", 1)
        assert await complaint.result() == "reopened"
        # The shipped outreach policy holds offers back while a complaint is open and
        # for 7 days after its resolution: the case is closed, and a week passes.
        async with db.session() as session:
            case = await session.scalar(select(Complaint).where(Complaint.external_id == "CS-90"))
            assert case is not None
            case.status, case.resolved_at = "resolved", await workflow_env.get_current_time()
        await workflow_env.sleep(timedelta(days=7, hours=1))
        offer = await workflow_env.client.start_workflow(
            RetentionOfferWorkflow.run,
            JourneyInput(customer_id="C-90", rule_id="dormant", ruleset_hash="h"),
            id=new_id("retention"),
            task_queue=settings.task_queue,
        )
        assert await offer.result() == "call_task"
    recipients = [str(message["To"]) for message in smtp_sink.messages]
    assert recipients.count("c-90@example.com") == 8
    assert recipients.count("care-manager@careflow.localhost") == 2
    assert recipients.count("care-supervisor@careflow.localhost") == 1
    assert recipients.count("am@shop.example") == 1
    escalation = next(m for m in smtp_sink.messages if "supervisor" in str(m["To"]))
    text = escalation.get_body(preferencelist=("plain",))
    assert text is not None
    assert "CS-90" in text.get_content()
    assert "response target" in text.get_content()


async def test_contact_change_notice_names_the_changed_fields(
    workflow_env: WorkflowEnvironment,
    db: Database,
    settings: Settings,
    journey_config: Path,
    smtp_sink: SmtpSink,
) -> None:
    now = await workflow_env.get_current_time()
    await add_customer(db, "C-91", phone="+86 138 0000 9191", now=now)
    async with db.session() as session:
        for number, changed in enumerate((["phone"], [])):
            session.add(
                Event(
                    event_id=new_id(f"e{number}"),
                    type="customer_upserted",
                    customer_external_id="C-91",
                    occurred_at=now + timedelta(minutes=number),
                    received_at=now,
                    data={"changed_fields": changed},
                )
            )
    async with journey_worker(workflow_env.client, settings, db, journey_config):
        handle = await workflow_env.client.start_workflow(
            ContactChangeNoticeWorkflow.run,
            JourneyInput(customer_id="C-91", rule_id="contact", ruleset_hash="h"),
            id=new_id("contact"),
            task_queue=settings.task_queue,
        )
        assert await handle.result() == "notified"
    messages = await smtp_sink.wait_for(3)
    for message in messages:
        body = message.get_body(preferencelist=("plain",))
        assert body is not None
        # The later update changed nothing; the notice is about the one that did.
        assert "+86 138 0000 9191" in body.get_content()
