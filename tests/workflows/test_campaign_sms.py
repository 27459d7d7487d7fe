"""A campaign with `channel: sms` sends each eligible member exactly one SMS (through the
capture gateway) and no email; a member without a phone number or without SMS consent
is skipped with that reason, never emailed instead, and the preview names the same
reasons."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update
from temporalio.testing import WorkflowEnvironment

from careflow.campaigns.preview import preview_configured
from careflow.channels.sending import SmsChannel
from careflow.config import Settings
from careflow.paths import TEMPLATES_DIR
from careflow.runtime.http_capture import CaptureHttpServer
from careflow.store import Consent, Customer, Database, OutreachLedger
from careflow.workflows.campaign import CampaignWorkflow
from tests.campaigns.harness import (
    campaign_file,
    campaign_name,
    campaign_worker,
    launch_as_operator,
    rules_folder,
)
from tests.smtp_sink import SmtpSink
from tests.workflows.harness import add_customer

# Members of the `vips` segment: two reachable by SMS, one without a number, one who
# agreed to marketing by email only; and one customer outside the segment.
BY_SMS = {"vip-sms-1": "+86 138 0013 8001", "vip-sms-2": "+86 138 0013 8002"}


@pytest.fixture
async def capture(tmp_path: Path) -> AsyncIterator[CaptureHttpServer]:
    server = CaptureHttpServer(tmp_path / "outbox", 0)
    await server.start()
    yield server
    await server.stop()


async def _sms_consent(db: Database, customer_id: str, at: datetime) -> None:
    async with db.session() as session:
        customer_pk = await session.scalar(
            select(Customer.id).where(Customer.external_id == customer_id)
        )
        assert customer_pk is not None
        session.add(
            Consent(
                customer_id=customer_pk,
                channel="sms",
                topic="marketing",
                granted=True,
                source="test",
                recorded_at=at,
            )
        )


async def _customers(db: Database) -> None:
    joined = datetime.now(UTC) - timedelta(days=30)
    for customer, phone in BY_SMS.items():
        await add_customer(db, customer, tier="vip", phone=phone, now=joined)
        await _sms_consent(db, customer, joined)
    await add_customer(db, "vip-no-phone", tier="vip", now=joined)
    await _sms_consent(db, "vip-no-phone", joined)
    await add_customer(db, "vip-email-only", tier="vip", phone="+86 138 0013 8003", now=joined)
    await add_customer(db, "regular-1", tier="regular", phone="+86 138 0013 8004", now=joined)
    await _sms_consent(db, "regular-1", joined)


def _captured(tmp_path: Path) -> list[dict[str, object]]:
    return [
        json.loads(path.read_text(encoding="utf-8"))["request"]
        for path in sorted((tmp_path / "outbox" / "sms").glob("*.json"))
    ]


async def test_a_campaign_by_sms_sends_one_sms_per_eligible_member_and_no_email(
    workflow_env: WorkflowEnvironment,
    journey_settings: Settings,
    journey_config: Path,
    db: Database,
    smtp_sink: SmtpSink,
    capture: CaptureHttpServer,
    tmp_path: Path,
) -> None:
    name = campaign_name(journey_settings)
    text = campaign_file(channel="sms", template="member_day", locales="[zh-CN, en]")
    rules = rules_folder(tmp_path, {name: text})
    # The shipped templates: member_day's email and SMS versions.
    settings = journey_settings.model_copy(
        update={"rules_dir": rules, "templates_dir": TEMPLATES_DIR}
    )
    await _customers(db)

    # The preview, before the launch, names who is left out and why.
    preview = await preview_configured(settings, db, name, at=datetime.now(UTC))
    assert (preview.audience, preview.channel) == (4, "sms")
    assert preview.eligible == 2
    assert dict(preview.excluded) == {"no_address": 1, "no_marketing_consent": 1}
    assert preview.samples == {
        "no_address": ["vip-no-phone"],
        "no_marketing_consent": ["vip-email-only"],
    }

    client = workflow_env.client
    sms = SmsChannel(rules, settings.templates_dir, capture_url=capture.url)
    try:
        async with campaign_worker(client, settings, db, journey_config, sms=sms):
            launched = await launch_as_operator(client, db, name, settings)
            assert not launched.problems
            handle = client.get_workflow_handle_for(CampaignWorkflow.run, f"campaign-{name}")
            progress = await handle.result()
    finally:
        await sms.close()

    sent = _captured(tmp_path)
    assert sorted(str(message["to"]) for message in sent) == ["+8613800138001", "+8613800138002"]
    for message in sent:
        assert str(message["text"]).startswith("【careflow】")
        assert str(message["text"]).endswith("拒收请回复R")  # a marketing SMS
        assert message["template_code"] == "SMS_CAREFLOW_MEMBER_DAY"
    assert smtp_sink.messages == []  # nobody was emailed instead
    assert (progress.sent, progress.skipped) == (2, preview.excluded)
    async with db.session() as session:
        rows = (
            await session.execute(
                select(OutreachLedger.step_id, OutreachLedger.channel, OutreachLedger.reason)
                .where(OutreachLedger.workflow_id == f"campaign-{name}")
                .order_by(OutreachLedger.step_id)
            )
        ).all()
    assert [(step, channel) for step, channel, _ in rows] == [
        ("vip-email-only", "sms"),
        ("vip-no-phone", "sms"),
        ("vip-sms-1", "sms"),
        ("vip-sms-2", "sms"),
    ]
    reasons = {step: reason for step, _, reason in rows}
    assert reasons["vip-no-phone"] == "no_address: no phone number on file"
    assert str(reasons["vip-email-only"]).startswith("no_marketing_consent")


async def test_a_campaign_to_the_preferred_channel_follows_each_customer(
    workflow_env: WorkflowEnvironment,
    journey_settings: Settings,
    journey_config: Path,
    db: Database,
    smtp_sink: SmtpSink,
    capture: CaptureHttpServer,
    tmp_path: Path,
) -> None:
    name = campaign_name(journey_settings)
    text = campaign_file(channel="preferred", template="member_day", locales="[zh-CN, en]")
    rules = rules_folder(tmp_path, {name: text})
    settings = journey_settings.model_copy(
        update={"rules_dir": rules, "templates_dir": TEMPLATES_DIR}
    )
    await _customers(db)
    # vip-sms-1 prefers SMS; vip-email-only prefers SMS but agreed to marketing by
    # email only: it falls back along sms.yaml's order (member_day: [email, sms]).
    async with db.session() as session:
        await session.execute(
            update(Customer)
            .where(Customer.external_id.in_(["vip-sms-1", "vip-email-only"]))
            .values(preferred_channel="sms")
        )
    client = workflow_env.client
    sms = SmsChannel(rules, settings.templates_dir, capture_url=capture.url)
    try:
        async with campaign_worker(client, settings, db, journey_config, sms=sms):
            launched = await launch_as_operator(client, db, name, settings)
            assert not launched.problems
            handle = client.get_workflow_handle_for(CampaignWorkflow.run, f"campaign-{name}")
            progress = await handle.result()
    finally:
        await sms.close()

    assert [message["to"] for message in _captured(tmp_path)] == ["+8613800138001"]
    emailed = sorted(str(message["To"]).split("@")[0] for message in smtp_sink.messages)
    assert emailed == ["vip-email-only", "vip-no-phone", "vip-sms-2"]
    assert (progress.sent, progress.skipped) == (4, {})
