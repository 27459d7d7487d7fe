"""A broken template fails that one message, never the journey (issue 16, class 2).

The message is recorded as failed with the template's file and line, staff get a
task to fix it, the timeline says so, and the journey carries on with its other
steps: the case is still escalated, resolved and closed.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from careflow.api.app import create_app
from careflow.api.state import ApiState
from careflow.config import Settings
from careflow.contracts import JourneyInput
from careflow.store import Database, OutreachLedger
from careflow.timeline import customer_timeline
from careflow.workflows.complaint_escalation import ComplaintEscalationWorkflow
from tests.smtp_sink import SmtpSink
from tests.workflows.harness import (
    add_complaint,
    add_customer,
    add_journey_record,
    journey_outcome,
    journey_worker,
    new_id,
    subjects,
    tasks_of,
)

MANAGER = "care-manager@careflow.localhost"


def _break(settings: Settings, template_id: str) -> Path:
    """An unclosed `{{` on line 2 of the template's text body."""
    body = settings.templates_dir / "email" / template_id / "body.txt.en.j2"
    body.write_text(
        "{% extends layout %}{% block body %}\n{{ params.complaint_id \n{% endblock %}\n"
    )
    return body


async def test_a_broken_template_fails_the_message_and_the_journey_carries_on(
    workflow_env: WorkflowEnvironment,
    db: Database,
    journey_settings: Settings,
    journey_config: Path,
    smtp_sink: SmtpSink,
) -> None:
    ack_body = _break(journey_settings, "complaint_ack")
    staff_body = _break(journey_settings, "staff_escalation")
    customer = "C-broken"
    async with journey_worker(workflow_env.client, journey_settings, db, journey_config):
        now = await workflow_env.get_current_time()
        await add_customer(db, customer, tier="vip", now=now)
        await add_complaint(db, customer, "CS-1", opened_at=now, severity="high")
        workflow_id = new_id("complaint-broken")
        await add_journey_record(db, workflow_id, "complaint_escalation", customer, now=now)
        handle = await workflow_env.client.start_workflow(
            ComplaintEscalationWorkflow.run,
            JourneyInput(
                customer_id=customer, rule_id="complaint-new", ruleset_hash="h", subject="CS-1"
            ),
            id=workflow_id,
            task_queue=journey_settings.task_queue,
        )
        # No acknowledgement (its template is broken), but the ladder still climbs:
        # past the 2h response target the customer gets the update.
        await workflow_env.sleep(timedelta(hours=3))
        await smtp_sink.wait_for(1)
        await handle.signal("complaint_resolved")
        await smtp_sink.wait_for(2)
        await handle.signal("opted_out")
        assert await handle.result() == "resolved"
    assert subjects(smtp_sink.messages) == [
        f"complaint_update {customer}",
        f"complaint_resolved {customer}",
    ]
    assert await journey_outcome(db, workflow_id) == ("ended", "resolved")
    async with db.session() as session:
        ack = await session.scalar(
            select(OutreachLedger).where(
                OutreachLedger.step_id == "ack", OutreachLedger.workflow_id == workflow_id
            )
        )
    assert ack is not None
    assert ack.status == "failed"
    assert ack.reason is not None
    # Jinja names the line where it noticed the unclosed tag: the next one.
    assert ack.reason.startswith(f"template_problem: {ack_body}:3: syntax error")
    tasks = {
        task.kind: task for task in await tasks_of(db, workflow_id) if task.kind != "notification"
    }
    notification = next(t for t in await tasks_of(db, workflow_id) if t.kind == "notification")
    assert notification.status == "failed"  # the supervisor's email could not be rendered
    assert tasks["escalation"].status == "done"  # the case itself went on and was closed
    alerts = [t for t in await tasks_of(db, workflow_id) if t.kind == "message_failed"]
    assert sorted((t.assignee, t.status) for t in alerts) == [(MANAGER, "open")] * 2
    titles = " ".join(t.title for t in alerts)
    assert f"{ack_body}:3: syntax error" in titles
    assert f"{staff_body}:3: syntax error" in titles
    timeline = await customer_timeline(db, customer, secret_key=journey_settings.secret_key)
    assert timeline is not None
    failed = [
        e.details for e in timeline if e.kind == "message" and e.details["status"] == "failed"
    ]
    assert [d["step_id"] for d in failed] == ["ack"]
    assert any(e.kind == "task" and "message_failed" in str(e.summary) for e in timeline)
    # Staff see it where they see their work: GET /tasks (the console's Tasks page).
    app = create_app(
        ApiState(db, workflow_env.client, journey_settings.task_queue, journey_settings.secret_key)
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://careflow.test"
    ) as web:
        listed = (await web.get("/tasks", params={"kind": "message_failed"})).json()
    assert {task["status"] for task in listed if task["workflow_id"] == workflow_id} == {"open"}
    assert any(f"{ack_body}:3: syntax error" in task["title"] for task in listed)
