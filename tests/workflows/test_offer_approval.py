"""Offers above a value wait for approval (a Temporal Update with a deadline per approver).

An approval nobody answers escalates to the next approver and then applies the configured
default; a reject ends the journey without sending; an approval lets the offer go.
The test server skips the waits. VIPs get a 200 offer (rules/journeys.yaml); here offers
above 100 need the supervisor, then the manager, 24 hours each.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from careflow.api.app import create_app
from careflow.api.state import ApiState
from careflow.config import Settings
from careflow.console.audit import recent_audit
from careflow.contracts.tasks import DECIDE_APPROVAL, ApprovalDecision
from careflow.staffwork.approvals import APPROVAL_DECIDED
from careflow.store import Database
from careflow.workflows.journey import JourneyInput
from careflow.workflows.retention_offer import RetentionOfferWorkflow
from tests.smtp_sink import SmtpSink
from tests.workflows.conftest import write_journey_config
from tests.workflows.harness import (
    add_customer,
    add_journey_record,
    journey_outcome,
    journey_worker,
    new_id,
    save_history,
    subjects,
    tasks_of,
)

SUPERVISOR = "care-supervisor@careflow.localhost"
MANAGER = "care-manager@careflow.localhost"


def _approval_config(path: Path, on_timeout: str) -> Path:
    def require_approval(document: dict[str, Any]) -> None:
        document["retention_offer"]["approval"] = {
            "above_value": 100,
            "approvers": ["supervisor", "manager"],
            "wait_hours": 24,
            "on_timeout": on_timeout,
        }

    return write_journey_config(path, require_approval)


async def _start(
    env: WorkflowEnvironment, settings: Settings, db: Database, customer: str
) -> tuple[str, WorkflowHandle[Any, str]]:
    now = await env.get_current_time()
    await add_customer(db, customer, tier="vip", account_manager="am@shop.example", now=now)
    workflow_id = new_id(f"retention_offer-{customer}")
    await add_journey_record(db, workflow_id, "retention_offer", customer, now=now)
    handle = await env.client.start_workflow(
        RetentionOfferWorkflow.run,
        JourneyInput(customer_id=customer, rule_id="dormant", ruleset_hash="h"),
        id=workflow_id,
        task_queue=settings.task_queue,
    )
    return workflow_id, handle


async def _approval_tasks(db: Database, workflow_id: str) -> list[tuple[str | None, str]]:
    return [(t.assignee, t.status) for t in await tasks_of(db, workflow_id) if t.kind == "approval"]


async def test_an_unanswered_approval_escalates_then_applies_the_default(
    workflow_env: WorkflowEnvironment,
    db: Database,
    journey_settings: Settings,
    tmp_path: Path,
    smtp_sink: SmtpSink,
) -> None:
    config = _approval_config(tmp_path / "journeys.yaml", on_timeout="reject")
    async with journey_worker(workflow_env.client, journey_settings, db, config):
        workflow_id, handle = await _start(workflow_env, journey_settings, db, "A-1")
        assert await handle.result() == "offer_rejected"
        await save_history(handle, "retention_offer_approval_timed_out_folded_patches")
    # The supervisor had 24 hours, then the manager; both tasks are closed now.
    assert await _approval_tasks(db, workflow_id) == [(SUPERVISOR, "done"), (MANAGER, "done")]
    tasks = [t for t in await tasks_of(db, workflow_id) if t.kind == "approval"]
    assert tasks[1].due_at is not None
    assert tasks[0].due_at is not None
    assert (tasks[1].due_at - tasks[0].due_at).total_seconds() == 24 * 3600
    assert subjects(smtp_sink.messages) == []  # nothing was sent
    assert await journey_outcome(db, workflow_id) == ("ended", "offer_rejected")


async def test_an_unanswered_approval_with_approve_as_default_sends_the_offer(
    workflow_env: WorkflowEnvironment,
    db: Database,
    journey_settings: Settings,
    tmp_path: Path,
    smtp_sink: SmtpSink,
) -> None:
    config = _approval_config(tmp_path / "journeys.yaml", on_timeout="approve")
    async with journey_worker(workflow_env.client, journey_settings, db, config):
        _, handle = await _start(workflow_env, journey_settings, db, "A-2")
        await workflow_env.sleep(49 * 3600)  # past both approvers' deadlines
        [offer] = await smtp_sink.wait_for(1)
        assert subjects([offer]) == ["retention_offer A-2"]
        await handle.signal("order_placed")
        assert await handle.result() == "goal_met"


async def test_a_reject_ends_the_step_without_sending(
    workflow_env: WorkflowEnvironment,
    db: Database,
    journey_settings: Settings,
    tmp_path: Path,
    smtp_sink: SmtpSink,
) -> None:
    config = _approval_config(tmp_path / "journeys.yaml", on_timeout="approve")
    async with journey_worker(workflow_env.client, journey_settings, db, config):
        workflow_id, handle = await _start(workflow_env, journey_settings, db, "A-3")
        while not await _approval_tasks(db, workflow_id):
            await workflow_env.sleep(60)
        assert (
            await handle.execute_update(DECIDE_APPROVAL, ApprovalDecision(approved=False)) is False
        )
        # Decided once: a second answer is refused by the validator, outside history,
        # or by the server when the journey has ended already (its last steps are
        # local activities, done within the task the decision woke); the API answers
        # `closed` to both (careflow/staffwork/approvals.py).
        with pytest.raises((WorkflowUpdateFailedError, RPCError)):
            await handle.execute_update(DECIDE_APPROVAL, ApprovalDecision(approved=True))
        assert await handle.result() == "offer_rejected"
        await save_history(handle, "retention_offer_approval_rejected_folded_patches")
    assert subjects(smtp_sink.messages) == []
    # Only the supervisor was asked.
    assert await _approval_tasks(db, workflow_id) == [(SUPERVISOR, "done")]


async def test_an_approval_lets_the_offer_go(
    workflow_env: WorkflowEnvironment,
    db: Database,
    journey_settings: Settings,
    tmp_path: Path,
    smtp_sink: SmtpSink,
) -> None:
    config = _approval_config(tmp_path / "journeys.yaml", on_timeout="reject")
    async with journey_worker(workflow_env.client, journey_settings, db, config):
        workflow_id, handle = await _start(workflow_env, journey_settings, db, "A-4")
        while not await _approval_tasks(db, workflow_id):
            await workflow_env.sleep(60)
        assert await handle.execute_update(DECIDE_APPROVAL, ApprovalDecision(approved=True))
        [offer] = await smtp_sink.wait_for(1)
        assert subjects([offer]) == ["retention_offer A-4"]
        await handle.signal("order_placed")
        assert await handle.result() == "goal_met"


async def test_an_approver_rejects_through_the_api_and_it_is_audited(
    workflow_env: WorkflowEnvironment,
    db: Database,
    journey_settings: Settings,
    tmp_path: Path,
    smtp_sink: SmtpSink,
) -> None:
    config = _approval_config(tmp_path / "journeys.yaml", on_timeout="approve")
    app = create_app(
        ApiState(db, workflow_env.client, journey_settings.task_queue, journey_settings.secret_key)
    )
    async with (
        journey_worker(workflow_env.client, journey_settings, db, config),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as api,
    ):
        workflow_id, handle = await _start(workflow_env, journey_settings, db, "A-5")
        while not await _approval_tasks(db, workflow_id):
            await workflow_env.sleep(60)
        [task] = [t for t in await tasks_of(db, workflow_id) if t.kind == "approval"]
        # An approval is decided, not completed.
        completed = await api.post(
            f"/tasks/{task.id}/complete", json={"by": "lead", "outcome": "resolved"}
        )
        assert completed.status_code == 422
        decided = await api.post(
            f"/approvals/{task.id}",
            json={"by": "lead", "approved": False, "reason": "too generous for this customer"},
        )
        assert decided.status_code == 200, decided.text
        assert decided.json()["decision"] == "rejected"
        assert await handle.result() == "offer_rejected"
        again = await api.post(f"/approvals/{task.id}", json={"by": "lead", "approved": True})
        assert again.status_code == 409
    assert subjects(smtp_sink.messages) == []
    [row] = [t for t in await tasks_of(db, workflow_id) if t.kind == "approval"]
    assert (row.status, row.outcome, row.closed_by, row.note) == (
        "done",
        "rejected",
        "lead",
        "too generous for this customer",
    )
    [audited] = await recent_audit(db, action=APPROVAL_DECIDED)
    assert (audited.actor, audited.details["decision"]) == ("api:lead", "rejected")
