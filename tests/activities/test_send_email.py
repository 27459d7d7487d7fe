"""The send step on its own (ActivityEnvironment): exactly once, consent, policy, safety."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from temporalio.testing import ActivityEnvironment

from careflow.activities.outreach import OutreachActivities, as_of
from careflow.config import Settings, SmtpTarget
from careflow.contracts import SendEmailInput
from careflow.intake.apply import open_complaint, set_consent, upsert_customer
from careflow.intake.records import ComplaintFields, ConsentFields, CustomerFields
from careflow.outreach.links import verify_unsubscribe_token
from careflow.outreach.mailer import SmtpDelivery, TransientDeliveryError
from careflow.store import Customer, Database, OutreachLedger, create_database
from tests.send_step import send_step
from tests.smtp_sink import SmtpSink

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
async def outreach(db: Database, settings: Settings) -> OutreachActivities:
    activities = send_step(db, settings)
    now = datetime.now(UTC)
    async with db.session() as session:
        customer, _ = await upsert_customer(
            session,
            "c-1",
            CustomerFields(
                name="Emma Clarke", email="emma@example.com", locale="en", timezone="Asia/Shanghai"
            ),
            now,
        )
        await open_complaint(
            session, customer, ComplaintFields(complaint_id="k-1", subject="Parcel lost"), now
        )
    return activities


OFFER: dict[str, str | int | float | bool] = {
    "offer_value": 50,
    "offer_currency": "CNY",
    "offer_code": "BACK-50",
    "offer_expires_at": "2031-03-18T00:00:00+08:00",
}


def request(
    step: str, template: str, topic: str, at: datetime, **params: str | int | float | bool
) -> SendEmailInput:
    return SendEmailInput(
        workflow_id="journey-c-1",
        step_id=step,
        customer_id="c-1",
        template_id=template,
        topic=topic,
        params={"complaint_id": "k-1", **params},
        planned_at=at,
    )


# Noon in Shanghai: outside quiet hours, so only consent and budget matter.
NOON = datetime(2031, 3, 4, 12, 0, tzinfo=SHANGHAI)


async def test_a_step_sends_once_even_when_called_again(
    outreach: OutreachActivities, smtp_sink: SmtpSink, db: Database
) -> None:
    env = ActivityEnvironment()
    first = await env.run(
        outreach.send_email, request("ack", "complaint_ack", "transactional", NOON)
    )
    again = await env.run(
        outreach.send_email, request("ack", "complaint_ack", "transactional", NOON)
    )
    assert (first.status, again.status) == ("sent", "sent")
    assert first.message_id == again.message_id
    [message] = await smtp_sink.wait_for(1)
    assert message["Message-ID"] == first.message_id
    async with db.session() as session:
        [row] = list(await session.scalars(select(OutreachLedger)))
    assert (row.idempotency_key, row.status) == ("journey-c-1/ack", "sent")


async def test_marketing_needs_consent_and_carries_one_click_unsubscribe(
    outreach: OutreachActivities, smtp_sink: SmtpSink, db: Database, settings: Settings
) -> None:
    env = ActivityEnvironment()
    skipped = await env.run(
        outreach.send_email, request("offer", "retention_offer", "marketing", NOON, **OFFER)
    )
    assert skipped.status == "skipped"
    assert skipped.reason is not None
    assert "no_marketing_consent" in skipped.reason

    async with db.session() as session:
        customer = await session.scalar(select(Customer).where(Customer.external_id == "c-1"))
        assert customer is not None
        await set_consent(session, customer, ConsentFields(topic="marketing", granted=True), NOON)
    sent = await env.run(
        outreach.send_email, request("offer-2", "retention_offer", "marketing", NOON, **OFFER)
    )
    assert sent.status == "sent", sent.reason
    [message] = await smtp_sink.wait_for(1)
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = str(message["List-Unsubscribe"]).strip("<>")
    assert link.startswith("https://care.example.com/unsubscribe/")
    claim = verify_unsubscribe_token(settings.secret_key, link.rsplit("/", 1)[1])
    assert "BACK-50" in message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert (claim.customer_external_id, claim.topic) == ("c-1", "marketing")


async def test_quiet_hours_defer_care_but_not_transactional(
    outreach: OutreachActivities, smtp_sink: SmtpSink
) -> None:
    env = ActivityEnvironment()
    late = datetime(2031, 3, 4, 23, 30, tzinfo=SHANGHAI)
    deferred = await env.run(
        outreach.send_email, request("survey", "satisfaction_survey", "care", late, survey_url="u")
    )
    assert deferred.status == "deferred"
    assert deferred.retry_at == datetime(2031, 3, 5, 9, 0, tzinfo=SHANGHAI)
    ack = await env.run(outreach.send_email, request("ack", "complaint_ack", "transactional", late))
    assert ack.status == "sent"
    # At the time it was deferred to, the same step goes out.
    morning = datetime(2031, 3, 5, 9, 0, tzinfo=SHANGHAI)
    later = await env.run(
        outreach.send_email,
        request("survey", "satisfaction_survey", "care", morning, survey_url="u"),
    )
    assert later.status == "sent", later.reason
    assert len(await smtp_sink.wait_for(2)) == 2


async def test_line_breaks_in_customer_data_cannot_add_headers(
    outreach: OutreachActivities, smtp_sink: SmtpSink, db: Database
) -> None:
    env = ActivityEnvironment()
    async with db.session() as session:
        customer = await session.scalar(select(Customer).where(Customer.external_id == "c-1"))
        assert customer is not None
        # The birthday greeting puts the name in the subject.
        customer.name = "Emma\r\nBcc: victim@example.com\r\n\r\nInjected body"
    sent = await env.run(
        outreach.send_email, request("greeting", "birthday_greeting", "care", NOON)
    )
    assert sent.status == "sent", sent.reason
    [message] = await smtp_sink.wait_for(1)
    assert message.get_all("Bcc") is None
    assert str(message["Subject"]).startswith("Happy birthday, Emma Bcc: victim@example.com")
    assert [str(to) for to in message.get_all("To", [])] == ["emma@example.com"]

    # An address with a line break (a row edited by hand) is skipped with the
    # reason, never sent and never a retry loop.
    async with db.session() as session:
        customer = await session.scalar(select(Customer).where(Customer.external_id == "c-1"))
        assert customer is not None
        customer.email = "emma@example.com\r\nBcc: victim@example.com"
    skipped = await env.run(
        outreach.send_email, request("greeting-2", "birthday_greeting", "care", NOON)
    )
    assert skipped.status == "skipped"
    assert skipped.reason is not None
    assert skipped.reason.startswith("no_address")
    assert len(smtp_sink.messages) == 1


async def test_ledger_times_follow_the_journeys_clock(
    outreach: OutreachActivities, smtp_sink: SmtpSink, db: Database
) -> None:
    # A journey on the time-skipping server runs years ahead of the wall clock:
    # every time the step writes is the journey's, as its policies decided.
    env = ActivityEnvironment()
    late = datetime(2031, 3, 4, 23, 30, tzinfo=SHANGHAI)
    morning = datetime(2031, 3, 5, 9, 0, tzinfo=SHANGHAI)
    survey = {"survey_url": "u"}
    deferred = await env.run(
        outreach.send_email, request("survey", "satisfaction_survey", "care", late, **survey)
    )
    assert deferred.status == "deferred"
    async with db.session() as session:
        row = await session.scalar(select(OutreachLedger))
    assert row is not None
    assert (row.created_at, row.updated_at, row.sent_at) == (late, late, None)

    sent = await env.run(
        outreach.send_email, request("survey", "satisfaction_survey", "care", morning, **survey)
    )
    assert sent.status == "sent", sent.reason
    async with db.session() as session:
        row = await session.scalar(select(OutreachLedger))
    assert row is not None
    assert (row.created_at, row.updated_at, row.sent_at) == (late, morning, morning)
    [message] = await smtp_sink.wait_for(1)
    assert parsedate_to_datetime(str(message["Date"])) == morning


def test_a_stale_journey_time_never_turns_the_clock_back() -> None:
    # A Temporal retry carries its first attempt's planned_at: the wall clock wins.
    stale = datetime.now(UTC) - timedelta(hours=3)
    assert as_of(stale) > stale + timedelta(hours=2)
    assert as_of(None) >= datetime.now(UTC) - timedelta(minutes=1)


async def test_refused_recipient_is_failed_not_retried(
    outreach: OutreachActivities, smtp_sink: SmtpSink
) -> None:
    smtp_sink.refused_recipients.add("emma@example.com")
    env = ActivityEnvironment()
    result = await env.run(
        outreach.send_email, request("ack", "complaint_ack", "transactional", NOON)
    )
    assert result.status == "failed"
    assert result.reason is not None
    assert "550" in result.reason


async def test_an_in_memory_store_sends_once_too(settings: Settings, smtp_sink: SmtpSink) -> None:
    # One in-memory SQLite database per connection: the ledger must use the store's.
    db = create_database("sqlite+aiosqlite://")
    await db.migrate()
    try:
        async with db.session() as session:
            customer, _ = await upsert_customer(
                session, "c-1", CustomerFields(name="Emma", email="emma@example.com"), NOON
            )
            await open_complaint(session, customer, ComplaintFields(complaint_id="k-1"), NOON)
        outreach = send_step(db, settings)
        env = ActivityEnvironment()
        ack = request("ack", "complaint_ack", "transactional", NOON)
        first = await env.run(outreach.send_email, ack)
        again = await env.run(outreach.send_email, ack)
        assert (first.status, again.status) == ("sent", "sent")
        assert len(await smtp_sink.wait_for(1)) == 1
        await outreach.close()
    finally:
        await db.dispose()


async def _customer_with_address(db: Database, address: str) -> None:
    async with db.session() as session:
        customer = await session.scalar(select(Customer).where(Customer.external_id == "c-1"))
        assert customer is not None
        customer.email, customer.name, customer.locale = address, "王芳", "zh-CN"


async def test_a_non_ascii_address_goes_out_over_smtputf8(
    outreach: OutreachActivities, db: Database, settings: Settings
) -> None:
    sink = SmtpSink(smtputf8=True, keep_envelopes=True)
    sink.start()
    delivery = SmtpDelivery(SmtpTarget(host="127.0.0.1", port=sink.port))
    outreach = OutreachActivities(
        db,
        outreach.renderer,
        delivery,
        mail_from=settings.mail_from,
        base_url="https://care.example.com",
        secret_key=settings.secret_key,
        policy=outreach.policy,
    )
    try:
        await _customer_with_address(db, "王芳@例子.广告")
        env = ActivityEnvironment()
        sent = await env.run(
            outreach.send_email, request("ack", "complaint_ack", "transactional", NOON)
        )
        assert sent.status == "sent", sent.reason
        [message] = await sink.wait_for(1)
        [(_, recipients, options)] = sink.envelopes
        assert recipients == ["王芳@例子.广告"]
        assert "SMTPUTF8" in options
        assert str(message["To"]) == "王芳@例子.广告"
        assert message["Content-Language"] == "zh-CN"
        assert message["Message-ID"] == sent.message_id
    finally:
        await outreach.close()
        await delivery.close()
        sink.stop()


async def test_a_non_ascii_address_waits_for_a_server_with_smtputf8(
    outreach: OutreachActivities, smtp_sink: SmtpSink, db: Database
) -> None:
    # The tests' default sink does not offer SMTPUTF8: a transient fault (Temporal
    # retries), nothing sent, the step still open.
    await _customer_with_address(db, "王芳@例子.广告")
    env = ActivityEnvironment()
    with pytest.raises(TransientDeliveryError, match="SMTPUTF8"):
        await env.run(outreach.send_email, request("ack", "complaint_ack", "transactional", NOON))
    assert smtp_sink.messages == []
    async with db.session() as session:
        row = await session.scalar(select(OutreachLedger))
    assert row is not None
    assert row.status == "sending"


class _MessageCollector:
    """A delivery that takes only `EmailMessage`s (as a simulation's does)."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def deliver(self, message: EmailMessage) -> None:
        self.messages.append(message)

    async def close(self) -> None:
        return None


async def test_a_delivery_without_bytes_gets_the_built_message(
    outreach: OutreachActivities, db: Database, settings: Settings
) -> None:
    collector = _MessageCollector()
    outreach = OutreachActivities(
        db,
        outreach.renderer,
        collector,
        mail_from=settings.mail_from,
        base_url="https://care.example.com",
        secret_key=settings.secret_key,
        policy=outreach.policy,
    )
    try:
        sent = await ActivityEnvironment().run(
            outreach.send_email, request("ack", "complaint_ack", "transactional", NOON)
        )
    finally:
        await outreach.close()
    assert sent.status == "sent", sent.reason
    [message] = collector.messages
    assert message["Message-ID"] == sent.message_id
    assert message["Content-Language"] == "en"
