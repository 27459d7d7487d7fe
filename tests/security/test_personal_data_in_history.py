"""No personal data enters Temporal history, whatever a journey goes through.

A customer with a distinctive name (Latin and Chinese), email address and phone
number (also typed into the complaint's free text) goes through a whole complaint
journey on the time-skipping test server with careflow's worker: the
acknowledgement, missed service-level targets (escalation emails to staff naming
the customer), the resolution, the survey and a low score that reopens the case.
Then every event of every workflow's history is searched, as raw protobuf bytes
(so inputs, results, signals, activity payloads, failures and memos all count),
for each of those strings in every encoding a payload could hold them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import timedelta

import pytest
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from careflow.config import Settings
from careflow.intake.events import EventIn, EventType, accept_event
from careflow.outreach.mailer import SmtpDelivery
from careflow.pseudonyms import customer_pseudonym
from careflow.store import Database, JourneyRecord, OutreachLedger, Task
from careflow.worker import create_worker
from careflow.workflows.ids import complaint_workflow_id
from tests.security.conftest import ON_SQLITE
from tests.smtp_sink import SmtpSink

NAME = "Zebulon Quaxmire-Oyelaran"
CHINESE_NAME = "钱多宝"
EMAIL = "zebulon.quaxmire.7731@pii-probe.example"
PHONE = "+86 139 7731 0042"
PERSONAL = (NAME, CHINESE_NAME, EMAIL, PHONE, "13977310042")


def encodings(value: str) -> set[bytes]:
    """The bytes `value` would be in a history: UTF-8, and JSON-escaped as payloads hold it."""
    return {value.encode(), json.dumps(value)[1:-1].encode()}


async def post(
    db: Database, env: WorkflowEnvironment, queue: str, kind: EventType, data: Mapping[str, object]
) -> str:
    """Post an event as the API would, at the test server's (skipped) time, and let it run."""
    client = env.client
    accepted = await accept_event(
        db,
        client,
        queue,
        EventIn(
            type=kind,
            customer_id=f"pii-{queue}",
            # Its own clock: an event from before the skipped days would be too old to act on.
            occurred_at=await env.get_current_time(),
            data=dict(data),
            event_id=f"pii-{kind}-{queue}",
        ),
    )
    await client.get_workflow_handle(accepted.workflow_id).result()
    return accepted.workflow_id


async def workflow_ids(db: Database) -> set[str]:
    """Every workflow the store knows of: journeys, senders of mail, owners of tasks."""
    async with db.session() as session:
        found = set(await session.scalars(select(JourneyRecord.workflow_id)))
        found |= set(await session.scalars(select(OutreachLedger.workflow_id)))
        found |= {w for w in await session.scalars(select(Task.workflow_id)) if w}
    return found


@ON_SQLITE
@pytest.mark.timeout(300)
async def test_no_personal_data_enters_workflow_history(
    db: Database, workflow_env: WorkflowEnvironment, settings: Settings, smtp_sink: SmtpSink
) -> None:
    client = workflow_env.client
    queue = settings.task_queue
    customer = f"pii-{queue}"
    complaint = f"k-{queue}"
    delivery = SmtpDelivery(settings.smtp_target)
    started: set[str] = set()
    async with create_worker(client, settings, db=db, delivery=delivery):
        customer_data = {"name": NAME, "email": EMAIL, "phone": PHONE, "tier": "vip"}
        started.add(await post(db, workflow_env, queue, "customer_upserted", customer_data))
        started.add(
            await post(
                db, workflow_env, queue, "consent_changed", {"topic": "care", "granted": True}
            )
        )
        started.add(
            await post(
                db,
                workflow_env,
                queue,
                "complaint_opened",
                {
                    "complaint_id": complaint,
                    "severity": "critical",
                    "subject": f"{CHINESE_NAME} asks to be called back on {PHONE}",
                },
            )
        )
        journey = client.get_workflow_handle(
            complaint_workflow_id(customer_pseudonym(settings.secret_key, customer), complaint)
        )
        # Every service-level target is missed: escalations go to staff, naming the customer.
        await workflow_env.sleep(timedelta(days=10))
        started.add(
            await post(db, workflow_env, queue, "complaint_resolved", {"complaint_id": complaint})
        )
        # The survey goes out a day later; a low score reopens the case.
        await workflow_env.sleep(timedelta(days=2))
        await journey.signal("survey_answered", 1)
        assert await journey.result() == "reopened"
    await delivery.close()
    mail = "\n".join(message.as_string() for message in smtp_sink.messages)
    assert NAME in mail, "the probe works: the name did reach the emails"
    assert EMAIL in mail

    leaks = []
    workflows = started | await workflow_ids(db)
    assert len(workflows) >= 5
    for workflow_id in sorted(workflows):
        history = await client.get_workflow_handle(workflow_id).fetch_history()
        for event in history.events:
            raw = event.SerializeToString()
            leaks += [
                f"{workflow_id} event {event.event_id} ({event.event_type}): {value!r}"
                for value in PERSONAL
                if any(form in raw for form in encodings(value))
            ]
    assert leaks == []
