"""Telling staff that a message could not be sent because its template is broken.

A template edited into a mistake must not silently swallow a customer's message:
the send step records the message as failed (with the template file and line)
and opens a task for staff, the way careflow already tells staff about work
(`tasks` rows, on the console's Tasks page and `GET /tasks`). The journey then
carries on with its other steps.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession

from careflow.journey_config import JourneyConfigError, load_journey_config
from careflow.store import Task
from careflow.webhooks.events import TASK_CREATED, record_event, record_event_async

# The task kind and the ledger reason code, as the console and the timeline show them.
MESSAGE_FAILED = "message_failed"
TEMPLATE_PROBLEM = "template_problem"


def template_problem_reason(problem: object) -> str:
    """The ledger reason of a message whose template failed: `template_problem: FILE:LINE: ...`."""
    return f"{TEMPLATE_PROBLEM}: {problem}"


def alert_assignee(journey_config: Path | None) -> str | None:
    """Who hears about broken templates: the manager of `rules/journeys.yaml`.

    None (an unassigned task, still on the Tasks page) when there is no readable file.
    """
    if journey_config is None:
        return None
    try:
        return load_journey_config(journey_config).staff.manager
    except JourneyConfigError:
        return None


def message_failed_task(
    *,
    key: str,
    workflow_id: str,
    customer_pk: int | None,
    template_id: str,
    problem: object,
    assignee: str | None,
    now: datetime,
) -> dict[str, object]:
    """The `tasks` row alerting staff that the message keyed `key` failed to render."""
    return {
        # One alert per failed step, whatever retries or replays happen.
        "idempotency_key": f"{key}#{MESSAGE_FAILED}",
        "kind": MESSAGE_FAILED,
        "assignee": assignee,
        "customer_id": customer_pk,
        "workflow_id": workflow_id,
        "title": f"Message {template_id!r} was not sent, its template is broken: {problem}",
        "status": "open",
        "created_at": now,
    }


def add_alert(connection: Connection, row: dict[str, object]) -> None:
    """Insert the alert unless this step already raised one (synchronous: the send step's
    transaction runs in a worker thread on SQLite)."""
    dialect = sqlite if connection.dialect.name == "sqlite" else postgresql
    connection.execute(
        dialect.insert(Task)
        .values(**row)
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
    )
    key = str(row["idempotency_key"])
    record_event(
        connection,
        TASK_CREATED,
        key,
        task_event_data(key, ALERT_TEAM),
        customer_pk=_pk(row["customer_id"]),
        at=_at(row["created_at"]),
    )


async def add_alert_async(session: AsyncSession, row: dict[str, object]) -> None:
    """`add_alert` in an async session."""
    if await session.scalar(select(Task.id).where(Task.idempotency_key == row["idempotency_key"])):
        return
    session.add(Task(**row))
    key = str(row["idempotency_key"])
    await record_event_async(
        session,
        TASK_CREATED,
        key,
        task_event_data(key, ALERT_TEAM),
        customer_pk=_pk(row["customer_id"]),
        at=_at(row["created_at"]),
    )


# Broken-template alerts go to the manager of journeys.yaml: in staff_alerts.yaml, `manager`.
ALERT_TEAM = "manager"


def task_event_data(task_key: str, team: str | None) -> dict[str, object]:
    """A `task.created` event's references: the task's key, and the team (or staff role)
    whose robots in `staff_alerts.yaml` hear of it."""
    return {"task_key": task_key, "team": team}


def _pk(value: object) -> int | None:
    return value if isinstance(value, int) else None


def _at(value: object) -> datetime:
    assert isinstance(value, datetime)
    return value
