"""Building blocks for journey tests: a worker with the journeys' real activities,
customers in the store, a journey configuration and minimal templates.

The worker is built from the same activity classes `build_activities()` binds; the
tests only choose the configuration file and the template folder.
"""

from __future__ import annotations

import base64
import json
import os
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from sqlalchemy import select
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowHandle, WorkflowHistory
from temporalio.worker import Worker

from careflow.activities.registry import build_journey_activities
from careflow.channels.sending import SmsChannel
from careflow.config import Settings
from careflow.outreach.mailer import SmtpDelivery
from careflow.outreach.policy_config import POLICY_FILE_NAME, OutreachPolicy, load_outreach_policy
from careflow.paths import RULES_DIR
from careflow.store import (
    Complaint,
    Consent,
    Customer,
    Database,
    JourneyRecord,
    OutreachLedger,
    Task,
)
from careflow.workflows.registry import JOURNEYS

# Every journey the registry declares, and every template they send.
JOURNEY_WORKFLOWS: list[type[Any]] = [journey.workflow for journey in JOURNEYS.values()]
HISTORIES_DIR = Path(__file__).resolve().parent.parent / "histories"
TEMPLATE_IDS = tuple(
    dict.fromkeys(template for journey in JOURNEYS.values() for template in journey.templates)
)


def write_templates(root: Path) -> Path:
    """Minimal templates: the subject names the template, the body shows the params.

    The shipped templates are tested by the outreach tests; journey tests assert
    which message went to whom, which these make easy to read.
    """
    email = root / "email"
    for name, content in {
        "_layouts/base.txt.en.j2": "{% block body %}{% endblock %}\n",
        "_layouts/base.html.en.j2": "<html>{% block body %}{% endblock %}</html>\n",
    }.items():
        (email / name).parent.mkdir(parents=True, exist_ok=True)
        (email / name).write_text(content, encoding="utf-8")
    for template_id in TEMPLATE_IDS:
        folder = email / template_id
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "subject.en.j2").write_text(f"{template_id} {{{{ customer.id }}}}\n")
        body = "{% extends layout %}{% block body %}{{ params|tojson }}{% endblock %}\n"
        (folder / "body.txt.en.j2").write_text(body)
        (folder / "body.html.en.j2").write_text(body)
    return root


def relaxed_policy(**changes: Any) -> OutreachPolicy:
    """The shipped outreach policy without quiet hours and with a roomy contact budget.

    Journey tests are about the journeys' own timing; the quiet-hours test puts the
    quiet hours back (see test_care_message.py).
    """
    shipped = load_outreach_policy(RULES_DIR / POLICY_FILE_NAME)
    relaxed = shipped.model_copy(
        update={
            "quiet_hours": shipped.quiet_hours.model_copy(update={"applies_to": frozenset()}),
            "contact_budget": shipped.contact_budget.model_copy(
                update={"marketing_max": 100, "total_max": 100}
            ),
        }
    )
    return relaxed.model_copy(update=changes)


def journey_activities(
    settings: Settings,
    db: Database,
    config_path: Path,
    policy: OutreachPolicy | None = None,
    *,
    sms: SmsChannel | None = None,
) -> list[Callable[..., Any]]:
    """The activities every journey calls, bound by the worker's own registry (with SMS
    when `sms` is given)."""
    current_policy = policy or relaxed_policy()
    return build_journey_activities(
        settings,
        db=db,
        delivery=SmtpDelivery(settings.smtp_target),
        journey_config=config_path,
        policy=lambda: current_policy,
        # As the worker: the send step runs journeys.yaml's A/B experiments.
        journeys=JOURNEYS,
        sms=sms,
    )


def journey_worker(
    client: Client,
    settings: Settings,
    db: Database,
    config_path: Path,
    *,
    policy: OutreachPolicy | None = None,
    replace: Sequence[Callable[..., Any]] = (),
    cache_workflows: bool = True,
) -> Worker:
    """A worker for the journeys; `replace` swaps activities by their registered name.

    Without `cache_workflows` every workflow task replays the journey from its history,
    as a freshly started worker does, and no task waits on a stopped worker's sticky
    queue.
    """
    activities = {
        _activity_name(activity): activity
        for activity in journey_activities(settings, db, config_path, policy)
    }
    for activity in replace:
        activities[_activity_name(activity)] = activity
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=JOURNEY_WORKFLOWS,
        activities=list(activities.values()),
        # A stopping worker lets activities in flight finish, as a deployment should.
        graceful_shutdown_timeout=timedelta(seconds=10),
        max_cached_workflows=1000 if cache_workflows else 0,
    )


def _activity_name(activity: Callable[..., Any]) -> str:
    definition = getattr(activity, "__temporal_activity_definition")
    return str(definition.name)


async def add_customer(
    db: Database,
    customer_id: str,
    *,
    name: str = "Mei Chen",
    email: str | None = None,
    phone: str | None = None,
    tier: str | None = None,
    timezone: str = "UTC",
    birthday: date | None = None,
    birthday_calendar: str = "solar",
    account_manager: str | None = None,
    consents: Sequence[str] = ("care", "marketing"),
    now: datetime,
) -> None:
    """A customer with email consent for `consents`."""
    async with db.session() as session:
        customer = Customer(
            external_id=customer_id,
            name=name,
            email=email or f"{customer_id.lower()}@example.com",
            phone=phone,
            locale="en",
            timezone=timezone,
            birthday=birthday,
            birthday_calendar=birthday_calendar,
            tier=tier,
            account_manager=account_manager,
            created_at=now,
            updated_at=now,
        )
        session.add(customer)
        await session.flush()
        for topic in consents:
            session.add(
                Consent(
                    customer_id=customer.id,
                    channel="email",
                    topic=topic,
                    granted=True,
                    source="test",
                    recorded_at=now,
                )
            )


async def add_complaint(
    db: Database, customer_id: str, complaint_id: str, *, opened_at: datetime, severity: str
) -> None:
    async with db.session() as session:
        customer_pk = await session.scalar(
            select(Customer.id).where(Customer.external_id == customer_id)
        )
        assert customer_pk is not None
        session.add(
            Complaint(
                external_id=complaint_id,
                customer_id=customer_pk,
                opened_at=opened_at,
                severity=severity,
                channel="email",
                subject="Parcel arrived damaged",
                status="open",
            )
        )


async def save_history(handle: WorkflowHandle[Any, Any], name: str) -> None:
    """Check in the history of a finished run when `CAREFLOW_RECORD_HISTORIES=1`.

    Histories are recorded once per shipped workflow version and replayed by
    test_history.py. They are append-only: recording never replaces a file, so a
    new version of a workflow is recorded under a new name (`<name>_v2`) beside the
    old one, which must still replay.
    """
    if os.environ.get("CAREFLOW_RECORD_HISTORIES") != "1":
        return
    history = await handle.fetch_history()
    HISTORIES_DIR.mkdir(exist_ok=True)
    path = HISTORIES_DIR / f"{name}.json"
    refuse_existing_history(path)
    with path.open("x", encoding="utf-8") as file:  # "x": never overwrite, even in a race
        file.write(json.dumps(json.loads(history.to_json()), indent=1) + "\n")


def refuse_existing_history(path: Path) -> None:
    """Raise FileExistsError when `path` is already a recorded history."""
    if path.exists():
        raise FileExistsError(
            f"{path} is already recorded and histories are append-only: record the new "
            "version under a new name (e.g. a `_v2` suffix) and keep the old file"
        )


async def add_journey_record(
    db: Database,
    workflow_id: str,
    journey: str,
    customer_id: str,
    *,
    now: datetime,
    subject: str | None = None,
) -> None:
    """The row the dispatcher writes when it starts a journey."""
    async with db.session() as session:
        customer_pk = await session.scalar(
            select(Customer.id).where(Customer.external_id == customer_id)
        )
        session.add(
            JourneyRecord(
                workflow_id=workflow_id,
                journey=journey,
                customer_id=customer_pk,
                rule_id="test-rule",
                ruleset_hash="h",
                subject=subject,
                status="running",
                started_at=now,
            )
        )


async def journey_outcome(db: Database, workflow_id: str) -> tuple[str, str | None]:
    async with db.session() as session:
        record = await session.scalar(
            select(JourneyRecord).where(JourneyRecord.workflow_id == workflow_id)
        )
        assert record is not None
        return record.status, record.outcome


async def tasks_of(db: Database, workflow_id: str) -> list[Task]:
    async with db.session() as session:
        return list(
            await session.scalars(
                select(Task).where(Task.workflow_id == workflow_id).order_by(Task.id)
            )
        )


async def ledger_rows(db: Database, workflow_id: str) -> list[OutreachLedger]:
    """The journey's outreach ledger rows, in the order they were written."""
    async with db.session() as session:
        return list(
            await session.scalars(
                select(OutreachLedger)
                .where(OutreachLedger.workflow_id == workflow_id)
                .order_by(OutreachLedger.id)
            )
        )


def subjects(messages: Sequence[EmailMessage]) -> list[str]:
    """`<template id> <customer id>` of each message, as the test templates write it."""
    return [str(message["Subject"]) for message in messages]


def params_of(message: EmailMessage) -> dict[str, Any]:
    """The params a test template printed into the text body."""
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return dict(json.loads(part.get_content()))


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


# The marker Temporal's core SDK records for a local activity's result.
LOCAL_ACTIVITY_MARKER = "core_local_activity"


def local_activity_name(event: HistoryEvent) -> str:
    """The activity type a local activity's marker records ("" for any other event)."""
    if not event.HasField("marker_recorded_event_attributes"):
        return ""
    marker = event.marker_recorded_event_attributes
    if marker.marker_name != LOCAL_ACTIVITY_MARKER:
        return ""
    [data] = marker.details["data"].payloads
    return str(json.loads(data.data).get("activity_type", ""))


def scheduled_activity_name(event: HistoryEvent) -> str:
    """The activity type of a regular activity's scheduling ("" for any other event)."""
    if not event.HasField("activity_task_scheduled_event_attributes"):
        return ""
    return str(event.activity_task_scheduled_event_attributes.activity_type.name)


def send_attempts(history: WorkflowHistory) -> list[str]:
    """Each call of `send_email` in order: "local" for an attempt within the workflow
    task (workflows/sending.py), "activity" for one the server dispatched."""
    attempts = []
    for event in history.events:
        if local_activity_name(event) == "send_email":
            attempts.append("local")
        elif scheduled_activity_name(event) == "send_email":
            attempts.append("activity")
    return attempts


def history_text(history: Mapping[str, Any]) -> str:
    """A history's JSON with every payload decoded, so a search sees what it carries."""
    decoded: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            data = node.get("data")
            if "metadata" in node and isinstance(data, str):
                decoded.append(base64.b64decode(data).decode("utf-8", errors="replace"))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(history)
    return json.dumps(history, ensure_ascii=False) + "\n" + "\n".join(decoded)


def zone_at_local_hour(now: datetime, hour: int) -> str:
    """A fixed-offset zone in which it is `hour` o'clock at `now`."""
    offset = (hour - now.astimezone(UTC).hour) % 24
    if offset > 14:
        offset -= 24
    # The Etc/GMT names have the sign the other way round (POSIX).
    return "Etc/GMT" + (f"-{offset}" if offset > 0 else f"+{-offset}" if offset else "")
