"""`notify: account-manager`: a call task for the customer's own account manager."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from careflow.activities.dispatch import DispatchActivities, DispatchInput
from careflow.config import Settings
from careflow.holdout import HoldoutConfig
from careflow.intake.apply import upsert_customer
from careflow.intake.records import CustomerFields
from careflow.rules.intents import ACCOUNT_MANAGER_TARGET, Intent
from careflow.store import Customer, Database, Task
from careflow.workflows.registry import JOURNEYS


def call(rule: str) -> Intent:
    return Intent(
        action="notify_team",
        rule_id=rule,
        ruleset="complaints",
        ruleset_hash="0" * 64,
        team=ACCOUNT_MANAGER_TARGET,
        params={"message": "Please call them today."},
    )


async def test_the_account_manager_gets_a_call_task_once_and_one_is_assigned_when_none(
    db: Database, workflow_env: WorkflowEnvironment, settings: Settings
) -> None:
    now = datetime.now(UTC)
    async with db.session() as session:
        await upsert_customer(
            session, "vip-1", CustomerFields(account_manager="zhang.min@example.com"), now
        )
        await upsert_customer(session, "vip-2", CustomerFields(), now)
    dispatcher = DispatchActivities(
        workflow_env.client,
        db,
        settings.task_queue,
        JOURNEYS,
        holdout=lambda: HoldoutConfig(salt="test", journeys={}),
        secret_key=settings.secret_key,
    )
    for customer in ("vip-1", "vip-1", "vip-2"):
        result = await dispatcher.dispatch(
            DispatchInput(
                customer_id=customer, intents=[call("vip-repeat-complaints-call")], at=now
            )
        )
        assert result.notified == [ACCOUNT_MANAGER_TARGET]
    async with db.session() as session:
        tasks = (await session.scalars(select(Task).order_by(Task.id))).all()
        assigned = await session.scalar(
            select(Customer.account_manager).where(Customer.external_id == "vip-2")
        )
    # vip-2 had no account manager: one from the shipped sales roster (teams.yaml) is
    # recorded on the customer and gets the call.
    assert assigned is not None
    assert [(task.kind, task.assignee, task.title) for task in tasks] == [
        ("call", "zhang.min@example.com", "Please call them today."),
        ("call", assigned, "Please call them today."),
    ]
