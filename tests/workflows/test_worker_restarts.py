"""Stopping and starting the worker between every step of every journey loses nothing
and repeats nothing: each message, task and notification exists exactly once."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from careflow.config import Settings
from careflow.contracts import JourneyInput
from careflow.store import Database, Event, OutreachLedger
from careflow.workflows.care_message import CareMessageWorkflow
from careflow.workflows.complaint_escalation import ComplaintEscalationWorkflow
from careflow.workflows.contact_change_notice import ContactChangeNoticeWorkflow
from careflow.workflows.onboarding import OnboardingWorkflow
from careflow.workflows.retention_offer import RetentionOfferWorkflow
from careflow.workflows.satisfaction_survey import SatisfactionSurveyWorkflow
from tests.smtp_sink import SmtpSink
from tests.workflows.harness import (
    add_complaint,
    add_customer,
    journey_worker,
    local_activity_name,
    new_id,
    subjects,
    tasks_of,
    zone_at_local_hour,
)

Handle = WorkflowHandle[Any, str]


class Run:
    """One journey run whose worker is replaced between phases."""

    def __init__(
        self,
        env: WorkflowEnvironment,
        settings: Settings,
        db: Database,
        config: Path,
        sink: SmtpSink,
    ) -> None:
        self.env, self.settings, self.db, self.config, self.sink = env, settings, db, config, sink
        self.workers = 0

    async def phase(
        self, step: Callable[[], Awaitable[object]], *, settle: Handle | None = None
    ) -> None:
        """Run `step` with a fresh worker (fresh activities and SMTP connection), then stop it.

        With `settle`, the worker stays until that journey sleeps on a timer (or ended),
        so the stop falls between steps and time can be skipped afterwards.
        """
        self.workers += 1
        async with journey_worker(
            self.env.client, self.settings, self.db, self.config, cache_workflows=False
        ):
            await step()
            if settle is not None:
                await _settled(settle)

    def later(
        self, duration: timedelta, step: Callable[[], Awaitable[object]]
    ) -> Callable[[], Awaitable[object]]:
        """`step` after skipping `duration` (a timer needs a worker to fire, so time is
        skipped inside a phase, with the new worker running)."""

        async def run() -> object:
            await self.env.sleep(duration)
            return await step()

        return run

    async def activity_done(self, handle: Handle, name: str) -> None:
        """Wait until the journey has completed the activity `name` once (a regular
        activity's completion, or a local activity's marker: quick steps are local)."""
        for _ in range(200):
            async for event in handle.fetch_history_events():
                if event.HasField("activity_task_completed_event_attributes"):
                    scheduled = event.activity_task_completed_event_attributes.scheduled_event_id
                    if await _scheduled_name(handle, scheduled) == name:
                        return
                if local_activity_name(event) == name:
                    return
            await asyncio.sleep(0.05)
        raise AssertionError(f"{name} never completed")


async def _settled(handle: Handle) -> None:
    """Wait until the journey sleeps on a timer or has ended."""
    idle = (EventType.EVENT_TYPE_TIMER_STARTED, EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED)
    for _ in range(400):
        events = [event async for event in handle.fetch_history_events()]
        if events[-1].event_type in idle:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"journey never settled: last event {events[-1].event_type}")


async def _scheduled_name(handle: Handle, event_id: int) -> str:
    async for event in handle.fetch_history_events():
        if event.event_id == event_id:
            return str(event.activity_task_scheduled_event_attributes.activity_type.name)
    return ""


async def retention_offer(run: Run, now: Any) -> tuple[Handle, str, list[str]]:
    await add_customer(run.db, "R-1", tier="vip", account_manager="am@shop.example", now=now)
    handle = await run.env.client.start_workflow(
        RetentionOfferWorkflow.run,
        JourneyInput(customer_id="R-1", rule_id="dormant", ruleset_hash="h"),
        id=new_id("retention"),
        task_queue=run.settings.task_queue,
    )
    await run.phase(lambda: run.sink.wait_for(1), settle=handle)
    await run.phase(run.later(timedelta(days=8), lambda: run.sink.wait_for(2)), settle=handle)
    await run.phase(run.later(timedelta(days=8), handle.result))
    return handle, "call_task", ["retention_offer", "retention_reminder", "staff_call_task"]


async def complaint(run: Run, now: Any) -> tuple[Handle, str, list[str]]:
    await add_customer(run.db, "R-2", tier="vip", now=now)
    await add_complaint(run.db, "R-2", "CS-R-2", opened_at=now, severity="high")
    handle = await run.env.client.start_workflow(
        ComplaintEscalationWorkflow.run,
        JourneyInput(
            customer_id="R-2", rule_id="complaint-new", ruleset_hash="h", subject="CS-R-2"
        ),
        id=new_id("complaint"),
        task_queue=run.settings.task_queue,
    )
    await run.phase(lambda: run.sink.wait_for(1), settle=handle)

    async def breach_then_resolve() -> None:
        await run.sink.wait_for(3)
        await handle.signal("complaint_resolved")
        await run.sink.wait_for(4)

    await run.phase(run.later(timedelta(hours=3), breach_then_resolve), settle=handle)

    async def answer_survey() -> str:
        await run.sink.wait_for(5)
        await handle.signal("survey_answered", 5)
        return await handle.result()

    await run.phase(run.later(timedelta(hours=25), answer_survey))
    return (
        handle,
        "resolved",
        [
            "complaint_ack",
            "staff_escalation",
            "complaint_update",
            "complaint_resolved",
            "satisfaction_survey",
        ],
    )


async def survey(run: Run, now: Any) -> tuple[Handle, str, list[str]]:
    await add_customer(run.db, "R-3", now=now)
    handle = await run.env.client.start_workflow(
        SatisfactionSurveyWorkflow.run,
        JourneyInput(customer_id="R-3", rule_id="post-purchase", ruleset_hash="h"),
        id=new_id("survey"),
        task_queue=run.settings.task_queue,
    )
    await run.phase(lambda: run.activity_done(handle, "plan_satisfaction_survey"), settle=handle)
    await run.phase(
        run.later(timedelta(days=3, hours=1), lambda: run.sink.wait_for(1)), settle=handle
    )
    await run.phase(run.later(timedelta(days=5), handle.result))
    return handle, "unanswered", ["satisfaction_survey", "survey_reminder"]


async def onboarding(run: Run, now: Any) -> tuple[Handle, str, list[str]]:
    await add_customer(run.db, "R-4", now=now)
    handle = await run.env.client.start_workflow(
        OnboardingWorkflow.run,
        JourneyInput(customer_id="R-4", rule_id="new", ruleset_hash="h"),
        id=new_id("onboarding"),
        task_queue=run.settings.task_queue,
    )
    await run.phase(lambda: run.sink.wait_for(1), settle=handle)
    await run.phase(run.later(timedelta(days=4), handle.result))
    return handle, "completed", ["onboarding_welcome", "onboarding_tips"]


async def care_message(run: Run, now: Any) -> tuple[Handle, str, list[str]]:
    zone = zone_at_local_hour(now, 3)
    today = now.astimezone(ZoneInfo(zone)).date()
    await add_customer(
        run.db, "R-5", timezone=zone, birthday=date(1992, today.month, today.day), now=now
    )
    handle = await run.env.client.start_workflow(
        CareMessageWorkflow.run,
        JourneyInput(
            customer_id="R-5",
            rule_id="birthday",
            ruleset_hash="h",
            subject=f"birthday-{today.year}",
        ),
        id=new_id("care"),
        task_queue=run.settings.task_queue,
    )
    await run.phase(lambda: run.activity_done(handle, "plan_care_message"), settle=handle)
    await run.phase(run.later(timedelta(hours=7), handle.result))
    return handle, "sent", ["birthday_greeting"]


async def contact_change(run: Run, now: Any) -> tuple[Handle, str, list[str]]:
    await add_customer(run.db, "R-6", now=now)
    async with run.db.session() as session:
        session.add(
            Event(
                event_id=new_id("e"),
                type="customer_upserted",
                customer_external_id="R-6",
                occurred_at=now,
                received_at=now,
                data={"changed_fields": ["phone"]},
            )
        )
    handle = await run.env.client.start_workflow(
        ContactChangeNoticeWorkflow.run,
        JourneyInput(customer_id="R-6", rule_id="contact", ruleset_hash="h"),
        id=new_id("contact"),
        task_queue=run.settings.task_queue,
    )
    # Stopped between two notifications: the one in flight finishes, the next waits.
    await run.phase(lambda: run.sink.wait_for(1))
    await run.phase(handle.result)
    return handle, "notified", ["staff_contact_change"] * 3


SCENARIOS = {
    "retention_offer": retention_offer,
    "complaint_escalation": complaint,
    "satisfaction_survey": survey,
    "onboarding": onboarding,
    "care_message": care_message,
    "contact_change_notice": contact_change,
}


@pytest.mark.parametrize("journey", list(SCENARIOS))
async def test_restarting_the_worker_between_steps_loses_and_repeats_nothing(
    journey: str,
    workflow_env: WorkflowEnvironment,
    db: Database,
    journey_settings: Settings,
    journey_config: Path,
    smtp_sink: SmtpSink,
) -> None:
    run = Run(workflow_env, journey_settings, db, journey_config, smtp_sink)
    now = await workflow_env.get_current_time()
    handle, outcome, expected = await SCENARIOS[journey](run, now)
    assert run.workers >= 2
    assert await handle.result() == outcome
    await asyncio.sleep(0.2)  # nothing else may arrive
    assert sorted(s.split()[0] for s in subjects(smtp_sink.messages)) == sorted(expected)
    message_ids = Counter(str(m["Message-ID"]) for m in smtp_sink.messages)
    assert max(message_ids.values()) == 1
    async with db.session() as session:
        ledger = list(
            await session.scalars(
                select(OutreachLedger).where(OutreachLedger.workflow_id == handle.id)
            )
        )
    assert {entry.status for entry in ledger} <= {"sent"}
    tasks = await tasks_of(db, handle.id)
    assert len({task.idempotency_key for task in tasks}) == len(tasks)
    assert {t.status for t in tasks if t.kind == "notification"} <= {"sent"}
