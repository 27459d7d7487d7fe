"""The daily scan's facts with the orders summed in a second session, side by side.

The snapshots must be the very ones a single session gives; the second session
reads what is committed (that is its contract, and why only the scan uses it);
stores that cannot run two sessions' statements at once give no second session.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from careflow.facts import compute_facts
from careflow.store import Database, create_database
from tests.facts.store_rows import CONFIG, add_complaint, add_customer, add_orders

AT = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)


async def test_side_by_side_reads_give_the_same_snapshots(db: Database) -> None:
    rng = random.Random(5)
    async with db.session() as session:
        ids = []
        for number in range(40):
            customer = await add_customer(session, created_at=AT - timedelta(days=500))
            ids.append(customer.id)
            orders = [
                (AT - timedelta(days=rng.randint(0, 400), seconds=rng.randint(0, 86399)), "12.50")
                for _ in range(rng.randint(0, 6))  # some customers never ordered
            ]
            await add_orders(session, customer, *orders)
            if number % 7 == 0:
                await add_complaint(session, customer, opened_at=AT - timedelta(hours=30))

    async with db.session() as session:
        alone = await compute_facts(session, ids, AT, config=CONFIG)
    async with db.session() as session, db.side_session() as orders_session:
        assert orders_session is not None
        side_by_side = await compute_facts(
            session, ids, AT, config=CONFIG, orders_session=orders_session
        )
        # `only` without purchase facts leaves the second session unread.
        no_orders = await compute_facts(
            session, ids, AT, config=CONFIG, orders_session=orders_session, only={"has_email"}
        )

    assert side_by_side == alone
    assert {snapshot["order_count"] for snapshot in alone.values()} != {0}
    assert no_orders == {customer_id: {"has_email": True} for customer_id in ids}


async def test_the_second_session_reads_only_what_is_committed(db: Database) -> None:
    async with db.session() as session:
        customer = await add_customer(session, created_at=AT - timedelta(days=500))
        await add_orders(session, customer, (AT - timedelta(days=3), "20.00"))

    async with db.session() as session, db.side_session() as orders_session:
        await add_orders(session, customer, (AT - timedelta(days=1), "30.00"))  # not committed
        in_one = await compute_facts(session, [customer.id], AT, config=CONFIG)
        side_by_side = await compute_facts(
            session, [customer.id], AT, config=CONFIG, orders_session=orders_session
        )

    assert in_one[customer.id]["order_count"] == 2
    assert side_by_side[customer.id]["order_count"] == 1


async def test_stores_that_run_one_statement_at_a_time_give_no_second_session(
    tmp_path: Path,
) -> None:
    for store in (
        create_database(f"sqlite+aiosqlite:///{tmp_path / 'scratch.db'}", scratch=True),
        create_database("sqlite+aiosqlite://"),
    ):
        await store.migrate()
        try:
            async with store.side_session() as orders_session:
                assert orders_session is None, store.url
        finally:
            await store.dispose()
