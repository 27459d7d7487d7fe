"""Purchase facts: 0, 1 and 2 orders, the 90-day windows, and "as of" a past time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from careflow.facts import compute_facts, facts_for_customer
from careflow.store import Database
from tests.facts.store_rows import CONFIG, add_customer, add_orders

AT = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)
ORDER_ONLY_FACTS = (
    "days_since_last_order",
    "avg_order_interval_days",
    "order_gap_ratio",
    "purchase_frequency_change",
)


async def test_no_orders_leaves_order_facts_missing(db: Database) -> None:
    async with db.session() as session:
        customer = await add_customer(session, created_at=AT - 10 * DAY)
        facts = (await compute_facts(session, [customer.id], AT, config=CONFIG))[customer.id]
    for name in ORDER_ONLY_FACTS:
        assert name not in facts
    assert facts["order_count"] == 0
    assert facts["orders_last_90d"] == 0
    assert facts["total_spent"] == 0.0
    assert facts["days_since_signup"] == 10
    assert facts["tier"] == "potential"
    assert facts["lifecycle_stage"] == "new"


async def test_one_order_has_a_gap_but_no_interval(db: Database) -> None:
    async with db.session() as session:
        customer = await add_customer(session, created_at=AT - 400 * DAY)
        await add_orders(session, customer, (AT - 40 * DAY - timedelta(hours=1), "19.90"))
        facts = (await compute_facts(session, [customer.id], AT, config=CONFIG))[customer.id]
    assert facts["days_since_last_order"] == 40
    assert facts["order_count"] == 1
    assert facts["orders_last_90d"] == 1
    assert facts["spend_last_90d"] == 19.9
    assert "avg_order_interval_days" not in facts
    assert "order_gap_ratio" not in facts
    assert "purchase_frequency_change" not in facts  # nothing in the previous 90 days


async def test_two_orders_give_interval_and_gap_ratio(db: Database) -> None:
    async with db.session() as session:
        customer = await add_customer(session, created_at=AT - 400 * DAY)
        await add_orders(session, customer, (AT - 100 * DAY, "10.00"), (AT - 80 * DAY, "30.00"))
        facts = (await compute_facts(session, [customer.id], AT, config=CONFIG))[customer.id]
    assert facts["avg_order_interval_days"] == 20.0
    assert facts["days_since_last_order"] == 80
    assert facts["order_gap_ratio"] == 4.0
    assert facts["orders_last_90d"] == 1
    assert facts["orders_prev_90d"] == 1
    assert facts["purchase_frequency_change"] == 0.0
    assert facts["spend_last_90d"] == 30.0
    assert facts["spend_prev_90d"] == 10.0
    assert facts["total_spent"] == 40.0


async def test_windows_are_half_open_and_later_orders_do_not_count(db: Database) -> None:
    async with db.session() as session:
        customer = await add_customer(session, created_at=AT - 400 * DAY)
        await add_orders(
            session,
            customer,
            (AT - 180 * DAY, "1.00"),  # exactly 180 days: outside both windows
            (AT - 179 * DAY, "2.00"),
            (AT - 150 * DAY, "3.00"),
            (AT - 90 * DAY, "4.00"),  # exactly 90 days: the previous window
            (AT - 89 * DAY, "5.00"),
            (AT, "6.00"),  # at this very moment: counts
            (AT + timedelta(seconds=1), "1000.00"),  # in the future of `at`: ignored
        )
        facts = (await compute_facts(session, [customer.id], AT, config=CONFIG))[customer.id]
    assert facts["orders_last_90d"] == 2
    assert facts["orders_prev_90d"] == 3
    assert facts["purchase_frequency_change"] == round(2 / 3 - 1, 4)
    assert facts["spend_last_90d"] == 11.0
    assert facts["spend_prev_90d"] == 9.0
    assert facts["order_count"] == 6
    assert facts["total_spent"] == 21.0
    assert facts["days_since_last_order"] == 0


async def test_history_imported_later_still_dates_the_signup(db: Database) -> None:
    # Created today by an import, but ordering for two years: not a "new" customer.
    async with db.session() as session:
        customer = await add_customer(session, created_at=AT - timedelta(hours=1))
        await add_orders(session, customer, (AT - 730 * DAY, "5.00"), (AT - 3 * DAY, "5.00"))
        facts = (await compute_facts(session, [customer.id], AT, config=CONFIG))[customer.id]
    assert facts["days_since_signup"] == 730
    assert facts["lifecycle_stage"] == "active"


async def test_pages_return_only_the_customers_asked_for(db: Database) -> None:
    async with db.session() as session:
        customers = [await add_customer(session, created_at=AT - DAY) for _ in range(5)]
        for customer in customers:
            await add_orders(session, customer, (AT - DAY, "1.00"))
        dense = [customers[0].id, customers[2].id, customers[3].id]
        sparse = [customers[0].id, customers[4].id]
        unknown = customers[4].id + 1000
        facts_dense = await compute_facts(session, dense, AT, config=CONFIG)
        facts_sparse = await compute_facts(session, [*sparse, unknown], AT, config=CONFIG)
    assert sorted(facts_dense) == sorted(dense)
    assert sorted(facts_sparse) == sorted(sparse)


async def test_facts_for_customer_by_external_id(db: Database) -> None:
    async with db.session() as session:
        customer = await add_customer(session, created_at=AT - DAY)
        facts = await facts_for_customer(session, customer.external_id, AT, config=CONFIG)
        missing = await facts_for_customer(session, "no-such-customer", AT, config=CONFIG)
    assert facts is not None
    assert facts["order_count"] == 0
    assert missing is None
