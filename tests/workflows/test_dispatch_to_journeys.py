"""Rule intents start the journeys by name, with the ids the registry builds: a repeated
trigger finds the running or finished journey, and signals reach it through the journeys
table."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities.dispatch import DispatchActivities, DispatchInput
from careflow.config import Settings
from careflow.store import Database
from rules.intents import Intent
from tests.smtp_sink import SmtpSink
from tests.workflows.harness import (
    add_customer,
    journey_outcome,
    journey_worker,
    subjects,
    zone_at_local_hour,
)
from workflows.registry import JOURNEYS


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
    dispatch = DispatchActivities(workflow_env.client, db, journey_settings.task_queue, JOURNEYS)
    birthday = DispatchInput("C-80", [_start("care_message", rule, occasion="birthday")], at=now)
    offer = DispatchInput("C-80", [_start("retention_offer", f"dormant-{rule}")], at=now)
    async with journey_worker(workflow_env.client, journey_settings, db, journey_config):
        first = await ActivityEnvironment().run(dispatch.dispatch_intents, birthday)
        again = await ActivityEnvironment().run(dispatch.dispatch_intents, birthday)
        [workflow_id] = first.started
        assert workflow_id.endswith(f"birthday-{today.year}")
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
            dispatch.dispatch_intents, DispatchInput("C-80", [opt_out], at=now)
        )
        assert signalled.signalled == [offer_id]
        assert await workflow_env.client.get_workflow_handle(offer_id).result() == "opted_out"
    assert "retention_reminder C-80" not in subjects(smtp_sink.messages)
    assert await journey_outcome(db, offer_id) == ("ended", "opted_out")
