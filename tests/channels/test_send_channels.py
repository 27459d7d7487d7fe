"""The send step choosing a channel: a customer who prefers SMS gets it by SMS (through the
capture gateway); without SMS marketing consent the offer goes by email, with the reason;
with neither, it is skipped with both reasons; the budget counts both channels."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import shutil
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select
from temporalio.testing import ActivityEnvironment

from careflow.activities.outreach import OutreachActivities, SendEmailInput
from careflow.channels.sending import SmsChannel, sms_message_id
from careflow.config import Settings
from careflow.intake.apply import open_complaint, set_consent, upsert_customer
from careflow.intake.records import ComplaintFields, ConsentFields, CustomerFields
from careflow.paths import RULES_DIR
from careflow.runtime.api_service import ApiServer, api_server_config
from careflow.runtime.http_capture import CaptureHttpServer
from careflow.store import Customer, Database, OutreachLedger
from tests.faults.harness import wait_until
from tests.send_step import send_step
from tests.smtp_sink import SmtpSink

NOON = datetime(2031, 3, 4, 12, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
OFFER: dict[str, str | int | float | bool] = {
    "offer_value": 50,
    "offer_currency": "CNY",
    "offer_code": "BACK-50",
    "offer_expires_at": "2031-03-18T00:00:00+08:00",
}


@pytest.fixture
async def capture(tmp_path: Path) -> AsyncIterator[CaptureHttpServer]:
    server = CaptureHttpServer(tmp_path / "outbox", 0)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def outreach(
    db: Database, settings: Settings, tmp_path: Path, capture: CaptureHttpServer
) -> AsyncIterator[OutreachActivities]:
    rules = tmp_path / "rules"
    shutil.copytree(RULES_DIR, rules, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    (rules / "sms.yaml").write_text(
        (rules / "sms.yaml")
        .read_text(encoding="utf-8")
        .replace("complaint_ack: [email, sms]", "complaint_ack: [sms, email]"),
        encoding="utf-8",
    )
    sms = SmsChannel(rules, settings.templates_dir, capture_url=capture.url)
    activities = send_step(db, settings, rules_dir=rules, sms=sms)
    yield activities
    await activities.close()


async def add(db: Database, customer_id: str, **fields: str) -> Customer:
    async with db.session() as session:
        customer, _ = await upsert_customer(
            session,
            customer_id,
            CustomerFields(locale="zh-CN", timezone="Asia/Shanghai", **fields),  # type: ignore[arg-type]
            NOON,
        )
        await open_complaint(
            session, customer, ComplaintFields(complaint_id=f"k-{customer_id}"), NOON
        )
        return customer


async def consent(db: Database, customer: Customer, channel: str, granted: bool) -> None:
    async with db.session() as session:
        stored = await session.get(Customer, customer.id)
        assert stored is not None
        fields = ConsentFields(channel=channel, topic="marketing", granted=granted)  # type: ignore[arg-type]
        await set_consent(session, stored, fields, NOON)


def send(customer_id: str, step: str, template: str, topic: str) -> SendEmailInput:
    params: dict[str, str | int | float | bool] = {"complaint_id": f"k-{customer_id}"}
    if template == "retention_offer":
        params.update(OFFER)
    return SendEmailInput(
        workflow_id=f"journey-{customer_id}",
        step_id=step,
        customer_id=customer_id,
        template_id=template,
        topic=topic,
        params=params,
        planned_at=NOON,
    )


def captured_sms(tmp_path: Path) -> list[dict[str, object]]:
    folder = tmp_path / "outbox" / "sms"
    return [
        json.loads(path.read_text(encoding="utf-8"))["request"]
        for path in sorted(folder.glob("*.json"))
    ]


async def test_a_customer_who_prefers_sms_gets_the_acknowledgement_and_offer_by_sms(
    db: Database, outreach: OutreachActivities, tmp_path: Path, smtp_sink: SmtpSink
) -> None:
    customer = await add(
        db, "c-sms", phone="138 0013 8000", email="li@example.com", preferred_channel="sms"
    )
    await consent(db, customer, "sms", True)
    env = ActivityEnvironment()
    ack = await env.run(outreach.send_email, send("c-sms", "ack", "complaint_ack", "transactional"))
    again = await env.run(
        outreach.send_email, send("c-sms", "ack", "complaint_ack", "transactional")
    )
    offer = await env.run(
        outreach.send_email, send("c-sms", "offer", "retention_offer", "marketing")
    )
    # The retry reports the channel the message went on, not the default.
    assert (ack.status, ack.channel) == (again.status, again.channel) == ("sent", "sms")
    assert (offer.status, offer.channel) == ("sent", "sms")
    assert ack.message_id == sms_message_id("journey-c-sms/ack")
    ack_sms, offer_sms = captured_sms(tmp_path)  # the retry sent nothing
    assert ack_sms["to"] == "+8613800138000"
    assert str(ack_sms["text"]).startswith("【careflow】我们已收到您的反馈，案件编号k-c-sms")
    assert ack_sms["template_code"] == "SMS_CAREFLOW_ACK"
    assert ack_sms["params"] == {"reference": "k-c-sms"}
    assert str(offer_sms["text"]).endswith("拒收请回复R")
    assert smtp_sink.messages == []
    async with db.session() as session:
        channels = [row.channel for row in await session.scalars(select(OutreachLedger))]
    assert channels == ["sms", "sms"]


async def test_without_sms_marketing_consent_the_offer_goes_by_email_with_the_reason(
    db: Database, outreach: OutreachActivities, tmp_path: Path, smtp_sink: SmtpSink
) -> None:
    customer = await add(
        db, "c-mail", phone="13900139000", email="wang@example.com", preferred_channel="sms"
    )
    await consent(db, customer, "sms", False)
    await consent(db, customer, "email", True)
    result = await ActivityEnvironment().run(
        outreach.send_email, send("c-mail", "offer", "retention_offer", "marketing")
    )
    assert (result.status, result.channel) == ("sent", "email")
    [email] = await smtp_sink.wait_for(1)
    assert email["To"] == "wang@example.com"
    assert captured_sms(tmp_path) == []
    async with db.session() as session:
        row = await session.scalar(select(OutreachLedger))
    assert row is not None
    assert (row.channel, row.status) == ("email", "sent")
    assert row.reason is not None
    assert row.reason.startswith("sms: opted_out")  # SMS marketing consent withdrawn


async def test_with_no_channel_allowed_the_offer_is_skipped_with_each_reason(
    db: Database, outreach: OutreachActivities, tmp_path: Path
) -> None:
    await add(db, "c-none", phone="12345", preferred_channel="sms")
    result = await ActivityEnvironment().run(
        outreach.send_email, send("c-none", "offer", "retention_offer", "marketing")
    )
    assert result.status == "skipped"
    assert result.reason is not None
    assert result.reason.startswith("no_address: sms: '12345' is not a valid number")
    assert "email: no_address: no email address on file" in result.reason
    assert captured_sms(tmp_path) == []


async def test_a_request_for_one_channel_never_goes_on_the_other(
    db: Database, outreach: OutreachActivities, tmp_path: Path, smtp_sink: SmtpSink
) -> None:
    # Both prefer SMS and could get the offer by email; a campaign's `channel: sms` or
    # `channel: email` (SendEmailInput.channel) is that channel alone.
    withdrawn = await add(
        db, "c-no-sms", phone="13900139000", email="wang@example.com", preferred_channel="sms"
    )
    await consent(db, withdrawn, "sms", False)
    await consent(db, withdrawn, "email", True)
    both = await add(
        db, "c-both", phone="13900139001", email="zhao@example.com", preferred_channel="sms"
    )
    await consent(db, both, "sms", True)
    await consent(db, both, "email", True)
    env = ActivityEnvironment()
    by_sms = dataclasses.replace(
        send("c-no-sms", "offer", "retention_offer", "marketing"), channel="sms"
    )
    by_email = dataclasses.replace(
        send("c-both", "offer", "retention_offer", "marketing"), channel="email"
    )
    skipped = await env.run(outreach.send_email, by_sms)
    emailed = await env.run(outreach.send_email, by_email)
    assert (skipped.status, skipped.channel) == ("skipped", "sms")
    assert skipped.reason is not None
    assert skipped.reason.startswith("opted_out")  # no fallback to email, no "sms: " list
    assert (emailed.status, emailed.channel, emailed.reason) == ("sent", "email", None)
    [email] = await smtp_sink.wait_for(1)
    assert email["To"] == "zhao@example.com"
    assert captured_sms(tmp_path) == []


async def test_a_worker_keeps_at_most_in_flight_sms_exchanges_open(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    # What a crash can send twice is what a worker has sent but not yet marked; sms.yaml's
    # in_flight bounds it. A slow gateway holds every request until told to answer.
    answer = asyncio.Event()
    open_now, peak, arrived = 0, 0, 0
    gateway = FastAPI()

    @gateway.post("/sms")
    async def take(request: Request) -> JSONResponse:
        nonlocal open_now, peak, arrived
        body = await request.json()
        open_now, arrived = open_now + 1, arrived + 1
        peak = max(peak, open_now)
        await answer.wait()
        open_now -= 1
        return JSONResponse({"message_id": f"gw-{body['message_id']}"})

    server = ApiServer(api_server_config(gateway, "127.0.0.1", 0))
    serving = await server.serve_until_listening()
    port = server.servers[0].sockets[0].getsockname()[1]
    rules = tmp_path / "rules"
    shutil.copytree(RULES_DIR, rules, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    sms_yaml = (rules / "sms.yaml").read_text(encoding="utf-8")
    (rules / "sms.yaml").write_text(
        sms_yaml.replace("  url: capture", f"  url: http://127.0.0.1:{port}/sms")
        .replace("complaint_ack: [email, sms]", "complaint_ack: [sms, email]")
        .replace("in_flight: 4\n", "in_flight: 2\n"),
        encoding="utf-8",
    )
    outreach = send_step(
        db, settings, rules_dir=rules, sms=SmsChannel(rules, settings.templates_dir)
    )
    names = [f"c-{number}" for number in range(5)]
    for number, name in enumerate(names):
        await add(db, name, phone=f"138 0013 80{number:02d}", preferred_channel="sms")
    try:
        sends = [
            asyncio.create_task(
                ActivityEnvironment().run(
                    outreach.send_email, send(name, "ack", "complaint_ack", "transactional")
                )
            )
            for name in names
        ]
        await wait_until(
            lambda: arrived >= 2,
            within_seconds=30,
            failure=lambda: f"{arrived} SMS reached the held gateway",
            interval=0.02,
        )
        answer.set()
        results = await asyncio.gather(*sends)
    finally:
        await outreach.close()
        await server.stop()
        await serving
    assert [(result.status, result.channel) for result in results] == [("sent", "sms")] * 5
    assert arrived == 5
    assert peak == 2
