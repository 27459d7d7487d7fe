"""SMS and webhook deliveries while the worker is SIGKILLed and restarted: 0 lost, no
delivery under two ids, every repeat explained by a kill.

`careflow up` runs as a child process with its capture SMS gateway; half the
customers prefer SMS, so their complaint acknowledgements go through the gateway,
the others' by email. Every sent message is also a `message.sent` webhook to a
receiver in this test process (which outlives the kills). A kill can cut an SMS
exchange or a webhook attempt after the other side took it: that one is sent
again under the same id (the SMS's message id, the webhook-id). The test counts
SMS and email repeats against the exchanges a kill can cut (sms.yaml's in_flight
SMS, one SMTP), and traces each webhook repeat to a kill (a kill cuts every webhook
attempt then in flight).
"""

from __future__ import annotations

import asyncio
import json
import random
import shutil
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path

import pytest
from sqlalchemy import func, select
from standardwebhooks import Webhook
from temporalio.client import Client

from careflow.channels.config import SMS_FILE_NAME, load_sms_config
from careflow.intake.apply import open_complaint, upsert_customer
from careflow.intake.records import ComplaintFields, CustomerFields
from careflow.paths import RULES_DIR
from careflow.runtime.temporal_server import EmbeddedTemporal
from careflow.store import Database, OutreachLedger, WebhookDelivery
from tests.faults.harness import CareflowUp, sized, start_complaint_journeys, wait_until
from tests.smtp_sink import SmtpSink, free_port
from tests.webhooks.receivers import Receivers, running_receivers

JOURNEYS = sized(60, 300)
KILLS = sized(3, 6)
SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@pytest.fixture
async def receivers() -> AsyncIterator[Receivers]:
    async with running_receivers() as state:
        yield state


def operator_rules(folder: Path, receivers: Receivers) -> Path:
    shutil.copytree(RULES_DIR, folder, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    (folder / "webhooks.yaml").write_text(
        "endpoints:\n  faults:\n"
        f"    url: {receivers.base}/hook\n"
        "    secret_env: FAULT_WEBHOOK_SECRET\n"
        "    events: [message.sent]\n"
        "    pause_after_failures: 1000\n",
        encoding="utf-8",
    )
    (folder / "staff_alerts.yaml").write_text("teams: {}\n", encoding="utf-8")
    return folder


async def seed(db: Database) -> None:
    now = datetime.now(UTC)
    async with db.session() as session:
        for number in range(JOURNEYS):
            customer, _ = await upsert_customer(
                session,
                f"c{number}",
                CustomerFields(
                    email=f"c{number}@example.com",
                    phone=f"+86 138 {number:08d}",
                    locale="zh-CN",
                    preferred_channel="sms" if number % 2 == 0 else "email",
                ),
                now,
            )
            await open_complaint(session, customer, ComplaintFields(complaint_id=f"k{number}"), now)


def captured_sms(home: Path) -> Counter[str]:
    folder = home / "outbox" / "sms"
    return Counter(
        str(json.loads(path.read_text(encoding="utf-8"))["request"]["message_id"])
        for path in (folder.glob("*.json") if folder.exists() else [])
    )


@pytest.mark.timeout(900)
async def test_kills_lose_no_sms_and_no_webhook(
    tmp_path: Path,
    temporal: EmbeddedTemporal,
    sqlite_store: Database,
    smtp_sink: SmtpSink,
    receivers: Receivers,
) -> None:
    chaos = random.Random(20261202)
    await seed(sqlite_store)
    rules = operator_rules(tmp_path / "rules", receivers)
    sms_config = load_sms_config(rules / SMS_FILE_NAME)
    assert sms_config is not None
    in_flight = sms_config.in_flight
    careflow = CareflowUp(
        tmp_path,
        temporal=temporal.address,
        database_url=str(sqlite_store.url),
        smtp_port=smtp_sink.port,
        env={
            "CAREFLOW_RULES_DIR": str(rules),
            "CAREFLOW_CAPTURE_HTTP_PORT": str(free_port()),
            "FAULT_WEBHOOK_SECRET": SECRET,
        },
    )
    home = tmp_path / "var"
    careflow.start()
    client = await Client.connect(temporal.address)
    await start_complaint_journeys(client, range(JOURNEYS))

    async def all_acknowledged() -> bool:
        async with sqlite_store.session() as session:
            sent = await session.scalar(
                select(func.count())
                .select_from(OutreachLedger)
                .where(OutreachLedger.step_id == "ack", OutreachLedger.status == "sent")
            )
            waiting = await session.scalar(
                select(func.count())
                .select_from(WebhookDelivery)
                .where(WebhookDelivery.status != "delivered")
            )
            made = await session.scalar(select(func.count()).select_from(WebhookDelivery))
        return sent == JOURNEYS and made == JOURNEYS and waiting == 0

    try:
        for _ in range(KILLS):
            await asyncio.sleep(chaos.uniform(1.0, 4.0))
            careflow.kill()
            await asyncio.sleep(chaos.uniform(0.2, 1.0))
            careflow.start()
        await wait_until(
            all_acknowledged,
            within_seconds=400,
            failure=lambda: "not every acknowledgement was sent and reported",
            watch=careflow,
        )
    finally:
        careflow.stop()

    async with sqlite_store.session() as session:
        ledger = list(await session.scalars(select(OutreachLedger)))
        deliveries = list(await session.scalars(select(WebhookDelivery)))
    by_channel = Counter(row.channel for row in ledger)
    assert by_channel == {"sms": JOURNEYS // 2, "email": JOURNEYS - JOURNEYS // 2}

    sms_ids = {row.message_id for row in ledger if row.channel == "sms"}
    received_sms = captured_sms(home)
    sms_repeats = sum(count - 1 for count in received_sms.values())
    assert set(received_sms) == sms_ids, "every SMS arrived, under its own id only"

    with smtp_sink.lock:
        emails = Counter(message["Message-ID"] for message in smtp_sink.messages)
    assert set(emails) == {row.message_id for row in ledger if row.channel == "email"}
    email_repeats = sum(count - 1 for count in emails.values())

    hooks = receivers.on("/hook")
    verifier = Webhook(SECRET)
    about: dict[str, set[str]] = {}
    for hook in hooks:
        # The signature is checked with the library; the timestamp is the attempt's,
        # which the verifier accepts within five minutes of now.
        payload = verifier.verify(hook.body, hook.headers)
        about.setdefault(payload["data"]["message_id"], set()).add(hook.headers["webhook-id"])
    webhook_ids = Counter(hook.headers["webhook-id"] for hook in hooks)
    webhook_repeats = sum(count - 1 for count in webhook_ids.values())
    assert set(webhook_ids) == {delivery.delivery_id for delivery in deliveries}, "0 lost"
    assert set(about) == {row.message_id for row in ledger}, "one webhook per sent message"
    assert all(len(ids) == 1 for ids in about.values()), "no message under two webhook ids"
    print(
        f"\n{KILLS} kills: {len(ledger)} messages ({by_channel['sms']} SMS), "
        f"{len(deliveries)} webhooks; repeats: {sms_repeats} SMS, {email_repeats} email, "
        f"{webhook_repeats} webhook (at most {KILLS * in_flight} SMS, {KILLS} email)"
    )
    # A kill cuts at most the exchanges open then: one SMTP exchange, and sms.yaml's
    # in_flight SMS exchanges, each holding its slot until its `sent` mark is written.
    assert sms_repeats <= KILLS * in_flight, "an SMS repeat only for an exchange cut by a kill"
    assert email_repeats <= KILLS, "an email repeat only for the exchange a kill cut"
    # A kill cuts every attempt in flight at once (a round posts up to 20 side by
    # side), so repeats are not bounded by the kills; each must be explained by one.
    arrivals: dict[str, list[float]] = {}
    for hook in hooks:
        arrivals.setdefault(hook.headers["webhook-id"], []).append(hook.at)
    unexplained = [
        webhook_id
        for webhook_id, times in arrivals.items()
        for first, again in pairwise(times)
        if not careflow.cut_by_a_kill(first, again)
    ]
    assert not unexplained, "a repeat only for an attempt cut by a kill"
