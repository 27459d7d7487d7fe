"""Suppression policies (outreach_policy.yaml): conditions over any fact, at send time."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from temporalio.testing import ActivityEnvironment

from careflow.activities.outreach import OutreachActivities, SendEmailInput
from careflow.config import Settings
from careflow.intake.apply import open_complaint, resolve_complaint, set_consent, upsert_customer
from careflow.intake.records import ComplaintFields, ComplaintRef, ConsentFields, CustomerFields
from careflow.outreach.policy_config import load_outreach_policy
from careflow.outreach.suppression import Suppressions, load_suppressions, suppression_problems
from careflow.paths import RULES_DIR
from careflow.store import Customer, Database, OutreachLedger
from tests.activities.test_send_email import NOON, OFFER
from tests.send_step import send_step
from tests.smtp_sink import SmtpSink


@pytest.fixture
async def outreach(db: Database, settings: Settings) -> OutreachActivities:
    """The send step with the shipped policy and its suppressions; a VIP with consent."""
    policy_path = settings.rules_dir / "outreach_policy.yaml"
    activities = send_step(
        db,
        settings,
        suppressions=lambda: load_suppressions(
            load_outreach_policy(policy_path), settings.rules_dir
        ),
    )
    async with db.session() as session:
        customer, _ = await upsert_customer(
            session,
            "c-1",
            CustomerFields(
                name="Emma Clarke",
                email="emma@example.com",
                locale="en",
                timezone="Asia/Shanghai",
                tier="vip",
                created_at=NOON - timedelta(days=400),
            ),
            NOON - timedelta(days=400),
        )
        await set_consent(
            session,
            customer,
            ConsentFields(topic="marketing", granted=True),
            NOON - timedelta(days=400),
        )
    return activities


def send(step: str, template: str, topic: str, at: object, **params: object) -> SendEmailInput:
    return SendEmailInput(
        workflow_id="journey-c-1",
        step_id=step,
        customer_id="c-1",
        template_id=template,
        topic=topic,
        params=dict(params),  # type: ignore[arg-type]
        planned_at=at,  # type: ignore[arg-type]
    )


async def complaint(db: Database, severity: str, at: object) -> None:
    async with db.session() as session:
        customer = await session.scalar(select(Customer).where(Customer.external_id == "c-1"))
        assert customer is not None
        await open_complaint(
            session,
            customer,
            ComplaintFields(complaint_id="k-1", severity=severity, subject="Parcel lost"),  # type: ignore[arg-type]
            at,  # type: ignore[arg-type]
        )


async def test_no_coupon_a_second_after_a_complaint_nor_within_a_week_of_its_resolution(
    outreach: OutreachActivities, db: Database, smtp_sink: SmtpSink
) -> None:
    env = ActivityEnvironment()
    await complaint(db, "high", NOON - timedelta(seconds=1))
    held = await env.run(
        outreach.send_email, send("offer", "retention_offer", "marketing", NOON, **OFFER)
    )
    assert held.status == "deferred"
    assert held.reason is not None
    assert held.reason.startswith("suppressed: no-marketing-during-complaint (no offers while")
    assert held.retry_at == NOON + timedelta(hours=24)
    # The acknowledgement is transactional: never held back.
    ack = await env.run(
        outreach.send_email,
        send("ack", "complaint_ack", "transactional", NOON, complaint_id="k-1"),
    )
    assert ack.status == "sent", ack.reason

    resolved_at = NOON + timedelta(days=1)
    async with db.session() as session:
        customer = await session.scalar(select(Customer).where(Customer.external_id == "c-1"))
        assert customer is not None
        await resolve_complaint(session, customer, ComplaintRef(complaint_id="k-1"), resolved_at)
    week = await env.run(
        outreach.send_email,
        send(
            "offer",
            "retention_offer",
            "marketing",
            resolved_at + timedelta(days=7, minutes=-1),
            **OFFER,
        ),
    )
    assert week.status == "deferred", "a minute before a week has passed since the resolution"
    later = await env.run(
        outreach.send_email,
        send(
            "offer",
            "retention_offer",
            "marketing",
            resolved_at + timedelta(days=7),
            **OFFER,
        ),
    )
    assert later.status == "sent", later.reason
    async with db.session() as session:
        rows = list(await session.scalars(select(OutreachLedger).order_by(OutreachLedger.id)))
    assert [(row.step_id, row.status) for row in rows] == [("offer", "sent"), ("ack", "sent")]
    assert len(await smtp_sink.wait_for(2)) == 2


async def test_no_greeting_during_a_critical_complaint_but_other_care_goes_out(
    outreach: OutreachActivities, db: Database
) -> None:
    env = ActivityEnvironment()
    await complaint(db, "critical", NOON - timedelta(hours=2))
    greeting = await env.run(
        outreach.send_email, send("hello", "birthday_greeting", "care", NOON, occasion="birthday")
    )
    assert greeting.status == "skipped"
    assert greeting.reason is not None
    assert "no-greetings-during-critical-complaint" in greeting.reason
    welcome = await env.run(
        outreach.send_email, send("welcome", "onboarding_welcome", "care", NOON)
    )
    assert welcome.status == "sent", welcome.reason


def test_a_mistake_in_a_suppression_condition_is_named_at_its_line(tmp_path: Path) -> None:
    folder = tmp_path / "rules"
    shutil.copytree(RULES_DIR, folder, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    policy = folder / "outreach_policy.yaml"
    text = policy.read_text(encoding="utf-8")
    policy.write_text(
        text.replace(
            "complaints_resolved_last_7d: {at_least: 1}", "complaints_resolved_last_7d: {is: yes}"
        ),
        encoding="utf-8",
    )
    line = next(
        number
        for number, content in enumerate(policy.read_text().splitlines(), start=1)
        if "complaints_resolved_last_7d" in content
    )
    problems = suppression_problems(folder)
    assert len(problems) == 1
    assert problems[0].startswith(f"{policy}:{line}:")
    assert "complaints_resolved_last_7d is integer" in problems[0]


async def test_a_suppression_of_a_template_holds_for_its_experiment_variants(
    outreach: OutreachActivities, db: Database
) -> None:
    from careflow.experiments.journeys import VariantChoice

    def variant(_workflow_id: str, template_id: str, _customer: str) -> VariantChoice | None:
        if template_id != "birthday_greeting":
            return None
        return VariantChoice(
            experiment="journey:care_message:birthday_greeting",
            variant="welcome",
            template_id="onboarding_welcome",
        )

    outreach.variants = variant
    env = ActivityEnvironment()
    await complaint(db, "critical", NOON - timedelta(hours=2))
    greeting = await env.run(
        outreach.send_email, send("hello", "birthday_greeting", "care", NOON, occasion="birthday")
    )
    assert greeting.status == "skipped"
    assert greeting.reason is not None
    assert "no-greetings-during-critical-complaint" in greeting.reason
    async with db.session() as session:
        [row] = list(await session.scalars(select(OutreachLedger)))
    assert (row.template_id, row.variant) == ("onboarding_welcome", "welcome")


def test_an_edited_policy_or_tiers_file_takes_effect_at_the_next_message(tmp_path: Path) -> None:
    """The send step keeps the parsed suppressions between messages, but never past an
    edit of the files they come from."""
    folder = tmp_path / "rules"
    shutil.copytree(RULES_DIR, folder, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    policy, tiers = folder / "outreach_policy.yaml", folder / "tiers.yaml"

    def current() -> Suppressions:
        return load_suppressions(load_outreach_policy(policy), folder)

    shipped = current()
    assert [rule.id for rule in shipped.rules] == [
        "no-marketing-during-complaint",
        "no-greetings-during-critical-complaint",
    ]
    assert shipped.facts_config is not None
    assert shipped.facts_config.tiers.vip.min_spend_last_365d == 5000

    text = policy.read_text(encoding="utf-8")
    policy.write_text(
        text.replace("max_open_complaint_severity: critical", "open_complaints: {at_least: 2}"),
        encoding="utf-8",
    )
    edited = current()
    assert "open_complaints" in edited.facts
    assert "max_open_complaint_severity" not in edited.facts

    tiers.write_text(
        tiers.read_text(encoding="utf-8").replace(
            "min_spend_last_365d: 5000", "min_spend_last_365d: 7500"
        ),
        encoding="utf-8",
    )
    retiered = current()
    assert retiered.facts_config is not None
    assert retiered.facts_config.tiers.vip.min_spend_last_365d == 7500
    assert [rule.id for rule in retiered.rules] == [rule.id for rule in edited.rules]

    policy.write_text(text.split("\nsuppression:")[0] + "\n", encoding="utf-8")
    assert current().rules == ()
