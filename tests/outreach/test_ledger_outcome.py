"""The send step's outcome mark: the ledger row and its outbound event, once each.

On PostgreSQL the mark is one statement (an UPDATE in a CTE beside the event's
INSERT), on SQLite an UPDATE and an INSERT in one transaction; both must leave the
same rows, and a repeated mark (a retry whose first reply was lost) must not add a
second event.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import partial

import pytest
from sqlalchemy import select

from careflow.outreach.ledger import FAILED, SENDING, SENT, record_decision, send_ledger
from careflow.store import Database, OutboundEvent, OutreachLedger
from careflow.webhooks.events import MESSAGE_FAILED, MESSAGE_SENT

pytestmark = pytest.mark.parametrize("db", ["sqlite", "postgresql"], indirect=True)

DECIDED_AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
MARKED_AT = DECIDED_AT + timedelta(seconds=2)


def _sending(step: str) -> dict[str, object]:
    return {
        "idempotency_key": f"journey-c-1/{step}",
        "workflow_id": "journey-c-1",
        "step_id": step,
        "template_id": "complaint_ack",
        "channel": "email",
        "topic": "transactional",
        "status": SENDING,
        "reason": None,
        "message_id": f"<{step}@careflow.localhost>",
        "rule_id": None,
        "ruleset_hash": None,
        "release_id": None,
        "customer_id": None,
        "created_at": DECIDED_AT,
        "updated_at": DECIDED_AT,
    }


async def test_sent_and_failed_marks_write_the_row_and_one_event_each(db: Database) -> None:
    ledger = send_ledger(db)
    try:
        for step in ("ack", "bounce"):
            written = await ledger.transaction(partial(record_decision, values=_sending(step)))
            assert written is None
        await ledger.record_outcome("journey-c-1/ack", SENT, None, MARKED_AT)
        # A retry of the mark (its first reply lost with the connection) changes nothing.
        await ledger.record_outcome("journey-c-1/ack", SENT, None, MARKED_AT)
        await ledger.record_outcome("journey-c-1/bounce", FAILED, "550 no such user", MARKED_AT)
    finally:
        await ledger.close()
    async with db.session() as session:
        rows = (
            await session.execute(
                select(
                    OutreachLedger.step_id,
                    OutreachLedger.status,
                    OutreachLedger.reason,
                    OutreachLedger.sent_at,
                    OutreachLedger.updated_at,
                ).order_by(OutreachLedger.step_id)
            )
        ).all()
        events = (
            await session.execute(
                select(OutboundEvent.event_key, OutboundEvent.type, OutboundEvent.data).order_by(
                    OutboundEvent.event_key
                )
            )
        ).all()
    assert [tuple(row) for row in rows] == [
        ("ack", SENT, None, MARKED_AT, MARKED_AT),
        ("bounce", FAILED, "550 no such user", None, MARKED_AT),
    ]
    assert [tuple(event) for event in events] == [
        (
            f"{MESSAGE_FAILED}/journey-c-1/bounce",
            MESSAGE_FAILED,
            {"message_key": "journey-c-1/bounce"},
        ),
        (f"{MESSAGE_SENT}/journey-c-1/ack", MESSAGE_SENT, {"message_key": "journey-c-1/ack"}),
    ]
