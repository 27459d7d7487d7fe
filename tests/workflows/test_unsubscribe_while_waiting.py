"""No marketing message after an unsubscribe, even for a journey already waiting to send.

A retention offer (marketing) deferred by quiet hours waits in its journey until
morning. An unsubscribe meanwhile reaches it two ways, and each alone is enough:
the consent the send step checks again right before sending, and the `opted_out`
signal the unsubscribe sends to the customer's journeys in flight.
"""

from __future__ import annotations

from datetime import time
from pathlib import Path

from sqlalchemy import select
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from careflow.config import Settings
from careflow.contracts import JourneyInput
from careflow.intake.apply import set_consent
from careflow.intake.records import ConsentFields
from careflow.outreach.policy_config import OutreachPolicy
from careflow.store import Customer, Database, OutreachLedger
from careflow.workflows.retention_offer import RetentionOfferWorkflow
from tests.faults.harness import wait_until
from tests.smtp_sink import SmtpSink
from tests.workflows.harness import (
    add_customer,
    add_journey_record,
    journey_worker,
    new_id,
    relaxed_policy,
    send_attempts,
    zone_at_local_hour,
)


def night_policy() -> OutreachPolicy:
    """Quiet hours 21:00-09:00 for marketing, as shipped, and a roomy budget."""
    quiet = relaxed_policy().quiet_hours.model_copy(
        update={"start": time(21), "end": time(9), "applies_to": frozenset({"marketing"})}
    )
    return relaxed_policy(quiet_hours=quiet)


async def offer_waiting_for_morning(
    env: WorkflowEnvironment, settings: Settings, db: Database, customer: str
) -> tuple[str, WorkflowHandle[RetentionOfferWorkflow, str]]:
    """A retention offer started at 3 a.m. local time, its first send deferred."""
    now = await env.get_current_time()
    await add_customer(db, customer, timezone=zone_at_local_hour(now, 3), now=now)
    workflow_id = new_id(f"retention_offer-{customer}")
    await add_journey_record(db, workflow_id, "retention_offer", customer, now=now)
    handle = await env.client.start_workflow(
        RetentionOfferWorkflow.run,
        JourneyInput(customer_id=customer, rule_id="declining-frequency", ruleset_hash="h"),
        id=workflow_id,
        task_queue=settings.task_queue,
    )
    # Time stands still on the test server until the test waits for a result, so
    # the journey stays deferred while the customer unsubscribes.

    async def deferred() -> bool:
        return await ledger_status(db, workflow_id) == "deferred"

    await wait_until(
        deferred,
        within_seconds=30,
        failure=lambda: "the offer was never deferred by quiet hours",
    )
    return workflow_id, handle


async def ledger_status(db: Database, workflow_id: str) -> str | None:
    async with db.session() as session:
        return await session.scalar(
            select(OutreachLedger.status).where(OutreachLedger.workflow_id == workflow_id)
        )


async def test_consent_withdrawn_while_waiting_skips_the_deferred_offer(
    workflow_env: WorkflowEnvironment,
    db: Database,
    journey_settings: Settings,
    journey_config: Path,
    smtp_sink: SmtpSink,
) -> None:
    async with journey_worker(
        workflow_env.client, journey_settings, db, journey_config, policy=night_policy()
    ):
        workflow_id, handle = await offer_waiting_for_morning(
            workflow_env, journey_settings, db, "C-80"
        )
        # What POST /unsubscribe/{token} writes, without the signal to the journey:
        # the check right before the send must catch it on its own.
        async with db.session() as session:
            customer = await session.scalar(select(Customer).where(Customer.external_id == "C-80"))
            assert customer is not None
            await set_consent(
                session,
                customer,
                ConsentFields(topic="marketing", granted=False, source="unsubscribe"),
                await workflow_env.get_current_time(),
            )
        assert await handle.result() == "offer_skipped"
        history = await handle.fetch_history()
    # Deferred at 3 a.m., skipped in the morning: each decided within its workflow task.
    assert send_attempts(history) == ["local", "local"]
    async with db.session() as session:
        row = await session.scalar(
            select(OutreachLedger).where(OutreachLedger.workflow_id == workflow_id)
        )
    assert row is not None
    assert (row.status, row.sent_at) == ("skipped", None)
    assert row.reason is not None
    assert row.reason.startswith("opted_out")
    assert smtp_sink.messages == []


async def test_opt_out_signal_while_waiting_ends_the_journey_without_sending(
    workflow_env: WorkflowEnvironment,
    db: Database,
    journey_settings: Settings,
    journey_config: Path,
    smtp_sink: SmtpSink,
) -> None:
    async with journey_worker(
        workflow_env.client, journey_settings, db, journey_config, policy=night_policy()
    ):
        workflow_id, handle = await offer_waiting_for_morning(
            workflow_env, journey_settings, db, "C-81"
        )
        await handle.signal(RetentionOfferWorkflow.signal_opted_out)
        assert await handle.result() == "opted_out"
        history = await handle.fetch_history()
    assert send_attempts(history) == ["local"]  # the deferral; the morning never came
    assert await ledger_status(db, workflow_id) == "deferred"
    assert smtp_sink.messages == []
