"""Open complaints, the last satisfaction score and marketing consent, as of a time."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from careflow.facts import compute_facts
from careflow.store import Database
from tests.facts.store_rows import (
    CONFIG,
    add_complaint,
    add_consent,
    add_customer,
    add_orders,
    add_survey,
)

AT = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


async def test_open_complaints_as_of_a_time(db: Database) -> None:
    async with db.session() as session:
        customer = await add_customer(session, created_at=AT - 1000 * HOUR)
        await add_complaint(session, customer, opened_at=AT - 50 * HOUR, severity="low")
        await add_complaint(session, customer, opened_at=AT - 2 * HOUR, severity="high")
        # Resolved after `at`: it was still open then.
        await add_complaint(
            session,
            customer,
            opened_at=AT - 80 * HOUR,
            severity="medium",
            status="resolved",
            resolved_at=AT + HOUR,
        )
        # Resolved before `at`, a critical one opened after `at`: neither counts.
        await add_complaint(
            session,
            customer,
            opened_at=AT - 90 * HOUR,
            severity="critical",
            status="resolved",
            resolved_at=AT - HOUR,
        )
        await add_complaint(session, customer, opened_at=AT + HOUR, severity="critical")
        calm = await add_customer(session, created_at=AT - 1000 * HOUR)
        facts = await compute_facts(session, [customer.id, calm.id], AT, config=CONFIG)
    assert facts[customer.id]["open_complaints"] == 3
    assert facts[customer.id]["oldest_open_complaint_age_hours"] == 80.0
    assert facts[customer.id]["max_open_complaint_severity"] == "high"
    assert facts[calm.id]["open_complaints"] == 0
    assert "oldest_open_complaint_age_hours" not in facts[calm.id]
    assert "max_open_complaint_severity" not in facts[calm.id]


async def test_last_csat_score_is_the_latest_answer_up_to_the_time(db: Database) -> None:
    async with db.session() as session:
        customer = await add_customer(session, created_at=AT - 1000 * HOUR)
        await add_survey(session, customer, score=5, answered_at=AT - 30 * HOUR)
        await add_survey(session, customer, score=2, answered_at=AT - 3 * HOUR)
        await add_survey(session, customer, score=4, answered_at=AT + HOUR)
        silent = await add_customer(session, created_at=AT - 1000 * HOUR)
        facts = await compute_facts(session, [customer.id, silent.id], AT, config=CONFIG)
    assert facts[customer.id]["last_csat_score"] == 2
    assert "last_csat_score" not in facts[silent.id]


async def test_marketing_consent_is_false_unless_granted_by_then(db: Database) -> None:
    async with db.session() as session:
        granted = await add_customer(session, created_at=AT - 1000 * HOUR)
        await add_consent(session, granted, granted=True, recorded_at=AT - HOUR)
        refused = await add_customer(session, created_at=AT - 1000 * HOUR)
        await add_consent(session, refused, granted=False, recorded_at=AT - HOUR)
        later = await add_customer(session, created_at=AT - 1000 * HOUR)
        await add_consent(session, later, granted=True, recorded_at=AT + HOUR)
        care_only = await add_customer(session, created_at=AT - 1000 * HOUR)
        await add_consent(session, care_only, granted=True, recorded_at=AT - HOUR, topic="care")
        unknown = await add_customer(session, created_at=AT - 1000 * HOUR, email=None)
        ids = [granted.id, refused.id, later.id, care_only.id, unknown.id]
        facts = await compute_facts(session, ids, AT, config=CONFIG)
    consent = {customer_id: facts[customer_id]["email_marketing_consent"] for customer_id in ids}
    assert consent == {
        granted.id: True,
        refused.id: False,
        later.id: False,
        care_only.id: False,
        unknown.id: False,
    }
    assert facts[granted.id]["has_email"] is True
    assert facts[unknown.id]["has_email"] is False


async def test_facts_asked_for_by_name_are_those_of_the_whole_snapshot(db: Database) -> None:
    # The send step asks only for what its suppressions name, and is spared the tables
    # none of those facts comes from: each fact alone must be what the full snapshot says.
    async with db.session() as session:
        customer = await add_customer(
            session, created_at=AT - 1000 * HOUR, locale="zh-CN", birthday=date(1990, 12, 1)
        )
        await add_orders(session, customer, (AT - 900 * HOUR, "120.00"), (AT - 300 * HOUR, "80.50"))
        await add_complaint(session, customer, opened_at=AT - 5 * HOUR, severity="high")
        await add_survey(session, customer, score=3, answered_at=AT - 2 * HOUR)
        newcomer = await add_customer(session, created_at=AT - 3 * HOUR)
        ids = [customer.id, newcomer.id]
        full = await compute_facts(session, ids, AT, config=CONFIG)
        names = set(full[customer.id])
        assert {"tier", "open_complaints", "last_csat_score", "order_gap_ratio"} <= names
        for name in sorted(names):
            alone = await compute_facts(session, ids, AT, config=CONFIG, only={name})
            for customer_id in ids:
                expected = {name: full[customer_id][name]} if name in full[customer_id] else {}
                assert alone[customer_id] == expected, name
        pair = await compute_facts(
            session, ids, AT, config=CONFIG, only={"open_complaints", "days_since_signup"}
        )
    assert pair[customer.id] == {"open_complaints": 1, "days_since_signup": 41}
