"""One clock for decisions and starts: the timeline of an event-started journey says
the decision started it (the decision used to be stamped with the wall clock and the
journey with workflow time, so the journey looked like it stood in its own way)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from careflow.config import Settings
from careflow.intake.events import EventIn, accept_event
from careflow.outreach.mailer import SmtpDelivery
from careflow.store import Database, JourneyRecord, RuleDecision
from careflow.timeline import customer_timeline
from careflow.worker import create_worker


async def test_the_decision_that_started_a_journey_says_it_started_it(
    db: Database, workflow_env: WorkflowEnvironment, settings: Settings
) -> None:
    client, queue = workflow_env.client, settings.task_queue
    customer = f"c-{queue}"  # journey ids outlive a test on the server
    delivery = SmtpDelivery(settings.smtp_target)
    async with create_worker(client, settings, db=db, delivery=delivery):
        for kind, data, event_id in (
            ("customer_upserted", {"email": "a@example.com"}, f"u-{queue}"),
            ("order_placed", {"order_id": f"o-{queue}", "amount": "20"}, f"o-{queue}"),
        ):
            event = EventIn(
                type=kind,  # type: ignore[arg-type]
                customer_id=customer,
                occurred_at=datetime.now(UTC),
                data=data,
                event_id=event_id,
            )
            accepted = await accept_event(db, client, queue, event)
            result = await client.get_workflow_handle(accepted.workflow_id).result()
    await delivery.close()
    # The first order starts onboarding, and a review request (`order-review-request`).
    assert sorted(started.split("-")[0] for started in result["started"]) == [
        "onboarding",
        "review_request",
    ], result

    async with db.session() as session:
        decided_at = await session.scalar(
            select(RuleDecision.decided_at).where(RuleDecision.rule_id == "first-order-onboarding")
        )
        started_at = await session.scalar(
            select(JourneyRecord.started_at).where(JourneyRecord.journey == "onboarding")
        )
    assert decided_at == started_at
    entries = await customer_timeline(db, customer, secret_key=settings.secret_key)
    assert entries is not None
    decision = next(
        entry
        for entry in entries
        if entry.kind == "decision" and entry.details["rule_id"] == "first-order-onboarding"
    )
    assert [(j["journey"], j["outcome"]) for j in decision.details["journeys"]] == [  # type: ignore[attr-defined]
        ("onboarding", "started")
    ]
