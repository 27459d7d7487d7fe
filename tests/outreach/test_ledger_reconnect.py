"""The send step on PostgreSQL when the server drops the ledger's connections.

The ledger's pool does not ping a connection before using it (careflow/outreach/
ledger.py), so a connection the server ended (a restart, a failover, an
administrator) fails at its first statement. Here the server ends every one of the
ledger's connections, with `pg_terminate_backend` as a restart would, at the worst
moment (after the SMTP exchange, before the `sent` mark) and between two sends: each
step is still sent exactly once and marked `sent`, and a retry sends nothing more.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event, select, text
from temporalio.testing import ActivityEnvironment

from careflow.activities.outreach import OutreachActivities, SendEmailInput
from careflow.config import Settings
from careflow.intake.apply import open_complaint, upsert_customer
from careflow.intake.records import ComplaintFields, CustomerFields
from careflow.outreach.envelope import OutgoingEmail
from careflow.outreach.mailer import SmtpDelivery
from careflow.outreach.policy_config import load_outreach_policy
from careflow.outreach.templates import TemplateRenderer
from careflow.store import Database, OutboundEvent, OutreachLedger, create_database
from tests.conftest import POSTGRES_URL
from tests.smtp_sink import SmtpSink

pytestmark = pytest.mark.parametrize("db", ["postgresql"], indirect=True)


class _Backends:
    """The server process ids of the ledger's connections, and a way to end them."""

    def __init__(self, db: Database) -> None:
        self.pids: set[int] = set()
        self.ended: set[int] = set()
        event.listen(db.unpinged_engine().sync_engine, "connect", self._connected)

    def _connected(self, dbapi_connection: Any, _record: Any) -> None:
        self.pids.add(dbapi_connection.driver_connection.get_server_pid())

    async def end_all(self) -> None:
        """End every live connection of the ledger's pool, waiting until each is gone."""
        admin = create_database(POSTGRES_URL)
        try:
            async with admin.engine.connect() as connection:
                for pid in sorted(self.pids - self.ended):
                    ended = await connection.scalar(
                        text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid}
                    )
                    assert ended, pid
                    self.ended.add(pid)
        finally:
            await admin.dispose()


class _EndingDelivery(SmtpDelivery):
    """SMTP delivery that, once the message is accepted, has the server end the
    ledger's connections: the `sent` mark is written on a connection that is gone."""

    backends: _Backends
    armed = True

    async def deliver_flat(self, message: OutgoingEmail) -> None:
        await super().deliver_flat(message)
        if self.armed:
            await self.backends.end_all()


def _request(step: str) -> SendEmailInput:
    return SendEmailInput(
        workflow_id="journey-c-1",
        step_id=step,
        customer_id="c-1",
        template_id="complaint_ack",
        params={"complaint_id": "k-1"},
    )


async def test_sent_once_and_marked_when_the_server_drops_the_connections(
    db: Database, settings: Settings, smtp_sink: SmtpSink
) -> None:
    now = datetime.now(UTC)
    async with db.session() as session:
        customer, _ = await upsert_customer(
            session, "c-1", CustomerFields(name="Emma Clarke", email="emma@example.com"), now
        )
        await open_complaint(session, customer, ComplaintFields(complaint_id="k-1"), now)
    backends = _Backends(db)
    delivery = _EndingDelivery(settings.smtp_target)
    delivery.backends = backends
    outreach = OutreachActivities(
        db,
        TemplateRenderer(settings.templates_dir),
        delivery,
        mail_from=settings.mail_from,
        base_url="https://care.example.com",
        secret_key=settings.secret_key,
        policy=lambda: load_outreach_policy(settings.rules_dir / "outreach_policy.yaml"),
    )
    env = ActivityEnvironment()
    try:
        # Ended after the exchange: the `sent` mark finds its connection gone.
        first = await env.run(outreach.send_email, _request("ack"))
        assert first.status == "sent", first.reason
        assert backends.ended
        # Ended between two sends: the next step's read finds its connection gone.
        await backends.end_all()
        delivery.armed = False
        second = await env.run(outreach.send_email, _request("ack-2"))
        assert second.status == "sent", second.reason
        # Ended after the exchange once more, now that the connection kept for the
        # marks (careflow.store.driver.py) is open: it is given up, and the
        # mark goes through the pool.
        delivery.armed = True
        third = await env.run(outreach.send_email, _request("ack-3"))
        assert third.status == "sent", third.reason
        delivery.armed = False
        # A retry of a sent step sends nothing.
        again = await env.run(outreach.send_email, _request("ack"))
        assert (again.status, again.message_id) == ("sent", first.message_id)
    finally:
        await outreach.close()
        await delivery.close()
    messages = await smtp_sink.wait_for(3)
    assert sorted(message["Message-ID"] for message in messages) == sorted(
        [first.message_id, second.message_id, third.message_id]
    )
    async with db.session() as session:
        rows = (await session.execute(select(OutreachLedger.step_id, OutreachLedger.status))).all()
        events = (await session.scalars(select(OutboundEvent.event_key))).all()
    assert sorted(rows) == [("ack", "sent"), ("ack-2", "sent"), ("ack-3", "sent")]
    # The mark and its event are one statement: a mark run again wrote no second event.
    assert sorted(events) == [
        "message.sent/journey-c-1/ack",
        "message.sent/journey-c-1/ack-2",
        "message.sent/journey-c-1/ack-3",
    ]
    # The pool made new connections after the old ones were ended.
    assert backends.pids - backends.ended
