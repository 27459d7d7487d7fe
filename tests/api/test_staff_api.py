"""`POST /tasks/{id}/claim|assign|complete|cancel` and `POST /complaints/{id}/respond|resolve`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from careflow.api.app import create_app
from careflow.api.state import ApiState
from careflow.config import Settings
from careflow.console.audit import recent_audit
from careflow.staffwork.complaints import COMPLAINT_RESOLVED, COMPLAINT_RESPONDED
from careflow.staffwork.tasks import TASK_CANCELLED, TASK_CLAIMED
from careflow.store import Complaint, Database, Event, Task
from tests.console.seed import RUNNING_JOURNEY, seed_store

TOKEN = "staff-token"


@pytest.fixture
async def api(
    db: Database, workflow_env: WorkflowEnvironment, settings: Settings
) -> AsyncIterator[httpx.AsyncClient]:
    await seed_store(db)
    app = create_app(
        ApiState(db, workflow_env.client, settings.task_queue, settings.secret_key, api_token=TOKEN)
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://careflow",
        headers={"Authorization": f"Bearer {TOKEN}"},
    ) as client:
        yield client


async def _task_id(db: Database, key: str) -> int:
    async with db.session() as session:
        found = await session.scalar(select(Task.id).where(Task.idempotency_key == key))
    assert found is not None
    return found


async def test_claim_reassign_with_a_due_time_and_complete(
    api: httpx.AsyncClient, db: Database
) -> None:
    task_id = await _task_id(db, f"{RUNNING_JOURNEY}/task-manager")
    claimed = await api.post(f"/tasks/{task_id}/claim", json={"by": "li.wei"})
    assert claimed.status_code == 200, claimed.text
    assert (claimed.json()["status"], claimed.json()["assignee"]) == ("assigned", "li.wei")
    # Someone else cannot claim it from under li.wei; they assign it (reassign) instead.
    taken = await api.post(f"/tasks/{task_id}/claim", json={"by": "wang.fang"})
    assert taken.status_code == 409
    assert "assigned to li.wei" in taken.json()["detail"]
    due = datetime.now(UTC) - timedelta(hours=1)
    moved = await api.post(
        f"/tasks/{task_id}/assign",
        json={"by": "li.wei", "assignee": "wang.fang", "due_at": due.isoformat()},
    )
    assert moved.status_code == 200, moved.text
    listed = (await api.get("/tasks", params={"assignee": "wang.fang"})).json()
    [row] = [t for t in listed if t["id"] == task_id]
    assert (row["status"], row["overdue"]) == ("assigned", True)
    assert datetime.fromisoformat(row["due_at"]) == due
    done = await api.post(
        f"/tasks/{task_id}/complete",
        json={"by": "wang.fang", "outcome": "resolved", "note": "refund sent"},
    )
    assert done.status_code == 200, done.text
    [row] = [t for t in (await api.get("/tasks")).json() if t["id"] == task_id]
    assert (row["status"], row["outcome"], row["closed_by"], row["overdue"]) == (
        "done",
        "resolved",
        "wang.fang",
        False,
    )
    [audited] = await recent_audit(db, action=TASK_CLAIMED)
    assert (audited.actor, audited.target) == ("api:li.wei", f"task {task_id}")


async def test_mistakes_name_the_field_and_change_nothing(
    api: httpx.AsyncClient, db: Database
) -> None:
    task_id = await _task_id(db, f"{RUNNING_JOURNEY}/task-manager")
    wrong = await api.post(f"/tasks/{task_id}/complete", json={"by": "li.wei", "outcome": "x"})
    assert wrong.status_code == 422
    assert wrong.json()["detail"][0]["loc"] == ["body", "outcome"]
    blank = await api.post(f"/tasks/{task_id}/claim", json={"by": "  "})
    assert blank.status_code == 422
    assert blank.json()["detail"][0]["loc"] == ["body", "by"]
    extra = await api.post(f"/tasks/{task_id}/claim", json={"by": "a", "who": "b"})
    assert extra.status_code == 422
    naive = await api.post(
        f"/tasks/{task_id}/assign",
        json={"by": "a", "assignee": "b", "due_at": "2026-12-01T10:00:00"},
    )
    assert naive.status_code == 422
    assert (await api.post("/tasks/999999/claim", json={"by": "a"})).status_code == 404
    listed = (await api.get("/tasks", params={"status": "open"})).json()
    assert task_id in [t["id"] for t in listed]
    unauthorised = await api.post(
        f"/tasks/{task_id}/claim", json={"by": "a"}, headers={"Authorization": "Bearer no"}
    )
    assert unauthorised.status_code == 401


async def test_cancel_keeps_the_note_and_audits_it(api: httpx.AsyncClient, db: Database) -> None:
    task_id = await _task_id(db, "retention_offer-c-carol/call")
    cancelled = await api.post(
        f"/tasks/{task_id}/cancel", json={"by": "li.wei", "note": "customer moved abroad"}
    )
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    closed = await api.post(f"/tasks/{task_id}/cancel", json={"by": "li.wei"})
    assert closed.status_code == 409
    [audited] = await recent_audit(db, action=TASK_CANCELLED)
    assert audited.details["note"] == "customer moved abroad"


async def test_respond_then_resolve_a_complaint(api: httpx.AsyncClient, db: Database) -> None:
    responded = await api.post("/complaints/k-1/respond", json={"by": "li.wei", "note": "called"})
    assert responded.status_code == 200, responded.text
    body = responded.json()
    assert (body["customer_id"], body["responded_by"], body["first"]) == ("c-alice", "li.wei", True)
    again = (await api.post("/complaints/k-1/respond", json={"by": "wang.fang"})).json()
    assert (again["first"], again["responded_by"]) == (False, "li.wei")
    assert len(await recent_audit(db, action=COMPLAINT_RESPONDED)) == 1
    timeline = (await api.get("/customers/c-alice/timeline")).json()
    assert any(e["kind"] == "response" and "li.wei" in e["summary"] for e in timeline)

    resolved = await api.post("/complaints/k-1/resolve", json={"by": "li.wei"})
    assert resolved.status_code == 202, resolved.text
    async with db.session() as session:
        status = await session.scalar(
            select(Complaint.status).where(Complaint.external_id == "k-1")
        )
        event = await session.scalar(
            select(Event).where(Event.event_id == resolved.json()["event_id"])
        )
    assert status == "resolved"
    assert event is not None
    assert event.type == "complaint_resolved"
    assert (await api.post("/complaints/k-1/resolve", json={"by": "li.wei"})).status_code == 409
    [audited] = await recent_audit(db, action=COMPLAINT_RESOLVED)
    assert audited.actor == "api:li.wei"
    assert (await api.post("/complaints/nope/respond", json={"by": "a"})).status_code == 404
