"""Staff act on tasks and complaints from the console; viewers cannot; everything is audited."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
from sqlalchemy import select

from careflow.console.audit import FORBIDDEN, recent_audit
from careflow.staffwork.complaints import COMPLAINT_RESPONDED
from careflow.staffwork.tasks import TASK_ASSIGNED, TASK_CLAIMED, TASK_COMPLETED
from careflow.store import Complaint, Database, Task
from tests.console.conftest import csrf_token
from tests.console.seed import RUNNING_JOURNEY


async def _task(db: Database, key: str) -> Task:
    async with db.session() as session:
        task = await session.scalar(select(Task).where(Task.idempotency_key == key))
    assert task is not None
    return task


async def _post(client: httpx.AsyncClient, path: str, **fields: str) -> httpx.Response:
    token = await csrf_token(client, "/console/tasks")
    return await client.post(path, data={"csrf": token, **fields})


async def test_an_operator_claims_reassigns_and_completes_a_task(
    db: Database, logged_in: dict[str, httpx.AsyncClient]
) -> None:
    otto = logged_in["otto"]
    task = await _task(db, f"{RUNNING_JOURNEY}/task-supervisor")
    page = await otto.get("/console/tasks")
    assert f'action="/console/tasks/{task.id}/claim"' in page.text

    claimed = await _post(otto, f"/console/tasks/{task.id}/claim")
    assert claimed.status_code == 303
    assert claimed.headers["location"] == "/console/tasks?done=task_claimed"
    after = await _task(db, task.idempotency_key)
    assert (after.status, after.assignee) == ("assigned", "otto")
    assert after.assigned_at is not None

    moved = await _post(
        otto, f"/console/tasks/{task.id}/assign", assignee="wang.fang", due="2030-01-02T10:00"
    )
    assert moved.status_code == 303
    reassigned = await _task(db, task.idempotency_key)
    assert reassigned.assignee == "wang.fang"
    assert reassigned.due_at == datetime(2030, 1, 2, 10, tzinfo=UTC)
    bad_due = await _post(
        otto, f"/console/tasks/{task.id}/assign", assignee="wang.fang", due="soon"
    )
    assert bad_due.status_code == 400
    assert 'data-code="due"' in bad_due.text

    done = await _post(
        otto,
        f"/console/tasks/{task.id}/complete",
        outcome="reached",
        note="Spoke to her, parcel found",
        back="c-alice",
    )
    assert done.status_code == 303
    assert done.headers["location"] == "/console/customers/c-alice?done=task_completed"
    closed = await _task(db, task.idempotency_key)
    assert (closed.status, closed.outcome, closed.closed_by, closed.note) == (
        "done",
        "reached",
        "otto",
        "Spoke to her, parcel found",
    )
    # Closed is closed: a second completion is refused and names why.
    again = await _post(otto, f"/console/tasks/{task.id}/complete", outcome="reached")
    assert again.status_code == 409
    assert 'data-code="closed"' in again.text

    actions = [(e.action, e.actor, e.target) for e in await recent_audit(db, actor="otto")]
    target = f"task {task.id}"
    assert (TASK_CLAIMED, "otto", target) in actions
    assert (TASK_ASSIGNED, "otto", target) in actions
    assert (TASK_COMPLETED, "otto", target) in actions
    [completed] = await recent_audit(db, action=TASK_COMPLETED)
    assert completed.details["outcome"] == "reached"
    assert completed.details["customer"] == "c-alice"

    # The customer page shows who closed it, how.
    customer = await otto.get("/console/customers/c-alice")
    assert f"escalation {task.id} done by otto: reached" in customer.text


async def test_an_unknown_outcome_is_refused_and_changes_nothing(
    db: Database, logged_in: dict[str, httpx.AsyncClient]
) -> None:
    task = await _task(db, f"{RUNNING_JOURNEY}/task-manager")
    refused = await _post(logged_in["ada"], f"/console/tasks/{task.id}/complete", outcome="magic")
    assert refused.status_code == 400
    assert 'data-code="outcome"' in refused.text
    assert (await _task(db, task.idempotency_key)).status == "open"


async def test_viewers_see_no_buttons_and_cannot_act(
    db: Database, logged_in: dict[str, httpx.AsyncClient]
) -> None:
    vera = logged_in["vera"]
    task = await _task(db, f"{RUNNING_JOURNEY}/task-manager")
    page = await vera.get("/console/tasks")
    assert page.status_code == 200
    assert "/claim" not in page.text
    customer = await vera.get("/console/customers/c-alice")
    assert "/respond" not in customer.text
    for path in (
        f"/console/tasks/{task.id}/claim",
        f"/console/tasks/{task.id}/cancel",
        "/console/complaints/k-1/respond",
    ):
        refused = await _post(vera, path)
        assert refused.status_code == 403, path
    assert (await _task(db, task.idempotency_key)).status == "open"
    forbidden = await recent_audit(db, action=FORBIDDEN, actor="vera")
    assert {entry.target for entry in forbidden} >= {f"/console/tasks/{task.id}/claim"}


async def test_an_operator_records_the_first_response_to_a_complaint(
    db: Database, logged_in: dict[str, httpx.AsyncClient]
) -> None:
    otto = logged_in["otto"]
    page = await otto.get("/console/customers/c-alice")
    assert 'action="/console/complaints/k-1/respond"' in page.text
    responded = await _post(
        otto, "/console/complaints/k-1/respond", note="Called, courier traced", back="c-alice"
    )
    assert responded.status_code == 303
    assert responded.headers["location"] == "/console/customers/c-alice?done=complaint_responded"
    async with db.session() as session:
        complaint = await session.scalar(select(Complaint).where(Complaint.external_id == "k-1"))
    assert complaint is not None
    assert (complaint.responded_by, complaint.response_note) == ("otto", "Called, courier traced")
    # The agents' "respond" task is done with it.
    agent = await _task(db, f"{RUNNING_JOURNEY}/task-agent")
    assert (agent.status, agent.outcome, agent.closed_by) == ("done", "reached", "otto")
    [entry] = await recent_audit(db, action=COMPLAINT_RESPONDED)
    assert (entry.actor, entry.target) == ("otto", "complaint k-1")
    after = await otto.get("/console/customers/c-alice")
    assert "first response to k-1 by otto" in after.text
    assert 'data-responded="yes"' in after.text


async def test_the_approvals_page_lists_pending_approvals_for_approvers(
    db: Database, logged_in: dict[str, httpx.AsyncClient]
) -> None:
    async with db.session() as session:
        approval = Task(
            idempotency_key="retention_offer-gone/approval-0",
            kind="approval",
            assignee="lead@care.example",
            workflow_id="retention_offer-gone",
            title="Approve the win-back offer for customer c-carol",
            status="open",
            created_at=datetime.now(UTC),
        )
        session.add(approval)
        await session.flush()
        task_id = approval.id
    otto, vera = logged_in["otto"], logged_in["vera"]
    page = await otto.get("/console/approvals")
    assert page.status_code == 200
    assert f'action="/console/approvals/{task_id}"' in page.text
    viewer_page = await vera.get("/console/approvals")
    assert viewer_page.status_code == 200
    assert f'data-task="{task_id}"' in viewer_page.text
    assert "/console/approvals/" not in viewer_page.text.replace('href="/console/approvals"', "")
    # The journey is gone, so nothing waits for this answer any more: refused, and why.
    token = await csrf_token(otto, "/console/approvals")
    gone = await otto.post(
        f"/console/approvals/{task_id}", data={"csrf": token, "decision": "approve"}
    )
    assert gone.status_code == 409
    assert 'data-code="closed"' in gone.text
    refused = await vera.post(
        f"/console/approvals/{task_id}",
        data={"csrf": await csrf_token(vera, "/console/approvals"), "decision": "approve"},
    )
    assert refused.status_code == 403
