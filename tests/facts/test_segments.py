"""Tier and lifecycle stage at and around their thresholds in tiers.yaml."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from careflow.facts import compute_facts
from careflow.facts.segments import lifecycle_stage_of, tier_of
from careflow.store import Database
from tests.facts.store_rows import CONFIG, add_customer, add_orders

AT = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("spend_last_365d", "total_spent", "order_count", "expected"),
    [
        (5000.0, 5000.0, 1, "vip"),  # exactly the 365-day threshold
        (4999.99, 19999.99, 1, "potential"),
        (4999.99, 19999.99, 2, "regular"),
        (0.0, 20000.0, 40, "vip"),  # any one threshold is enough
        (0.0, 0.0, 0, "potential"),
    ],
)
def test_tier_at_thresholds(
    spend_last_365d: float, total_spent: float, order_count: int, expected: str
) -> None:
    tier = tier_of(
        CONFIG.tiers,
        stored_tier=None,
        spend_last_365d=spend_last_365d,
        total_spent=total_spent,
        order_count=order_count,
    )
    assert tier == expected


@pytest.mark.parametrize(("stored", "expected"), [("VIP", "vip"), ("potential", "potential")])
def test_a_tier_set_by_staff_wins(stored: str, expected: str) -> None:
    tier = tier_of(
        CONFIG.tiers, stored_tier=stored, spend_last_365d=0, total_spent=99999, order_count=50
    )
    assert tier == expected


def test_an_unknown_stored_tier_is_ignored() -> None:
    tier = tier_of(
        CONFIG.tiers, stored_tier="gold", spend_last_365d=0, total_spent=0, order_count=3
    )
    assert tier == "regular"


@pytest.mark.parametrize(
    ("days_since_signup", "days_since_last_order", "expected"),
    [
        (29, 1, "new"),
        (29, None, "new"),
        (30, 1, "active"),
        (400, 89, "active"),
        (400, 90, "dormant"),
        (400, 364, "dormant"),
        (400, 365, "churned"),
        (89, None, "active"),  # joined 89 days ago, never ordered: not idle long enough
        (90, None, "dormant"),  # never ordered in 90 days
        (365, None, "churned"),
    ],
)
def test_lifecycle_stage_at_thresholds(
    days_since_signup: int, days_since_last_order: int | None, expected: str
) -> None:
    stage = lifecycle_stage_of(
        CONFIG.lifecycle,
        days_since_signup=days_since_signup,
        days_since_last_order=days_since_last_order,
    )
    assert stage == expected


async def test_tier_and_stage_from_the_store(db: Database) -> None:
    async with db.session() as session:
        big_spender = await add_customer(session, created_at=AT - timedelta(days=1000))
        await add_orders(
            session,
            big_spender,
            (AT - timedelta(days=364, hours=23), "4000.00"),
            (AT - timedelta(days=90), "1000.00"),
        )
        # Spent as much, but a year and a day ago: no longer counts for the year.
        lapsed = await add_customer(session, created_at=AT - timedelta(days=1000))
        await add_orders(
            session,
            lapsed,
            (AT - timedelta(days=366), "4000.00"),
            (AT - timedelta(days=365), "1000.00"),
        )
        marked = await add_customer(session, created_at=AT - timedelta(days=5), tier="vip")
        facts = await compute_facts(
            session, [big_spender.id, lapsed.id, marked.id], AT, config=CONFIG
        )
    assert facts[big_spender.id]["spend_last_365d"] == 5000.0
    assert facts[big_spender.id]["tier"] == "vip"
    assert facts[big_spender.id]["lifecycle_stage"] == "dormant"  # last order exactly 90 days ago
    assert facts[lapsed.id]["spend_last_365d"] == 0.0
    assert facts[lapsed.id]["tier"] == "regular"
    assert facts[lapsed.id]["lifecycle_stage"] == "churned"
    assert facts[marked.id]["tier"] == "vip"
    assert facts[marked.id]["lifecycle_stage"] == "new"
