"""`careflow tasks list|assign|complete|cancel`, run as an operator runs them."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner

from careflow.cli import app
from careflow.cli.audit import os_user
from careflow.console.audit import recent_audit
from careflow.staffwork.tasks import TASK_ASSIGNED, TASK_COMPLETED
from careflow.store import Task, create_database
from tests.console.seed import RUNNING_JOURNEY, seed_store


@pytest.fixture
async def home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workflow_env: WorkflowEnvironment
) -> Path:
    monkeypatch.setenv("CAREFLOW_HOME", str(tmp_path))
    monkeypatch.delenv("CAREFLOW_DATABASE_URL", raising=False)
    monkeypatch.setenv("TEMPORAL_ADDRESS", workflow_env.client.service_client.config.target_host)
    db = create_database(f"sqlite+aiosqlite:///{tmp_path / 'careflow.db'}")
    await db.migrate()
    await seed_store(db)
    await db.dispose()
    return tmp_path


def _read(home: Path, key: str) -> Task:
    async def read() -> Task:
        db = create_database(f"sqlite+aiosqlite:///{home / 'careflow.db'}")
        try:
            async with db.session() as session:
                task = await session.scalar(select(Task).where(Task.idempotency_key == key))
            assert task is not None
            return task
        finally:
            await db.dispose()

    return asyncio.run(read())


def _audit(home: Path, action: str) -> list[tuple[str, str | None]]:
    async def read() -> list[tuple[str, str | None]]:
        db = create_database(f"sqlite+aiosqlite:///{home / 'careflow.db'}")
        try:
            return [(e.actor, e.target) for e in await recent_audit(db, action=action)]
        finally:
            await db.dispose()

    return asyncio.run(read())


def test_list_assign_and_complete_from_the_terminal(home: Path) -> None:
    runner = CliRunner()
    task = _read(home, f"{RUNNING_JOURNEY}/task-supervisor")

    listed = runner.invoke(app, ["tasks", "list", "--status", "open", "--json"])
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.output)
    assert task.id in [row["id"] for row in rows]
    overdue = json.loads(runner.invoke(app, ["tasks", "list", "--overdue", "--json"]).output)
    # The seed's supervisor escalation was due 12 hours ago; the manager's is not due yet.
    assert [row["id"] for row in overdue if row["customer_id"] == "c-alice"] == [
        row["id"] for row in rows if row["customer_id"] == "c-alice" and row["overdue"]
    ]
    assert task.id in [row["id"] for row in overdue]

    assigned = runner.invoke(
        app, ["tasks", "assign", str(task.id), "wang.fang", "--due", "2030-01-02T10:00:00"]
    )
    assert assigned.exit_code == 0, assigned.output
    assert f"task {task.id}: assigned; assignee wang.fang" in assigned.output
    after = _read(home, task.idempotency_key)
    assert after.assignee == "wang.fang"
    assert after.due_at is not None
    assert after.due_at.isoformat() == "2030-01-02T10:00:00+00:00"

    wrong = runner.invoke(app, ["tasks", "complete", str(task.id), "--outcome", "magic"])
    assert wrong.exit_code == 1
    assert "outcome: outcome must be one of" in wrong.output

    done = runner.invoke(
        app,
        ["tasks", "complete", str(task.id), "--outcome", "resolved", "--note", "refund sent"],
    )
    assert done.exit_code == 0, done.output
    closed = _read(home, task.idempotency_key)
    assert (closed.status, closed.outcome, closed.closed_by, closed.note) == (
        "done",
        "resolved",
        os_user(),
        "refund sent",
    )
    again = runner.invoke(app, ["tasks", "cancel", str(task.id)])
    assert again.exit_code == 1
    assert "is done" in again.output
    actor = f"cli:{os_user()}"
    assert _audit(home, TASK_ASSIGNED) == [(actor, f"task {task.id}")]
    assert _audit(home, TASK_COMPLETED) == [(actor, f"task {task.id}")]
