"""The daily scan: every customer through the shipped rules, and a re-scan starts nothing new."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from careflow.config import Settings
from careflow.intake.apply import add_order, set_consent, upsert_customer
from careflow.intake.records import ConsentFields, CustomerFields, OrderFields
from careflow.outreach.mailer import SmtpDelivery
from careflow.store import Database, JourneyRecord, RuleDecision
from careflow.worker import create_worker
from careflow.workflows.daily_scan import DailyScanInput, DailyScanWorkflow
from tests.smtp_sink import SmtpSink

DORMANT = 4
ACTIVE = 3


async def seed(db: Database, run: str, now: datetime) -> None:
    """Dormant customers with marketing consent, and active ones who ordered last week."""
    async with db.session() as session:
        for number in range(DORMANT + ACTIVE):
            dormant = number < DORMANT
            customer, _ = await upsert_customer(
                session,
                f"{run}-c{number}",
                CustomerFields(
                    email=f"c{number}@example.com",
                    locale="en",
                    timezone="Europe/London",
                    created_at=now - timedelta(days=900),
                ),
                now,
            )
            last_order = now - timedelta(days=150 if dormant else 7)
            for back in (0, 40, 80):
                await add_order(
                    session,
                    customer,
                    OrderFields(order_id=f"{run}-o{number}-{back}", amount=Decimal("30.00")),
                    last_order - timedelta(days=back),
                )
            await set_consent(
                session, customer, ConsentFields(topic="marketing", granted=True), now
            )


async def test_rescan_starts_no_second_journey(
    db: Database, workflow_env: WorkflowEnvironment, settings: Settings, smtp_sink: SmtpSink
) -> None:
    run = settings.task_queue  # business ids (and so workflow ids) of this test only
    now = datetime.now(UTC)
    await seed(db, run, now)
    client = workflow_env.client
    delivery = SmtpDelivery(settings.smtp_target)
    with workflow_env.auto_time_skipping_disabled():
        async with create_worker(client, settings, db=db, delivery=delivery):
            first = await client.execute_workflow(
                DailyScanWorkflow.run,
                DailyScanInput(at=now, page_size=3),
                id=f"scan-1-{run}",
                task_queue=settings.task_queue,
            )
            second = await client.execute_workflow(
                DailyScanWorkflow.run,
                DailyScanInput(at=now, page_size=3),
                id=f"scan-2-{run}",
                task_queue=settings.task_queue,
            )
    await delivery.close()

    assert (first.total_customers, first.scanned) == (DORMANT + ACTIVE, DORMANT + ACTIVE)
    assert first.journeys_started == DORMANT
    assert second.journeys_started == 0
    async with db.session() as session:
        journeys = list(await session.scalars(select(JourneyRecord)))
        fired = list(await session.scalars(select(RuleDecision.rule_id)))
    assert len(journeys) == DORMANT
    assert {journey.journey for journey in journeys} == {"retention_offer"}
    assert {journey.rule_id for journey in journeys} == {"dormant-win-back"}
    assert fired.count("dormant-win-back") == 2 * DORMANT, "both scans audit their decisions"
