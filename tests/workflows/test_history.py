"""Journey histories: every checked-in history replays against today's code, and no
history carries personal data (names, email addresses, phone numbers)."""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from temporalio.client import WorkflowHistory
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from careflow.config import Settings
from careflow.paths import DEMO_DATA_DIR
from careflow.store import Database, Event
from careflow.workflows.care_message import CareMessageWorkflow
from careflow.workflows.complaint_escalation import ComplaintEscalationWorkflow
from careflow.workflows.contact_change_notice import ContactChangeNoticeWorkflow
from careflow.workflows.journey import JourneyInput
from careflow.workflows.registry import JOURNEYS, WORKFLOWS
from careflow.workflows.retention_offer import RetentionOfferWorkflow
from tests.smtp_sink import SmtpSink
from tests.workflows.harness import (
    HISTORIES_DIR,
    add_complaint,
    add_customer,
    history_text,
    journey_worker,
    new_id,
    zone_at_local_hour,
)

HISTORIES = {path.stem: path.read_text(encoding="utf-8") for path in HISTORIES_DIR.glob("*.json")}
# Every address the journey tests give customers and account managers ends in one of
# these; the default test customer's name is Mei Chen.
TEST_PERSONAL_DATA = ("@example.com", "@shop.example", "Mei Chen")


def test_every_journey_has_a_checked_in_history() -> None:
    recorded = set(HISTORIES)
    for name in JOURNEYS:
        assert any(stem.startswith(name) for stem in recorded), f"no history of {name}"


@pytest.mark.parametrize("name", sorted(HISTORIES))
async def test_checked_in_history_replays(name: str) -> None:
    """A change that would break running journeys fails here: put it behind patched()."""
    history = WorkflowHistory.from_json(name, HISTORIES[name])
    await Replayer(workflows=WORKFLOWS).replay_workflow(history)


@pytest.mark.parametrize("name", sorted(HISTORIES))
def test_checked_in_history_holds_no_personal_data(name: str) -> None:
    text = history_text(json.loads(HISTORIES[name]))
    for value in TEST_PERSONAL_DATA:
        assert value not in text


def _demo_customers() -> list[dict[str, str]]:
    with (DEMO_DATA_DIR / "customers.csv").open(encoding="utf-8") as rows:
        return list(csv.DictReader(rows))


async def test_demo_customers_personal_data_never_enters_history(
    workflow_env: WorkflowEnvironment,
    db: Database,
    journey_settings: Settings,
    journey_config: Path,
    smtp_sink: SmtpSink,
) -> None:
    """The demo's sample customers go through the journeys that touch the most data."""
    now = await workflow_env.get_current_time()
    customers = _demo_customers()[:3]
    zone = zone_at_local_hour(now, 12)
    local_today = now.astimezone(ZoneInfo(zone)).date()
    for row in customers:
        await add_customer(
            db,
            row["customer_id"],
            name=row["name"],
            email=row["email"],
            phone=row["phone"] or None,
            tier="vip",
            timezone=zone,
            birthday=date(1992, local_today.month, local_today.day),
            account_manager=row["account_manager"] or None,
            now=now,
        )
    first, second, third = (row["customer_id"] for row in customers)
    await add_complaint(db, second, "CS-PII", opened_at=now, severity="critical")
    async with db.session() as session:
        session.add(
            Event(
                event_id=new_id("pii"),
                type="customer_upserted",
                customer_external_id=third,
                occurred_at=now,
                received_at=now,
                data={"email": customers[2]["email"], "changed_fields": ["email", "phone"]},
            )
        )
    # In this order: the other journeys skip weeks of time, past the birthday.
    runs = [
        (
            CareMessageWorkflow,
            JourneyInput(third, "b", "h", f"birthday-{local_today.year}"),
            "sent",
        ),
        (RetentionOfferWorkflow, JourneyInput(first, "dormant", "h"), "call_task"),
        (ComplaintEscalationWorkflow, JourneyInput(second, "c", "h", "CS-PII"), "unresolved"),
        (ContactChangeNoticeWorkflow, JourneyInput(third, "contact", "h"), "notified"),
    ]
    texts = []
    async with journey_worker(workflow_env.client, journey_settings, db, journey_config):
        for workflow_class, journey, outcome in runs:
            handle = await workflow_env.client.start_workflow(
                workflow_class.run,  # type: ignore[attr-defined]
                journey,
                id=new_id(workflow_class.__name__),
                task_queue=journey_settings.task_queue,
            )
            result = await handle.result()
            assert outcome is None or result == outcome
            history = await handle.fetch_history()
            texts.append(history_text(json.loads(history.to_json())))
    assert len(smtp_sink.messages) >= 8  # offers, escalations, greeting, notices went out
    personal = [
        row[field]
        for row in customers
        for field in ("name", "email", "phone", "account_manager")
        if row[field]
    ]
    for text in texts:
        for value in personal:
            assert value not in text
