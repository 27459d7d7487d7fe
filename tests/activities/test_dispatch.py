"""The dispatcher: deterministic journey ids, no second journey, and the holdout group."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import select
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from careflow.activities.dispatch import DispatchActivities
from careflow.config import Settings
from careflow.contracts import DispatchInput, DispatchResult
from careflow.holdout import HoldoutConfig
from careflow.intake.apply import upsert_customer
from careflow.intake.records import CustomerFields
from careflow.rules.intents import Intent
from careflow.store import Database, JourneyRecord
from careflow.workflows.registry import JOURNEYS

HALF = HoldoutConfig(salt="test", journeys={"retention_offer": 0.5})


def offer(rule: str) -> Intent:
    return Intent(
        action="start_workflow",
        rule_id=rule,
        ruleset="retention",
        ruleset_hash="0" * 64,
        workflow="retention_offer",
        reenter_after_days=90,
    )


async def test_holdout_customers_get_a_record_and_no_journey(
    db: Database, workflow_env: WorkflowEnvironment, settings: Settings
) -> None:
    run = settings.task_queue
    customers = [f"{run}-c{number}" for number in range(40)]
    now = datetime.now(UTC)
    async with db.session() as session:
        for customer in customers:
            await upsert_customer(session, customer, CustomerFields(), now)
    dispatcher = DispatchActivities(
        workflow_env.client,
        db,
        settings.task_queue,
        JOURNEYS,
        holdout=lambda: HALF,
        secret_key=settings.secret_key,
    )
    results = [
        await dispatcher.dispatch(
            DispatchInput(customer_id=customer, intents=[offer("win-back")], at=now)
        )
        for customer in customers
    ]
    again = [
        await dispatcher.dispatch(
            DispatchInput(customer_id=customer, intents=[offer("win-back")], at=now)
        )
        for customer in customers
    ]

    held_out = {r.held_out[0] for r in results if r.held_out}
    started = {r.started[0] for r in results if r.started}
    assert 8 <= len(held_out) <= 32, "about half, by a hash of the customer id"
    assert len(held_out) + len(started) == len(customers)
    assert [r.started for r in again] == [[] for _ in customers], "a repeat starts nothing"
    assert {r.held_out[0] for r in again if r.held_out} == held_out, "the same group every time"
    async with db.session() as session:
        records = {
            row.workflow_id: row.status for row in await session.scalars(select(JourneyRecord))
        }
    assert {wid for wid, status in records.items() if status == "holdout"} == held_out
    assert {wid for wid, status in records.items() if status == "running"} == started
    for workflow_id in held_out:
        with pytest.raises(RPCError, match="not found"):
            await workflow_env.client.get_workflow_handle(workflow_id).describe()


async def test_two_rules_never_start_two_retention_offers(
    db: Database, workflow_env: WorkflowEnvironment, settings: Settings
) -> None:
    run = settings.task_queue
    customer = f"{run}-c"
    now = datetime.now(UTC)
    async with db.session() as session:
        await upsert_customer(session, customer, CustomerFields(), now)
    dispatcher = DispatchActivities(
        workflow_env.client,
        db,
        settings.task_queue,
        JOURNEYS,
        holdout=HoldoutConfig,
        secret_key=settings.secret_key,
    )
    first = await dispatcher.dispatch(
        DispatchInput(customer_id=customer, intents=[offer("dormant-win-back")], at=now)
    )
    second = await dispatcher.dispatch(
        DispatchInput(customer_id=customer, intents=[offer("declining-frequency")], at=now)
    )
    assert len(first.started) == 1
    assert second.started == []
    assert second.existing == first.started, "the running offer stands for the second rule"

    await workflow_env.client.get_workflow_handle(first.started[0]).terminate("test: it ended")
    third = await dispatcher.dispatch(
        DispatchInput(customer_id=customer, intents=[offer("declining-frequency")], at=now)
    )
    assert len(third.started) == 1, "once the first offer is over, another rule may start one"


async def test_a_rule_restarts_its_journey_only_reenter_after_days_later(
    db: Database, workflow_env: WorkflowEnvironment, settings: Settings
) -> None:
    """Across a period boundary of the journey ids, too: `reenter_after: 90` promises
    90 days between one offer and the next, not one offer per calendar quarter."""
    customer = f"{settings.task_queue}-c"
    # The last day of a 90-day id period: the next day's id is a new one.
    last_of_period = date.fromordinal((datetime.now(UTC).date().toordinal() // 90 + 1) * 90 - 1)
    first_at = datetime.combine(last_of_period, time(6), UTC)
    async with db.session() as session:
        await upsert_customer(session, customer, CustomerFields(), first_at)
    dispatcher = DispatchActivities(
        workflow_env.client,
        db,
        settings.task_queue,
        JOURNEYS,
        holdout=HoldoutConfig,
        secret_key=settings.secret_key,
    )

    async def trigger(at: datetime) -> DispatchResult:
        return await dispatcher.dispatch(
            DispatchInput(customer_id=customer, intents=[offer("win-back")], at=at)
        )

    first = await trigger(first_at)
    [offer_id] = first.started
    await workflow_env.client.get_workflow_handle(offer_id).terminate("test: it ended")
    next_period = await trigger(first_at + timedelta(days=1))
    almost = await trigger(first_at + timedelta(days=90) - timedelta(seconds=1))
    due = await trigger(first_at + timedelta(days=90))

    assert next_period.started == []
    assert next_period.existing == [offer_id], "the offer of the day before stands"
    assert almost.started == []
    assert len(due.started) == 1
    assert due.started != [offer_id]


@pytest.mark.parametrize(
    ("journey", "subject", "rule", "old_id"),
    [
        # The first form kept `-` inside keys (workflows/ids.py).
        ("onboarding", "", "first-order", "onboarding-{customer}-first-order"),
        # One escalation per complaint, whichever rule starts it.
        ("complaint_escalation", "k-1", "vip-complaint", "complaint-{customer}-k-1"),
    ],
)
async def test_a_journey_started_under_an_old_form_id_is_not_started_again(
    db: Database,
    workflow_env: WorkflowEnvironment,
    settings: Settings,
    journey: str,
    subject: str,
    rule: str,
    old_id: str,
) -> None:
    """Ids of keys with `-` changed when ids became injective: a once-ever journey that
    ran under the first form's id is found in the journeys table, so the new id does
    not send it a second time."""
    customer = f"c-{settings.task_queue}"
    old_id = old_id.format(customer=customer)
    now = datetime.now(UTC)
    async with db.session() as session:
        stored, _ = await upsert_customer(session, customer, CustomerFields(), now)
        session.add(
            JourneyRecord(
                workflow_id=old_id,
                journey=journey,
                customer_id=stored.id,
                rule_id="first-order" if journey == "onboarding" else "new-complaint",
                ruleset_hash="0" * 64,
                subject=subject or None,
                status="ended",
                outcome="completed",
                started_at=now - timedelta(days=400),
                ended_at=now - timedelta(days=380),
            )
        )
    intent = Intent(
        action="start_workflow",
        rule_id=rule,
        ruleset="r",
        ruleset_hash="0" * 64,
        workflow=journey,
    )
    dispatcher = DispatchActivities(
        workflow_env.client, db, settings.task_queue, JOURNEYS, secret_key=settings.secret_key
    )
    result = await dispatcher.dispatch(
        DispatchInput(customer_id=customer, intents=[intent], subject=subject, at=now)
    )
    assert (result.started, result.existing) == ([], [old_id])
