"""Follow-ups: the post-purchase survey, the onboarding series, contact-change notices."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from careflow.config import Settings
from careflow.contracts import JourneyInput
from careflow.store import Database, Event
from careflow.workflows.contact_change_notice import ContactChangeNoticeWorkflow
from careflow.workflows.onboarding import OnboardingWorkflow
from careflow.workflows.satisfaction_survey import SatisfactionSurveyWorkflow
from tests.smtp_sink import SmtpSink
from tests.workflows.harness import (
    add_customer,
    journey_worker,
    new_id,
    params_of,
    save_history,
    subjects,
    tasks_of,
)


async def _survey(
    env: WorkflowEnvironment, settings: Settings, db: Database, customer: str
) -> tuple[str, object]:
    now = await env.get_current_time()
    await add_customer(db, customer, now=now)
    workflow_id = new_id(f"satisfaction_survey-{customer}")
    handle = await env.client.start_workflow(
        SatisfactionSurveyWorkflow.run,
        JourneyInput(customer_id=customer, rule_id="post-purchase", ruleset_hash="h"),
        id=workflow_id,
        task_queue=settings.task_queue,
    )
    return workflow_id, handle


async def test_survey_answered_ends_the_journey(
    workflow_env: WorkflowEnvironment,
    db: Database,
    journey_settings: Settings,
    journey_config: Path,
    smtp_sink: SmtpSink,
) -> None:
    async with journey_worker(workflow_env.client, journey_settings, db, journey_config):
        _, handle = await _survey(workflow_env, journey_settings, db, "C-40")
        await workflow_env.sleep(timedelta(days=3, hours=1))
        [survey] = await smtp_sink.wait_for(1)
        await handle.signal("survey_answered", 4)  # type: ignore[attr-defined]
        assert await handle.result() == "answered"  # type: ignore[attr-defined]
        await save_history(handle, "satisfaction_survey_answered_folded_patches")  # type: ignore[arg-type]
    assert subjects(smtp_sink.messages) == ["satisfaction_survey C-40"]
    assert "/survey/" in params_of(survey)["survey_url"]


async def test_survey_low_score_asks_the_service_team_to_call(
    workflow_env: WorkflowEnvironment,
    db: Database,
    journey_settings: Settings,
    journey_config: Path,
    smtp_sink: SmtpSink,
) -> None:
    async with journey_worker(workflow_env.client, journey_settings, db, journey_config):
        workflow_id, handle = await _survey(workflow_env, journey_settings, db, "C-41")
        await workflow_env.sleep(timedelta(days=3, hours=1))
        await smtp_sink.wait_for(1)
        await handle.signal("survey_answered", 2)  # type: ignore[attr-defined]
        assert await handle.result() == "low_score"  # type: ignore[attr-defined]
    messages = await smtp_sink.wait_for(2)
    assert subjects(messages) == ["satisfaction_survey C-41", "staff_call_task C-41"]
    assert messages[1]["To"] == "service@careflow.localhost"
    [call] = [task for task in await tasks_of(db, workflow_id) if task.kind == "call"]
    assert (call.assignee, call.status) == ("service@careflow.localhost", "open")


async def test_unanswered_survey_is_reminded_once(
    workflow_env: WorkflowEnvironment,
    db: Database,
    journey_settings: Settings,
    journey_config: Path,
    smtp_sink: SmtpSink,
) -> None:
    async with journey_worker(workflow_env.client, journey_settings, db, journey_config):
        _, handle = await _survey(workflow_env, journey_settings, db, "C-42")
        assert await handle.result() == "unanswered"  # type: ignore[attr-defined]
        await save_history(handle, "satisfaction_survey_unanswered_folded_patches")  # type: ignore[arg-type]
    assert subjects(smtp_sink.messages) == ["satisfaction_survey C-42", "survey_reminder C-42"]


async def test_survey_opt_out_before_sending(
    workflow_env: WorkflowEnvironment,
    db: Database,
    journey_settings: Settings,
    journey_config: Path,
    smtp_sink: SmtpSink,
) -> None:
    async with journey_worker(workflow_env.client, journey_settings, db, journey_config):
        _, handle = await _survey(workflow_env, journey_settings, db, "C-43")
        await handle.signal("opted_out")  # type: ignore[attr-defined]
        assert await handle.result() == "opted_out"  # type: ignore[attr-defined]
    assert smtp_sink.messages == []


async def test_onboarding_series_in_order(
    workflow_env: WorkflowEnvironment,
    db: Database,
    journey_settings: Settings,
    journey_config: Path,
    smtp_sink: SmtpSink,
) -> None:
    now = await workflow_env.get_current_time()
    await add_customer(db, "C-44", now=now)
    async with journey_worker(workflow_env.client, journey_settings, db, journey_config):
        handle = await workflow_env.client.start_workflow(
            OnboardingWorkflow.run,
            JourneyInput(customer_id="C-44", rule_id="new-customer", ruleset_hash="h"),
            id=new_id("onboarding-C-44"),
            task_queue=journey_settings.task_queue,
        )
        assert await handle.result() == "completed"
        await save_history(handle, "onboarding_completed_folded_patches")
    assert subjects(smtp_sink.messages) == ["onboarding_welcome C-44", "onboarding_tips C-44"]


async def test_onboarding_opt_out_stops_the_series(
    workflow_env: WorkflowEnvironment,
    db: Database,
    journey_settings: Settings,
    journey_config: Path,
    smtp_sink: SmtpSink,
) -> None:
    now = await workflow_env.get_current_time()
    await add_customer(db, "C-45", now=now)
    async with journey_worker(workflow_env.client, journey_settings, db, journey_config):
        handle = await workflow_env.client.start_workflow(
            OnboardingWorkflow.run,
            JourneyInput(customer_id="C-45", rule_id="new-customer", ruleset_hash="h"),
            id=new_id("onboarding-C-45"),
            task_queue=journey_settings.task_queue,
        )
        await smtp_sink.wait_for(1)
        await handle.signal("opted_out")
        assert await handle.result() == "opted_out"
    assert subjects(smtp_sink.messages) == ["onboarding_welcome C-45"]


async def test_contact_change_notifies_each_team_once(
    workflow_env: WorkflowEnvironment,
    db: Database,
    journey_settings: Settings,
    journey_config: Path,
    smtp_sink: SmtpSink,
) -> None:
    now = await workflow_env.get_current_time()
    await add_customer(db, "C-46", now=now)
    async with db.session() as session:
        session.add(
            Event(
                event_id="e-46",
                type="customer_upserted",
                customer_external_id="C-46",
                occurred_at=now,
                received_at=now,
                data={"email": "new@example.com", "changed_fields": ["email"]},
            )
        )
    workflow_id = new_id("contact_change_notice-C-46")
    async with journey_worker(workflow_env.client, journey_settings, db, journey_config):
        handle = await workflow_env.client.start_workflow(
            ContactChangeNoticeWorkflow.run,
            JourneyInput(customer_id="C-46", rule_id="contact-changed", ruleset_hash="h"),
            id=workflow_id,
            task_queue=journey_settings.task_queue,
        )
        assert await handle.result() == "notified"
        await save_history(handle, "contact_change_notice_folded_patches")
    messages = await smtp_sink.wait_for(3)
    assert sorted(str(m["To"]) for m in messages) == [
        "marketing@careflow.localhost",
        "sales@careflow.localhost",
        "service@careflow.localhost",
    ]
    assert {t.status for t in await tasks_of(db, workflow_id)} == {"sent"}
