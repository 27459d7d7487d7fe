"""Webhooks and staff robots: signed, exactly once per delivery id, backing off, paused."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from standardwebhooks import Webhook
from temporalio.testing import WorkflowEnvironment

from careflow.activities.dispatch import DispatchActivities, DispatchInput
from careflow.config import Settings
from careflow.intake.apply import set_consent, upsert_customer
from careflow.intake.records import ConsentFields, CustomerFields
from careflow.rules.intents import Intent
from careflow.staff_alerts import task_event_data
from careflow.store import Customer, Database, Task, WebhookDelivery
from careflow.webhooks.config import (
    StaffAlertsConfigError,
    WebhooksConfigError,
    load_staff_alerts_config,
    load_webhooks_config,
)
from careflow.webhooks.dispatcher import WebhookDispatcher
from careflow.webhooks.events import TASK_CREATED, record_event_async
from careflow.webhooks.outbox import endpoint_statuses, resume_endpoint
from careflow.workflows.registry import JOURNEYS
from tests.faults.harness import wait_until
from tests.webhooks.receivers import (
    DINGTALK_SECRET,
    DINGTALK_TOKEN,
    WECOM_KEY,
    Receivers,
    running_receivers,
)

SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # base64 of 24 bytes


@pytest.fixture
async def receivers() -> AsyncIterator[Receivers]:
    async with running_receivers() as state:
        yield state


def write_rules(folder: Path, receivers: Receivers, *, pause_after: int = 3) -> Path:
    folder.mkdir(exist_ok=True)
    (folder / "webhooks.yaml").write_text(
        "endpoints:\n"
        "  crm:\n"
        f"    url: {receivers.base}/hook\n"
        "    secret_env: TEST_WEBHOOK_SECRET\n"
        "    events: [task.created, consent.changed]\n"
        f"    pause_after_failures: {pause_after}\n",
        encoding="utf-8",
    )
    (folder / "staff_alerts.yaml").write_text(
        "teams:\n"
        "  service:\n"
        "    robots:\n"
        "      - kind: wecom\n"
        "        url_env: TEST_WECOM_URL\n"
        "      - kind: dingtalk\n"
        "        url_env: TEST_DINGTALK_URL\n"
        "        secret_env: TEST_DINGTALK_SECRET\n"
        "      - kind: slack\n"
        f"        url: {receivers.base}/slack\n",
        encoding="utf-8",
    )
    return folder


@pytest.fixture
def rules_dir(tmp_path: Path, receivers: Receivers, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TEST_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("TEST_WECOM_URL", f"{receivers.base}/wecom/send?key={WECOM_KEY}")
    monkeypatch.setenv(
        "TEST_DINGTALK_URL", f"{receivers.base}/dingtalk/send?access_token={DINGTALK_TOKEN}"
    )
    monkeypatch.setenv("TEST_DINGTALK_SECRET", DINGTALK_SECRET)
    return write_rules(tmp_path / "rules", receivers)


async def customer(db: Database, now: datetime) -> Customer:
    async with db.session() as session:
        found, _ = await upsert_customer(
            session, "c-1", CustomerFields(name="Li Lei", email="li@example.com"), now
        )
        return found


async def open_team_task(db: Database, customer_pk: int, now: datetime) -> None:
    async with db.session() as session:
        session.add(
            Task(
                idempotency_key="wf-1/call",
                kind="call",
                assignee="service@example.com",
                customer_id=customer_pk,
                workflow_id="wf-1",
                title="Call about the lost parcel",
                status="open",
                created_at=now,
            )
        )
        await record_event_async(
            session,
            TASK_CREATED,
            "wf-1/call",
            task_event_data("wf-1/call", "service"),
            customer_pk=customer_pk,
            at=now,
        )


async def customer_with_team_task(db: Database, now: datetime) -> Customer:
    """A customer with an open task for the service team: one `task.created` event."""
    who = await customer(db, now)
    await open_team_task(db, who.id, now)
    return who


async def test_events_reach_subscribers_signed_and_robots_in_their_formats(
    db: Database, rules_dir: Path, receivers: Receivers, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="careflow.webhooks.dispatcher")
    now = datetime.now(UTC)
    who = await customer_with_team_task(db, now)
    async with db.session() as session:
        stored = await session.get(Customer, who.id)
        assert stored is not None
        fields = ConsentFields(channel="sms", topic="marketing", granted=False, source="sms_reply")
        await set_consent(session, stored, fields, now)
    dispatcher = WebhookDispatcher(db, rules_dir)
    try:
        assert await dispatcher.run_once(now) == 5  # 2 events to crm, 3 robots for the task
        # A second round finds nothing new: each delivery went out once.
        assert await dispatcher.run_once(now + timedelta(seconds=1)) == 0
    finally:
        await dispatcher.close()

    # The log counts deliveries per endpoint (a line per group recorded together),
    # rather than a line per delivery.
    counted: dict[str, int] = {}
    for record in caplog.records:
        if record.levelno == logging.INFO and record.getMessage().startswith("delivered "):
            _, count, _, endpoint = record.getMessage().split(" ")
            counted[endpoint] = counted.get(endpoint, 0) + int(count)
    assert counted == {
        "crm": 2,
        "staff-service-1-wecom": 1,
        "staff-service-2-dingtalk": 1,
        "staff-service-3-slack": 1,
    }
    hooks = receivers.on("/hook")
    assert len(hooks) == 2
    verifier = Webhook(SECRET)
    payloads = [verifier.verify(item.body, item.headers) for item in hooks]
    assert {payload["type"] for payload in payloads} == {"task.created", "consent.changed"}
    assert len({item.headers["webhook-id"] for item in hooks}) == 2
    consent = next(p for p in payloads if p["type"] == "consent.changed")["data"]
    assert consent == {
        "customer_id": "c-1",
        "channel": "sms",
        "topic": "marketing",
        "granted": False,
        "source": "sms_reply",
    }
    task = next(p for p in payloads if p["type"] == "task.created")["data"]
    assert task["title"] == "Call about the lost parcel"
    assert task["team"] == "service"
    # No contact details leave in a payload.
    assert "li@example.com" not in json.dumps(payloads)
    assert "Li Lei" not in json.dumps(payloads)

    (wecom,) = receivers.on("/wecom/send")
    assert wecom.json["msgtype"] == "text"
    assert "Call about the lost parcel" in wecom.json["text"]["content"]
    (dingtalk,) = receivers.on("/dingtalk/send")
    assert dingtalk.query["timestamp"]
    assert dingtalk.query["sign"]
    (slack,) = receivers.on("/slack")
    assert "c-1" in slack.json["text"]
    statuses = {status.name: status for status in await endpoint_statuses(db)}
    assert {name: status.delivered for name, status in statuses.items()} == {
        "crm": 2,
        "staff-service-1-wecom": 1,
        "staff-service-2-dingtalk": 1,
        "staff-service-3-slack": 1,
    }


async def test_a_delivered_attempt_is_recorded_without_waiting_for_a_slow_one(
    db: Database, rules_dir: Path, receivers: Receivers
) -> None:
    # What a crash sends again is what was delivered but not yet recorded: an
    # attempt that waited for its round's slowest would be repeated too.
    now = datetime.now(UTC)
    await customer_with_team_task(db, now)
    slack_answers = receivers.held["/slack"] = asyncio.Event()

    async def delivered() -> dict[str, str]:
        async with db.session() as session:
            rows = await session.scalars(select(WebhookDelivery))
            return {row.endpoint: row.status for row in rows}

    async def all_but_slack_recorded() -> bool:
        statuses = await delivered()
        return sum(status == "delivered" for status in statuses.values()) == 3

    dispatcher = WebhookDispatcher(db, rules_dir)
    try:
        round_ = asyncio.create_task(dispatcher.run_once(now))
        await wait_until(
            all_but_slack_recorded,
            within_seconds=30,
            failure=lambda: "the answered attempts were not recorded while one was slow",
            interval=0.02,
        )
        assert (await delivered())["staff-service-3-slack"] == "pending"
        assert not round_.done()
        slack_answers.set()
        assert await round_ == 4
    finally:
        await dispatcher.close()
    assert set((await delivered()).values()) == {"delivered"}


async def test_a_refused_robot_call_is_a_failure_with_the_robots_reason(
    db: Database, rules_dir: Path, receivers: Receivers, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_DINGTALK_SECRET", "SECwrong")
    now = datetime.now(UTC)
    await customer_with_team_task(db, now)
    dispatcher = WebhookDispatcher(db, rules_dir)
    try:
        await dispatcher.run_once(now)
    finally:
        await dispatcher.close()
    statuses = {status.name: status for status in await endpoint_statuses(db)}
    dingtalk = statuses["staff-service-2-dingtalk"]
    assert (dingtalk.delivered, dingtalk.pending) == (0, 1)
    assert dingtalk.last_error == "robot refused it: errcode 310000: sign not match"


async def test_a_failing_endpoint_backs_off_is_paused_and_resumes_under_the_same_id(
    db: Database, tmp_path: Path, receivers: Receivers, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_WEBHOOK_SECRET", SECRET)
    rules = write_rules(tmp_path / "rules", receivers, pause_after=2)
    (rules / "staff_alerts.yaml").unlink()
    now = datetime.now(UTC)
    await customer_with_team_task(db, now)
    receivers.failing = True
    dispatcher = WebhookDispatcher(db, rules)
    try:
        assert await dispatcher.run_once(now) == 1
        # Not due again until the backoff has passed.
        assert await dispatcher.run_once(now + timedelta(seconds=4)) == 0
        assert await dispatcher.run_once(now + timedelta(seconds=5)) == 1
        (crm,) = await endpoint_statuses(db)
        assert crm.paused_at is not None
        assert crm.consecutive_failures == 2
        assert crm.last_error is not None
        assert crm.last_error.startswith("HTTP 500")
        # Paused: nothing is attempted, however long it waits, and nothing is dropped.
        receivers.failing = False
        assert await dispatcher.run_once(now + timedelta(minutes=4)) == 0
        (crm,) = await endpoint_statuses(db)
        assert (crm.pending, crm.delivered) == (1, 0)
        assert await resume_endpoint(db, "crm", now + timedelta(minutes=4))
        assert await dispatcher.run_once(now + timedelta(minutes=4)) == 1
    finally:
        await dispatcher.close()
    hooks = receivers.on("/hook")
    assert len(hooks) == 3
    assert len({item.headers["webhook-id"] for item in hooks}) == 1
    Webhook(SECRET).verify(hooks[-1].body, hooks[-1].headers)
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(WebhookDelivery)) == 1
    (crm,) = await endpoint_statuses(db)
    assert (crm.delivered, crm.pending, crm.paused_at) == (1, 0, None)


@pytest.mark.parametrize("bypassed", [False, True], ids=["through the proxy", "NO_PROXY"])
async def test_deliveries_go_through_the_proxy_the_environment_names(
    db: Database,
    tmp_path: Path,
    receivers: Receivers,
    monkeypatch: pytest.MonkeyPatch,
    bypassed: bool,
) -> None:
    # The receiver's name exists only behind the proxy (`.test` never resolves); the
    # loopback receivers stand in for the proxy, which is sent the absolute URL.
    monkeypatch.setenv("TEST_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("HTTP_PROXY", receivers.base)
    monkeypatch.setenv("NO_PROXY", "crm.proxied.test" if bypassed else "")
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "webhooks.yaml").write_text(
        "endpoints:\n"
        "  crm:\n"
        "    url: http://crm.proxied.test/hook\n"
        "    secret_env: TEST_WEBHOOK_SECRET\n"
        "    events: [task.created]\n",
        encoding="utf-8",
    )
    now = datetime.now(UTC)
    await customer_with_team_task(db, now)
    dispatcher = WebhookDispatcher(db, rules)
    try:
        assert await dispatcher.run_once(now) == 1
    finally:
        await dispatcher.close()
    (crm,) = await endpoint_statuses(db)
    if bypassed:
        # Connected directly, where the name does not resolve: kept for a retry.
        assert receivers.on("/hook") == []
        assert (crm.delivered, crm.pending) == (0, 1)
        assert crm.last_error is not None
        assert "crm.proxied.test" in crm.last_error
    else:
        (hook,) = receivers.on("/hook")
        assert hook.headers["host"] == "crm.proxied.test"
        Webhook(SECRET).verify(hook.body, hook.headers)
        assert (crm.delivered, crm.pending) == (1, 0)


def test_mistakes_in_the_files_are_named_with_line_and_column(tmp_path: Path) -> None:
    webhooks = tmp_path / "webhooks.yaml"
    webhooks.write_text(
        "endpoints:\n  crm:\n    url: ftp://x\n    events: [task.opened]\n", encoding="utf-8"
    )
    with pytest.raises(WebhooksConfigError) as error:
        load_webhooks_config(webhooks)
    problems = "\n".join(error.value.problems)
    assert "webhooks.yaml:4:14: endpoints.crm.events.0:" in problems
    assert "webhooks.yaml:3:5: endpoints.crm.url: expected an http:// or https:// URL" in problems
    staff = tmp_path / "staff_alerts.yaml"
    staff.write_text(
        "teams:\n  service:\n    robots:\n      - kind: wecom\n        url: capture\n"
        "        secret_env: X\n",
        encoding="utf-8",
    )
    with pytest.raises(StaffAlertsConfigError) as error:
        load_staff_alerts_config(staff)
    assert error.value.problems == [
        "staff_alerts.yaml:4:9: teams.service.robots.0: secret_env: only DingTalk robots sign "
        "their URL"
    ]


async def test_a_rules_webhook_action_is_delivered_once_per_trigger(
    db: Database,
    rules_dir: Path,
    receivers: Receivers,
    workflow_env: WorkflowEnvironment,
    settings: Settings,
) -> None:
    now = datetime.now(UTC)
    await customer(db, now)
    dispatch = DispatchActivities(
        workflow_env.client, db, settings.task_queue, JOURNEYS, secret_key=settings.secret_key
    )
    intent = Intent(
        action="call_webhook",
        rule_id="lapsing-vip",
        ruleset="retention",
        ruleset_hash="0" * 64,
        webhook="crm",
        params={"segment": "lapsing"},
    )
    first = await dispatch.dispatch(DispatchInput(customer_id="c-1", intents=[intent], at=now))
    # A retried activity:
    await dispatch.dispatch(DispatchInput(customer_id="c-1", intents=[intent], at=now))
    assert first.webhooks == ["crm"]
    dispatcher = WebhookDispatcher(db, rules_dir)
    try:
        assert await dispatcher.run_once(now) == 1
    finally:
        await dispatcher.close()
    (hook,) = receivers.on("/hook")
    payload = Webhook(SECRET).verify(hook.body, hook.headers)
    assert payload["type"] == "rule.fired"
    assert payload["data"] == {
        "customer_id": "c-1",
        "rule_id": "lapsing-vip",
        "ruleset_hash": "0" * 64,
        "subject": None,
        "params": {"segment": "lapsing"},
    }
