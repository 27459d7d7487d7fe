"""The complaint SLA ladder: acknowledgement, breaches per level, resolution, survey, reopen.

The test configuration keeps business hours open around the clock (see conftest),
so a VIP's high-severity targets are plain hours: response 2h, resolution 8h.
Business-hour arithmetic itself is tested in test_business_hours.py.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from careflow.config import Settings
from careflow.contracts import JourneyInput
from careflow.store import Complaint, Database
from careflow.workflows.complaint_escalation import ComplaintEscalationWorkflow
from tests.smtp_sink import SmtpSink
from tests.workflows.harness import (
    add_complaint,
    add_customer,
    add_journey_record,
    journey_outcome,
    journey_worker,
    ledger_rows,
    new_id,
    params_of,
    save_history,
    send_attempts,
    subjects,
    tasks_of,
)

STAFF = {
    "supervisor": "care-supervisor@careflow.localhost",
    "manager": "care-manager@careflow.localhost",
}


async def _open(
    env: WorkflowEnvironment, settings: Settings, db: Database, customer: str
) -> tuple[str, WorkflowHandle[Any, str]]:
    now = await env.get_current_time()
    await add_customer(db, customer, tier="vip", now=now)
    await add_complaint(db, customer, f"CS-{customer}", opened_at=now, severity="high")
    workflow_id = new_id(f"complaint-{customer}")
    await add_journey_record(db, workflow_id, "complaint_escalation", customer, now=now)
    handle = await env.client.start_workflow(
        ComplaintEscalationWorkflow.run,
        JourneyInput(
            customer_id=customer,
            rule_id="complaint-new",
            ruleset_hash="h",
            subject=f"CS-{customer}",
        ),
        id=workflow_id,
        task_queue=settings.task_queue,
    )
    return workflow_id, handle


async def _complaint_status(db: Database, complaint_id: str) -> str:
    async with db.session() as session:
        status = await session.scalar(
            select(Complaint.status).where(Complaint.external_id == complaint_id)
        )
    assert status is not None
    return status


async def test_resolution_before_any_breach(
    workflow_env: WorkflowEnvironment,
    db: Database,
    journey_settings: Settings,
    journey_config: Path,
    smtp_sink: SmtpSink,
) -> None:
    async with journey_worker(workflow_env.client, journey_settings, db, journey_config):
        workflow_id, handle = await _open(workflow_env, journey_settings, db, "C-10")
        await smtp_sink.wait_for(1)
        await handle.signal("complaint_resolved")
        await smtp_sink.wait_for(2)
        # A day later the survey goes out; the customer answers happily.
        await workflow_env.sleep(timedelta(hours=25))
        await smtp_sink.wait_for(3)
        await handle.signal("survey_answered", 5)
        assert await handle.result() == "resolved"
        await save_history(handle, "complaint_escalation_resolved_early_folded_patches")
    assert subjects(smtp_sink.messages) == [
        "complaint_ack C-10",
        "complaint_resolved C-10",
        "satisfaction_survey C-10",
    ]
    survey_url = params_of(smtp_sink.messages[2])["survey_url"]
    assert survey_url.startswith(journey_settings.base_url + "/survey/")
    [agent_task] = await tasks_of(db, workflow_id)
    assert (agent_task.kind, agent_task.assignee, agent_task.status) == (
        "complaint",
        "care-agents@careflow.localhost",
        "done",
    )
    assert await journey_outcome(db, workflow_id) == ("ended", "resolved")


async def test_an_acknowledgement_the_mail_server_defers_goes_to_the_server_retries(
    workflow_env: WorkflowEnvironment,
    db: Database,
    journey_settings: Settings,
    journey_config: Path,
    smtp_sink: SmtpSink,
) -> None:
    """The first attempt at a send runs within the workflow task; when the mail server
    answers 4xx, the step becomes a regular activity whose retry (tracked by the
    server) delivers it: one acknowledgement, its ledger row sent."""
    smtp_sink.temporary_failures = 1
    async with journey_worker(workflow_env.client, journey_settings, db, journey_config):
        workflow_id, handle = await _open(workflow_env, journey_settings, db, "C-13")
        [ack] = await smtp_sink.wait_for(1)
        await handle.signal("complaint_resolved")
        await smtp_sink.wait_for(2)
        await handle.signal("opted_out")
        assert await handle.result() == "resolved"
        history = await handle.fetch_history()
    assert subjects([ack]) == ["complaint_ack C-13"]
    # The ack: the failed local attempt, then the activity. The resolution: local.
    assert send_attempts(history) == ["local", "activity", "local"]
    assert smtp_sink.temporary_failures == 0
    assert [(row.step_id, row.status) for row in await ledger_rows(db, workflow_id)] == [
        ("ack", "sent"),
        ("resolved", "sent"),
    ]


async def test_response_breach_escalates_to_the_supervisor(
    workflow_env: WorkflowEnvironment,
    db: Database,
    journey_settings: Settings,
    journey_config: Path,
    smtp_sink: SmtpSink,
) -> None:
    async with journey_worker(workflow_env.client, journey_settings, db, journey_config):
        workflow_id, handle = await _open(workflow_env, journey_settings, db, "C-11")
        await smtp_sink.wait_for(1)
        await workflow_env.sleep(timedelta(hours=3))  # past the 2h response target
        messages = await smtp_sink.wait_for(3)
        assert await _complaint_status(db, "CS-C-11") == "escalated"
        await handle.signal("complaint_resolved")  # before the 8h resolution target
        await smtp_sink.wait_for(4)
        await handle.signal("opted_out")  # no survey for this customer
        assert await handle.result() == "resolved"
    messages = smtp_sink.messages
    assert sorted(subjects(messages)) == sorted(
        [
            "complaint_ack C-11",
            "staff_escalation C-11",
            "complaint_update C-11",
            "complaint_resolved C-11",
        ]
    )
    escalation = next(m for m in messages if str(m["Subject"]).startswith("staff_escalation"))
    assert escalation["To"] == STAFF["supervisor"]
    tasks = await tasks_of(db, workflow_id)
    assert [(t.kind, t.status) for t in tasks if t.kind != "notification"] == [
        ("complaint", "done"),
        ("escalation", "done"),
    ]
    assert [t.status for t in tasks if t.kind == "notification"] == ["sent"]


async def test_both_breaches_reach_the_manager_and_resolution_after_breach(
    workflow_env: WorkflowEnvironment,
    db: Database,
    journey_settings: Settings,
    journey_config: Path,
    smtp_sink: SmtpSink,
) -> None:
    async with journey_worker(workflow_env.client, journey_settings, db, journey_config):
        workflow_id, handle = await _open(workflow_env, journey_settings, db, "C-12")
        await smtp_sink.wait_for(1)
        await workflow_env.sleep(timedelta(hours=9))  # past both targets
        await smtp_sink.wait_for(5)
        await handle.signal("complaint_resolved")
        await smtp_sink.wait_for(6)
        await handle.signal("customer_erased")
        assert await handle.result() == "resolved"
        await save_history(handle, "complaint_escalation_two_breaches_folded_patches")
    staff = [m["To"] for m in smtp_sink.messages if "staff_escalation" in str(m["Subject"])]
    assert staff == [STAFF["supervisor"], STAFF["manager"]]
    updates = [m for m in smtp_sink.messages if "complaint_update" in str(m["Subject"])]
    assert len(updates) == 2
    tasks = await tasks_of(db, workflow_id)
    assert [t.assignee for t in tasks if t.kind == "escalation"] == [
        STAFF["supervisor"],
        STAFF["manager"],
    ]


async def test_staff_response_meets_the_response_target(
    workflow_env: WorkflowEnvironment,
    db: Database,
    journey_settings: Settings,
    journey_config: Path,
    smtp_sink: SmtpSink,
) -> None:
    async with journey_worker(workflow_env.client, journey_settings, db, journey_config):
        _, handle = await _open(workflow_env, journey_settings, db, "C-13")
        await smtp_sink.wait_for(1)
        await handle.signal("complaint_responded")
        await workflow_env.sleep(timedelta(hours=9))  # only the resolution target is missed
        await smtp_sink.wait_for(3)
        await handle.signal("customer_erased")
        assert await handle.result() == "erased"
    staff = [m["To"] for m in smtp_sink.messages if "staff_escalation" in str(m["Subject"])]
    assert staff == [STAFF["supervisor"]]


async def test_low_survey_score_reopens_the_case_to_a_manager(
    workflow_env: WorkflowEnvironment,
    db: Database,
    journey_settings: Settings,
    journey_config: Path,
    smtp_sink: SmtpSink,
) -> None:
    async with journey_worker(workflow_env.client, journey_settings, db, journey_config):
        workflow_id, handle = await _open(workflow_env, journey_settings, db, "C-14")
        await smtp_sink.wait_for(1)
        await handle.signal("complaint_resolved")
        await workflow_env.sleep(timedelta(hours=25))
        await smtp_sink.wait_for(3)
        await handle.signal("survey_answered", 1)
        assert await handle.result() == "reopened"
        await save_history(handle, "complaint_escalation_reopened_folded_patches")
    assert subjects(smtp_sink.messages)[-1] == "staff_escalation C-14"
    assert smtp_sink.messages[-1]["To"] == STAFF["manager"]
    reopened = [t for t in await tasks_of(db, workflow_id) if t.kind == "complaint_reopened"]
    assert [(t.assignee, t.status) for t in reopened] == [(STAFF["manager"], "open")]
    assert await _complaint_status(db, "CS-C-14") == "reopened"
    assert await journey_outcome(db, workflow_id) == ("ended", "reopened")


async def test_unanswered_survey_is_reminded_once(
    workflow_env: WorkflowEnvironment,
    db: Database,
    journey_settings: Settings,
    journey_config: Path,
    smtp_sink: SmtpSink,
) -> None:
    async with journey_worker(workflow_env.client, journey_settings, db, journey_config):
        _, handle = await _open(workflow_env, journey_settings, db, "C-15")
        await smtp_sink.wait_for(1)
        await handle.signal("complaint_resolved")
        assert await handle.result() == "resolved"
    assert subjects(smtp_sink.messages) == [
        "complaint_ack C-15",
        "complaint_resolved C-15",
        "satisfaction_survey C-15",
        "survey_reminder C-15",
    ]


async def test_never_resolved_gives_up_after_the_configured_days(
    workflow_env: WorkflowEnvironment,
    db: Database,
    journey_settings: Settings,
    journey_config: Path,
    smtp_sink: SmtpSink,
) -> None:
    async with journey_worker(workflow_env.client, journey_settings, db, journey_config):
        workflow_id, handle = await _open(workflow_env, journey_settings, db, "C-16")
        assert await handle.result() == "unresolved"
    assert await journey_outcome(db, workflow_id) == ("ended", "unresolved")
    # Open escalation tasks stay open for the staff to act on.
    assert {t.status for t in await tasks_of(db, workflow_id) if t.kind != "notification"} == {
        "open"
    }
