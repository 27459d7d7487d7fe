"""Purchase facts on a real purchase history (CDNOW, see data/README.md) match an
independent computation in plain Python over the same CSV rows.

The data goes in through `careflow import`, as an operator would load it; the
expected values are computed here from the raw file, order by order, without SQL.
"""

from __future__ import annotations

import csv
import random
from collections import defaultdict
from datetime import UTC, date, datetime, time
from pathlib import Path

import pytest
from sqlalchemy import select

from careflow.facts import compute_facts
from careflow.intake.importer import import_file
from careflow.store import Customer, Database
from tests.facts.reference import expected_purchase_facts
from tests.facts.store_rows import CONFIG

DATA = Path(__file__).parent / "data"
SAMPLE_SIZE = 150
# Moments across the history: early (few orders yet), mid-cohort, the last day of the
# data, and long after it (everyone idle). Not all at midnight, on purpose.
MOMENTS = (
    datetime(1997, 3, 31, 18, 30, tzinfo=UTC),
    datetime(1997, 10, 1, tzinfo=UTC),
    datetime(1998, 6, 30, 23, 59, tzinfo=UTC),
    datetime(1999, 1, 15, 7, 0, tzinfo=UTC),
)


def orders_by_customer() -> dict[str, list[tuple[datetime, float]]]:
    """(time, amount) per customer, straight from the CSV: a bare date is UTC midnight."""
    history: dict[str, list[tuple[datetime, float]]] = defaultdict(list)
    with (DATA / "cdnow_orders.csv").open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            day = date.fromisoformat(row["ordered_at"])
            history[row["customer_id"]].append(
                (datetime.combine(day, time.min, tzinfo=UTC), float(row["amount"]))
            )
    return history


async def test_purchase_facts_match_an_independent_computation(db: Database) -> None:
    await import_file(db, DATA / "cdnow_customers.csv", "customers")
    await import_file(db, DATA / "cdnow_orders.csv", "orders")
    history = orders_by_customer()
    sample = random.Random(4).sample(sorted(history), SAMPLE_SIZE)

    async with db.session() as session:
        rows = await session.execute(select(Customer.external_id, Customer.id))
        ids = {external_id: customer_id for external_id, customer_id in rows.all()}
        for at in MOMENTS:
            facts = await compute_facts(session, [ids[name] for name in sample], at, config=CONFIG)
            assert len(facts) == SAMPLE_SIZE
            # The whole cohort in one page takes the id-range path; the sample, spread
            # thin, the id-list path: both must agree.
            everyone = await compute_facts(session, sorted(ids.values()), at, config=CONFIG)
            assert {ids[name]: everyone[ids[name]] for name in sample} == facts
            compared = 0
            for name in sample:
                actual = facts[ids[name]]
                for fact, value in expected_purchase_facts(history[name], at).items():
                    assert fact in actual, f"{name} at {at}: {fact} missing"
                    assert actual[fact] == pytest.approx(value, abs=0.006), f"{name} {at} {fact}"
                    compared += 1
                if "avg_order_interval_days" not in actual:
                    assert "order_gap_ratio" not in actual
            # The sample covers the interesting cases, not just customers with one order.
            assert compared > SAMPLE_SIZE * 5
