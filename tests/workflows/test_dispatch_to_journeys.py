"""Rule intents start the journeys by name, with the ids the registry builds: a repeated
trigger finds the running or finished journey, and signals reach it through the journeys
table."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from careflow.activities.dispatch import DispatchActivities
from careflow.config import Settings
from careflow.contracts import ENDS_BY_MEMO, DispatchInput, DispatchResult
from careflow.journey_config import load_journey_config
from careflow.pseudonyms import customer_pseudonym
from careflow.rules.intents import Intent
from careflow.store import Database
from careflow.workflows.ids import care_message_workflow_id
from careflow.workflows.registry import JOURNEYS
from tests.faults.harness import wait_until
from tests.smtp_sink import SmtpSink
from tests.workflows.harness import (
    add_customer,
    journey_outcome,
    journey_worker,
    subjects,
    zone_at_local_hour,
)


def _start(journey: str, rule_id: str, **params: str) -> Intent:
    return Intent(
        action="start_workflow",
        rule_id=rule_id,
        ruleset="test.rules.yaml",
        ruleset_hash="h",
        workflow=journey,
        params=dict(params),
    )


async def test_birthday_rule_starts_one_greeting_per_year_and_opt_out_ends_an_offer(
    workflow_env: WorkflowEnvironment,
    db: Database,
    journey_settings: Settings,
    journey_config: Path,
    smtp_sink: SmtpSink,
) -> None:
    now = await workflow_env.get_current_time()
    # Noon for the customer: the greeting goes out at once. (Handles found by id, as
    # the dispatcher's journeys are, do not skip time while waiting for a result.)
    zone = zone_at_local_hour(now, 12)
    today = now.astimezone(ZoneInfo(zone)).date()
    # The rule id is unique per test run: workflow ids outlive a test on the server.
    rule = f"birthday-{journey_settings.task_queue}"
    await add_customer(
        db, "C-80", timezone=zone, birthday=date(1992, today.month, today.day), now=now
    )
    dispatch = DispatchActivities(
        workflow_env.client,
        db,
        journey_settings.task_queue,
        JOURNEYS,
        secret_key=journey_settings.secret_key,
    )
    birthday = DispatchInput(
        customer_id="C-80", intents=[_start("care_message", rule, occasion="birthday")], at=now
    )
    offer = DispatchInput(
        customer_id="C-80", intents=[_start("retention_offer", f"dormant-{rule}")], at=now
    )
    async with journey_worker(workflow_env.client, journey_settings, db, journey_config):
        first = await ActivityEnvironment().run(dispatch.dispatch_intents, birthday)
        again = await ActivityEnvironment().run(dispatch.dispatch_intents, birthday)
        [workflow_id] = first.started
        customer = customer_pseudonym(journey_settings.secret_key, "C-80")
        assert workflow_id == care_message_workflow_id(customer, rule, f"birthday-{today.year}")
        assert again.started == []
        assert again.existing == [workflow_id]
        assert await workflow_env.client.get_workflow_handle(workflow_id).result() == "sent"
        assert len(smtp_sink.messages) == 1  # the greeting
        started = await ActivityEnvironment().run(dispatch.dispatch_intents, offer)
        [offer_id] = started.started
        await smtp_sink.wait_for(2)  # the offer
        opt_out = Intent(
            action="signal_workflow",
            rule_id="opt-out",
            ruleset="test.rules.yaml",
            ruleset_hash="h",
            workflow="retention_offer",
            signal="opted_out",
        )
        signalled = await ActivityEnvironment().run(
            dispatch.dispatch_intents, DispatchInput(customer_id="C-80", intents=[opt_out], at=now)
        )
        assert signalled.signalled == [offer_id]
        assert await workflow_env.client.get_workflow_handle(offer_id).result() == "opted_out"
    assert "retention_reminder C-80" not in subjects(smtp_sink.messages)
    assert await journey_outcome(db, offer_id) == ("ended", "opted_out")


async def test_an_offer_ending_at_the_trigger_instant_makes_way_for_the_next_one(
    workflow_env: WorkflowEnvironment,
    db: Database,
    journey_settings: Settings,
    journey_config: Path,
    smtp_sink: SmtpSink,
) -> None:
    """The offer's dates count from its trigger, not from when a worker ran it, and a
    scan at the instant it gives up starts the next offer whether or not its last step
    has run yet: the outcome may not depend on the worker's speed (simulate's report)."""
    now = await workflow_env.get_current_time()
    zone = zone_at_local_hour(now, 12)  # noon for the customer: the offer goes out at once
    await add_customer(db, "C-81", timezone=zone, now=now)
    dispatch = DispatchActivities(
        workflow_env.client,
        db,
        journey_settings.task_queue,
        JOURNEYS,
        secret_key=journey_settings.secret_key,
    )
    rule = f"dormant-{journey_settings.task_queue}"
    dormant = Intent(
        action="start_workflow",
        rule_id=rule,
        ruleset="test.rules.yaml",
        ruleset_hash="h",
        workflow="retention_offer",
        reenter_after_days=1,  # a new period every day: only the running offer blocks
    )
    goal_wait = timedelta(days=load_journey_config(journey_config).retention_offer.goal_wait_days)
    async with journey_worker(workflow_env.client, journey_settings, db, journey_config):
        first = await ActivityEnvironment().run(
            dispatch.dispatch_intents, DispatchInput(customer_id="C-81", intents=[dormant], at=now)
        )
        [offer_id] = first.started
        await smtp_sink.wait_for(1)  # the offer
        handle = workflow_env.client.get_workflow_handle(offer_id)

        async def planned() -> bool:
            # The memo saying when the offer ends is written when the workflow task that
            # planned (and sent) it completes, just after the message left.
            return ENDS_BY_MEMO in await (await handle.describe()).memo()

        await wait_until(planned, within_seconds=30, failure=lambda: "the offer was never planned")
        memo = await (await handle.describe()).memo()
        assert datetime.fromisoformat(memo[ENDS_BY_MEMO]) == now + goal_wait

        async def scan_at(at: datetime) -> DispatchResult:
            request = DispatchInput(customer_id="C-81", intents=[dormant], at=at)
            return await ActivityEnvironment().run(dispatch.dispatch_intents, request)

        day_before = await scan_at(now + goal_wait - timedelta(days=1))
        at_give_up = await scan_at(now + goal_wait)
        # The first offer is still waiting for its reminder: the clock was not moved.
        assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
    assert day_before.started == []
    assert day_before.existing == [offer_id]
    [next_offer] = at_give_up.started
    assert next_offer != offer_id
