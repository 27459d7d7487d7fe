"""Purchase facts at the edges of their windows, down to the microsecond.

Orders are placed exactly N days before `at`, a microsecond either side of that,
and at odd times in between; every customer's facts must equal the plain-Python
reference. Seeded, so a failure reproduces.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from careflow.facts import compute_facts
from careflow.store import Database
from tests.facts.reference import expected_purchase_facts
from tests.facts.store_rows import CONFIG, add_customer, add_orders

AT = datetime(2026, 11, 23, 9, 30, 15, 250000, tzinfo=UTC)
EDGES_IN_DAYS = (0, 1, 2, 89, 90, 91, 179, 180, 181, 364, 365, 366)
CUSTOMERS = 60


def random_history(rng: random.Random) -> list[tuple[datetime, float]]:
    orders = []
    for _ in range(rng.randint(1, 8)):
        days_ago = timedelta(days=rng.choice(EDGES_IN_DAYS))
        nudge = rng.choice(
            (
                timedelta(0),
                timedelta(microseconds=1),
                -timedelta(microseconds=1),
                timedelta(seconds=rng.randint(-86399, 86399), microseconds=rng.randint(0, 999999)),
            )
        )
        amount = rng.randint(0, 99999) / 100
        orders.append((AT - days_ago + nudge, amount))
    return orders


async def test_facts_at_window_edges_match_the_reference(db: Database) -> None:
    rng = random.Random(20261123)
    histories = {}
    async with db.session() as session:
        for _ in range(CUSTOMERS):
            history = random_history(rng)
            customer = await add_customer(session, created_at=AT - timedelta(days=400))
            await add_orders(
                session, customer, *((when, f"{amount:.2f}") for when, amount in history)
            )
            histories[customer.id] = history
        facts = await compute_facts(session, list(histories), AT, config=CONFIG)

    for customer_id, history in histories.items():
        actual = facts[customer_id]
        for name, value in expected_purchase_facts(history, AT).items():
            assert name in actual, f"customer {customer_id}: {name} missing"
            assert actual[name] == pytest.approx(value, abs=0.006), (
                f"customer {customer_id}: {name}, history {sorted(history)}"
            )


async def test_orders_stored_out_of_customer_order_give_the_same_facts(db: Database) -> None:
    """Orders interleaved across customers in the table, as a shop stores them.

    A page's facts must not depend on where its orders sit: the whole page (id
    range), a thin slice of it (id list) and one customer at a time all agree, and
    match the reference.
    """
    rng = random.Random(7)
    customers = []
    histories: dict[int, list[tuple[datetime, float]]] = {}
    async with db.session() as session:
        for _ in range(CUSTOMERS):
            customer = await add_customer(session, created_at=AT - timedelta(days=400))
            customers.append(customer)
            histories[customer.id] = []
        placed = [(customer, order) for customer in customers for order in random_history(rng)]
        rng.shuffle(placed)
        for customer, (when, amount) in placed:
            await add_orders(session, customer, (when, f"{amount:.2f}"))
            histories[customer.id].append((when, amount))
        ids = sorted(histories)
        page = await compute_facts(session, ids, AT, config=CONFIG)
        thin = ids[::7]
        sliced = await compute_facts(session, thin, AT, config=CONFIG)
        one_at_a_time = {
            customer_id: (await compute_facts(session, [customer_id], AT, config=CONFIG))[
                customer_id
            ]
            for customer_id in thin
        }

    assert sliced == one_at_a_time == {customer_id: page[customer_id] for customer_id in thin}
    for customer_id, history in histories.items():
        for name, value in expected_purchase_facts(history, AT).items():
            assert page[customer_id][name] == pytest.approx(value, abs=0.006), (
                f"customer {customer_id}: {name}, history {sorted(history)}"
            )
