"""The daily scan: every customer through the shipped rules, and a re-scan starts nothing new."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from careflow.config import Settings
from careflow.contracts import DailyScanInput
from careflow.intake.apply import add_order, set_consent, upsert_customer
from careflow.intake.records import ConsentFields, CustomerFields, OrderFields
from careflow.outreach.mailer import SmtpDelivery
from careflow.store import Database, JourneyRecord, RuleDecision
from careflow.worker import create_worker
from careflow.workflows.daily_scan import PAGES_PER_RUN, DailyScanWorkflow
from tests.smtp_sink import SmtpSink
from tests.workflows.harness import save_history

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


async def test_scan_continues_as_new_and_carries_its_counts(
    db: Database, workflow_env: WorkflowEnvironment, settings: Settings, smtp_sink: SmtpSink
) -> None:
    """One customer a page: the first run scans PAGES_PER_RUN pages and continues as
    new, the second finishes; both runs' histories are the recorded ones."""
    run = settings.task_queue
    now = datetime.now(UTC)
    await seed(db, run, now)
    quiet = PAGES_PER_RUN + 2 - (DORMANT + ACTIVE)
    async with db.session() as session:
        for number in range(quiet):
            await upsert_customer(
                session,
                f"{run}-q{number}",
                CustomerFields(locale="en", created_at=now - timedelta(days=900)),
                now,
            )
    client = workflow_env.client
    delivery = SmtpDelivery(settings.smtp_target)
    with workflow_env.auto_time_skipping_disabled():
        async with create_worker(client, settings, db=db, delivery=delivery):
            handle = await client.start_workflow(
                DailyScanWorkflow.run,
                DailyScanInput(at=now, page_size=1),
                id=f"scan-can-{run}",
                task_queue=settings.task_queue,
            )
            progress = await handle.result()
    await delivery.close()

    customers = PAGES_PER_RUN + 2
    assert (progress.total_customers, progress.scanned) == (customers, customers)
    assert progress.journeys_started == DORMANT
    first_run = client.get_workflow_handle(handle.id, run_id=handle.first_execution_run_id)
    first_events = [
        event.WhichOneof("attributes") for event in (await first_run.fetch_history()).events
    ]
    assert first_events[-1] == "workflow_execution_continued_as_new_event_attributes"
    await save_history(first_run, "daily_scan_first_run")
    await save_history(client.get_workflow_handle(handle.id), "daily_scan_continued_run")


async def test_a_scan_reconciles_journeys_before_its_pages(
    db: Database, workflow_env: WorkflowEnvironment, settings: Settings, smtp_sink: SmtpSink
) -> None:
    """The scan asks once, before its first page, which journeys closed abnormally.

    The time-skipping server lists no workflows, so here the answer is a note; the
    listing itself is tested against the dev server (tests/workflows/test_reconcile.py).
    Its history is the one checked in for the patched scan.
    """
    client = workflow_env.client
    delivery = SmtpDelivery(settings.smtp_target)
    with workflow_env.auto_time_skipping_disabled():
        async with create_worker(client, settings, db=db, delivery=delivery):
            handle = await client.start_workflow(
                DailyScanWorkflow.run,
                DailyScanInput(at=datetime.now(UTC), page_size=3),
                id=f"scan-reconcile-{settings.task_queue}",
                task_queue=settings.task_queue,
            )
            await handle.result()
    await delivery.close()
    events = [event async for event in handle.fetch_history_events()]
    scheduled = [
        event.activity_task_scheduled_event_attributes.activity_type.name
        for event in events
        if event.HasField("activity_task_scheduled_event_attributes")
    ]
    assert scheduled[:3] == ["count_customers", "reconcile_journeys", "scan_page"]
    if db.is_sqlite:
        await save_history(handle, "daily_scan_reconcile")
