"""Staff's first response stops a complaint's response clock (careflow/staffwork/complaints.py).

A complaint responded to before its response target never records a response breach;
one responded to late records exactly one. The test configuration keeps business hours
open around the clock: a VIP's high-severity targets are 2h (response), 8h (resolution).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from careflow.config import Settings
from careflow.console.audit import recent_audit
from careflow.kpis.care import first_response, sla_breaches
from careflow.staffwork.complaints import COMPLAINT_RESPONDED, respond_to_complaint
from careflow.store import Database, Task
from careflow.timeline import customer_timeline
from careflow.workflows.complaint_escalation import ComplaintEscalationWorkflow
from careflow.workflows.journey import JourneyInput
from tests.smtp_sink import SmtpSink
from tests.workflows.harness import (
    add_complaint,
    add_customer,
    add_journey_record,
    journey_worker,
    new_id,
    tasks_of,
)


async def _open(
    env: WorkflowEnvironment, settings: Settings, db: Database, customer: str
) -> tuple[str, WorkflowHandle[Any, str]]:
    now = await env.get_current_time()
    await add_customer(db, customer, tier="vip", now=now)
    await add_complaint(db, customer, f"CS-{customer}", opened_at=now, severity="high")
    workflow_id = new_id(f"complaint-{customer}")
    await add_journey_record(
        db, workflow_id, "complaint_escalation", customer, now=now, subject=f"CS-{customer}"
    )
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


def _response_escalations(tasks: list[Task]) -> list[Task]:
    return [t for t in tasks if t.kind == "escalation" and "response target" in t.title]


async def test_a_response_before_the_target_never_records_a_response_breach(
    workflow_env: WorkflowEnvironment,
    db: Database,
    journey_settings: Settings,
    journey_config: Path,
    smtp_sink: SmtpSink,
) -> None:
    opened = await workflow_env.get_current_time()
    async with journey_worker(workflow_env.client, journey_settings, db, journey_config):
        workflow_id, handle = await _open(workflow_env, journey_settings, db, "R-1")
        await smtp_sink.wait_for(1)  # the acknowledgement
        await workflow_env.sleep(timedelta(hours=1))
        response = await respond_to_complaint(
            db,
            workflow_env.client,
            "CS-R-1",
            actor="li.wei",
            person="li.wei",
            note="called back, replacement on its way",
            now=await workflow_env.get_current_time(),
        )
        assert response.first
        assert response.journeys_told == (workflow_id,)
        # Past the 8h resolution target: that breach still escalates, to the supervisor.
        await workflow_env.sleep(timedelta(hours=9))
        await smtp_sink.wait_for(3)
        await handle.signal("customer_erased")
        assert await handle.result() == "erased"
    tasks = await tasks_of(db, workflow_id)
    assert _response_escalations(tasks) == []
    [agent] = [t for t in tasks if t.kind == "complaint"]
    assert (agent.status, agent.outcome, agent.closed_by) == ("done", "reached", "li.wei")
    until = await workflow_env.get_current_time()
    async with db.session() as session:
        kpi = await first_response(session, opened, until)
        breaches = await sla_breaches(session, opened, until)
    assert (kpi.with_target, kpi.within_target, kpi.late, kpi.missed) == (1, 1, 0, 0)
    assert kpi.mean_hours is not None
    assert 0.9 < kpi.mean_hours < 1.5
    assert breaches == {"supervisor": 1, "manager": 0}
    entries = await customer_timeline(db, "R-1", secret_key="k")
    assert entries is not None
    [responded] = [e for e in entries if e.kind == "response"]
    assert responded.summary == "first response to CS-R-1 by li.wei"
    assert responded.at == response.responded_at
    [audited] = await recent_audit(db, action=COMPLAINT_RESPONDED)
    assert (audited.actor, audited.target) == ("li.wei", "complaint CS-R-1")
    assert audited.details["note"] == "called back, replacement on its way"


async def test_a_late_response_records_exactly_one_response_breach(
    workflow_env: WorkflowEnvironment,
    db: Database,
    journey_settings: Settings,
    journey_config: Path,
    smtp_sink: SmtpSink,
) -> None:
    opened = await workflow_env.get_current_time()
    async with journey_worker(workflow_env.client, journey_settings, db, journey_config):
        workflow_id, handle = await _open(workflow_env, journey_settings, db, "R-2")
        await smtp_sink.wait_for(1)
        await workflow_env.sleep(timedelta(hours=3))  # past the 2h response target
        await smtp_sink.wait_for(3)  # escalation to the supervisor, update to the customer
        late = await respond_to_complaint(
            db,
            workflow_env.client,
            "CS-R-2",
            actor="li.wei",
            person="li.wei",
            now=await workflow_env.get_current_time(),
        )
        # A second response is conversation: the first one stands, nothing escalates again.
        again = await respond_to_complaint(
            db, workflow_env.client, "CS-R-2", actor="wang.fang", person="wang.fang"
        )
        assert not again.first
        assert (again.responded_by, again.responded_at) == ("li.wei", late.responded_at)
        await workflow_env.sleep(timedelta(hours=6))  # past the 8h resolution target
        await smtp_sink.wait_for(5)
        await handle.signal("complaint_resolved")
        await smtp_sink.wait_for(6)
        await handle.signal("customer_erased")
        assert await handle.result() == "resolved"
    tasks = await tasks_of(db, workflow_id)
    assert len(_response_escalations(tasks)) == 1
    until = await workflow_env.get_current_time()
    async with db.session() as session:
        kpi = await first_response(session, opened, until)
        breaches = await sla_breaches(session, opened, until)
    assert (kpi.with_target, kpi.responded, kpi.within_target, kpi.late, kpi.missed) == (
        1,
        1,
        0,
        1,
        0,
    )
    assert breaches == {"supervisor": 1, "manager": 1}
    assert len(await recent_audit(db, action=COMPLAINT_RESPONDED)) == 1
