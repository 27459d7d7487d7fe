"""SMS providers' callbacks: an opt-out reply withdraws SMS marketing consent once, and a
delivery receipt updates the message's ledger row."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from careflow.api.app import create_app
from careflow.api.state import ApiState
from careflow.config import Settings
from careflow.intake.apply import upsert_customer
from careflow.intake.records import CustomerFields
from careflow.store import Consent, Database, Event, OutreachLedger


@pytest.fixture
async def api(
    db: Database, workflow_env: WorkflowEnvironment, settings: Settings
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(ApiState(db, workflow_env.client, settings.task_queue, settings.secret_key))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://careflow.test"
    ) as client:
        yield client


async def test_an_opt_out_reply_withdraws_sms_marketing_consent_once(
    api: httpx.AsyncClient, db: Database
) -> None:
    now = datetime.now(UTC)
    async with db.session() as session:
        await upsert_customer(session, "c-sms", CustomerFields(phone="138 0013 8000"), now)
        await upsert_customer(session, "c-other", CustomerFields(phone="13900139000"), now)
    reply = {"from": "+8613800138000", "text": "退订", "reply_id": "up-1"}
    first = await api.post("/sms/replies", json=reply)
    again = await api.post("/sms/replies", json=reply)  # the provider's retry
    chatter = await api.post("/sms/replies", json={"from": "13900139000", "text": "谢谢"})
    assert first.json() == {"code": 0, "msg": "ok", "opted_out": 1}
    assert again.status_code == 200
    assert chatter.json()["opted_out"] == 0
    async with db.session() as session:
        consents = [
            (row.channel, row.topic, row.granted, row.source)
            for row in await session.scalars(select(Consent))
        ]
        events = list(await session.scalars(select(Event).where(Event.type == "consent_changed")))
    assert consents == [("sms", "marketing", False, "sms_reply")]
    assert [event.customer_external_id for event in events] == ["c-sms"]


async def test_an_alibaba_cloud_reply_list_and_a_bad_number(api: httpx.AsyncClient) -> None:
    bad = await api.post("/sms/replies", json=[{"phone_number": "12345", "content": "TD"}])
    assert bad.status_code == 422
    assert "not a valid number" in bad.text or "not a phone number" in bad.text


async def test_receipts_mark_the_ledger_delivered_or_failed_with_the_code(
    api: httpx.AsyncClient, db: Database
) -> None:
    now = datetime.now(UTC)
    async with db.session() as session:
        for key, message_id in (("wf/a", "cf-a"), ("wf/b", "cf-b")):
            session.add(
                OutreachLedger(
                    idempotency_key=key,
                    workflow_id="wf",
                    step_id=key,
                    template_id="complaint_ack",
                    channel="sms",
                    topic="transactional",
                    status="sent",
                    message_id=message_id,
                    created_at=now,
                    updated_at=now,
                    sent_at=now,
                )
            )
    generic = await api.post(
        "/sms/receipts", json={"message_id": "cf-a", "status": "delivered", "code": "DELIVRD"}
    )
    aliyun = await api.post(
        "/sms/receipts",
        json=[{"out_id": "cf-b", "success": False, "err_code": "MK:0001", "biz_id": "b"}],
    )
    unknown = await api.post("/sms/receipts", json={"message_id": "cf-z", "status": "failed"})
    assert (generic.json()["updated"], aliyun.json()["updated"], unknown.json()["updated"]) == (
        1,
        1,
        0,
    )
    async with db.session() as session:
        rows = {
            row.message_id: (row.status, row.receipt)
            for row in await session.scalars(select(OutreachLedger))
        }
    assert rows == {"cf-a": ("sent", "delivered"), "cf-b": ("sent", "failed: MK:0001")}
