"""Every fact careflow computes is in the fact schema, with the schema's type and values."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from careflow.facts import compute_facts
from careflow.rules.facts import FACTS_BY_NAME
from careflow.store import Database
from tests.facts.store_rows import (
    CONFIG,
    add_complaint,
    add_consent,
    add_customer,
    add_orders,
    add_survey,
)

AT = datetime(2026, 10, 1, 4, 0, tzinfo=UTC)  # National Day in China
PYTHON_TYPES = {"integer": int, "number": float, "text": str, "boolean": bool}
# These come from the event being evaluated, not from the store.
EVENT_FACTS = {"event_type", "complaint_severity", "survey_score", "changed_fields"}


async def test_a_full_snapshot_covers_the_schema_with_its_types(db: Database) -> None:
    async with db.session() as session:
        customer = await add_customer(
            session,
            created_at=AT - timedelta(days=800),
            locale="zh-CN",
            timezone="Asia/Shanghai",
            birthday=date(1988, 10, 3),
        )
        await add_orders(
            session,
            customer,
            (AT - timedelta(days=150), "88.00"),
            (AT - timedelta(days=120), "66.50"),
            (AT - timedelta(days=20), "12.25"),
        )
        await add_complaint(session, customer, opened_at=AT - timedelta(hours=5))
        await add_survey(session, customer, score=3, answered_at=AT - timedelta(days=2))
        await add_consent(session, customer, granted=True, recorded_at=AT - timedelta(days=9))
        facts = (await compute_facts(session, [customer.id], AT, config=CONFIG))[customer.id]

    assert set(facts) == set(FACTS_BY_NAME) - EVENT_FACTS
    for name, value in facts.items():
        definition = FACTS_BY_NAME[name]
        expected_type = PYTHON_TYPES[definition.type]
        assert type(value) is expected_type, f"{name}: {value!r} is not {definition.type}"
        if definition.values:
            assert value in definition.values, f"{name}: {value!r}"
    assert facts["holiday_today"] == "national_day"
    assert facts["days_until_birthday"] == 2
