"""Windowed facts (rules/derived_facts.yaml) over a real purchase history (CDNOW, see
data/README.md) match an independent computation in plain Python, window edges included.

Orders go in through `careflow import orders`; each order also becomes a declared
`points_earned` event (through `careflow import events`), so built-in and declared
events are both read. The expected values are computed here from the raw rows with
datetime arithmetic, sharing no code with careflow.facts.
"""

from __future__ import annotations

import csv
import json
import math
import random
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from careflow.facts import compute_facts
from careflow.intake.importer import import_file
from careflow.rules.derived_facts import load_derived_facts
from careflow.store import Customer, Database
from tests.facts.store_rows import CONFIG

DATA = Path(__file__).parent / "data"
SAMPLE_SIZE = 120
DAY = timedelta(days=1)
EVENTS = """\
events:
  points_earned:
    properties:
      points: {type: integer, required: true}
      reason: {type: enum, values: [purchase, small]}
"""
DERIVED = """\
facts:
  orders_last_30d: {count: order_placed, within: 30d}
  spend_last_60d: {sum: order_placed.amount, within: 60d}
  avg_order_90d: {avg: order_placed.amount, within: 90d}
  biggest_order_180d: {max: order_placed.amount, within: 180d}
  smallest_old_order: {min: order_placed.amount, within: 365d, older_than: 30d}
  last_order_amount: {last: order_placed.amount, within: 90d}
  first_order_amount: {first: order_placed.amount}
  purchase_points_30d: {sum: points_earned.points, where: {reason: purchase}, within: 30d}
  points_events_7d: {count: points_earned, within: 7d}
  points_minus_small:
    sum: points_earned.points
    minus: {sum: points_earned.points, where: {reason: small}}
  last_points_reason: {last: points_earned.reason, within: 365d}
"""

Orders = list[tuple[datetime, float]]


def orders_by_customer() -> dict[str, Orders]:
    history: dict[str, Orders] = defaultdict(list)
    with (DATA / "cdnow_orders.csv").open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            day = date.fromisoformat(row["ordered_at"])
            history[row["customer_id"]].append(
                (datetime.combine(day, time.min, tzinfo=UTC), float(row["amount"]))
            )
    return history


def points_of(amount: float) -> int:
    return math.floor(amount)


def reason_of(amount: float) -> str:
    return "purchase" if amount >= 20 else "small"


def in_window(when: datetime, at: datetime, within: int | None, older_than: int = 0) -> bool:
    """Inside a window ending at `at` (inclusive) that starts after `at - within` days."""
    if when > at - older_than * DAY:
        return False
    return within is None or when > at - within * DAY


def expected(orders: Orders, at: datetime) -> dict[str, object]:
    """Each derived fact by its definition, one order (and its points) at a time."""

    def amounts(within: int | None, older_than: int = 0) -> list[float]:
        return [amount for when, amount in orders if in_window(when, at, within, older_than)]

    # Of orders on the same day, the later row of the file is the later one.
    def inside(within: int | None) -> list[tuple[datetime, int, float]]:
        return sorted(
            (when, row, amount)
            for row, (when, amount) in enumerate(orders)
            if in_window(when, at, within)
        )

    def newest(within: int | None, value: Callable[[float], object]) -> object:
        found = inside(within)
        return value(found[-1][2]) if found else None

    def oldest(within: int | None) -> object:
        found = inside(within)
        return found[0][2] if found else None

    facts: dict[str, object] = {
        "orders_last_30d": len(amounts(30)),
        "spend_last_60d": sum(amounts(60)),
        "avg_order_90d": sum(amounts(90)) / len(amounts(90)) if amounts(90) else None,
        "biggest_order_180d": max(amounts(180), default=None),
        "smallest_old_order": min(amounts(365, 30), default=None),
        "last_order_amount": newest(90, lambda amount: amount),
        "first_order_amount": oldest(None),
        "purchase_points_30d": sum(
            points_of(amount) for amount in amounts(30) if reason_of(amount) == "purchase"
        ),
        "points_events_7d": len(amounts(7)),
        "points_minus_small": sum(
            points_of(amount) for amount in amounts(None) if reason_of(amount) != "small"
        ),
        "last_points_reason": newest(365, reason_of),
    }
    return {name: value for name, value in facts.items() if value is not None}


def moments(history: dict[str, Orders], sample: list[str]) -> list[datetime]:
    """Fixed moments across the history, and the edges of windows: exactly at an
    order, and exactly 7, 30, 60, 90 and 180 days after one (where it drops out)."""
    chosen = [
        datetime(1997, 3, 31, 18, 30, tzinfo=UTC),
        datetime(1997, 10, 1, tzinfo=UTC),
        datetime(1998, 6, 30, 23, 59, tzinfo=UTC),
    ]
    pick = random.Random(19)
    for days in (0, 7, 30, 60, 90, 180):
        name = pick.choice(sample)
        when, _ = pick.choice(history[name])
        chosen.append(when + days * DAY)
    return chosen


@pytest.fixture
def rules_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "events.yaml").write_text(EVENTS, encoding="utf-8")
    (folder / "derived_facts.yaml").write_text(DERIVED, encoding="utf-8")
    monkeypatch.setenv("CAREFLOW_RULES_DIR", str(folder))
    return folder


async def test_windowed_facts_match_an_independent_computation(
    db: Database, tmp_path: Path, rules_dir: Path
) -> None:
    await import_file(db, DATA / "cdnow_customers.csv", "customers")
    await import_file(db, DATA / "cdnow_orders.csv", "orders")
    history = orders_by_customer()
    points = tmp_path / "points.jsonl"
    with points.open("w", encoding="utf-8") as handle:
        for name, orders in history.items():
            for number, (when, amount) in enumerate(orders):
                row = {
                    "event_id": f"{name}-points-{number}",
                    "type": "points_earned",
                    "customer_id": name,
                    "occurred_at": when.isoformat(),
                    "points": points_of(amount),
                    "reason": reason_of(amount),
                }
                handle.write(json.dumps(row) + "\n")
    await import_file(db, points, "events")
    derived = load_derived_facts(rules_dir)
    sample = random.Random(7).sample(sorted(history), SAMPLE_SIZE)
    async with db.session() as session:
        rows = await session.execute(select(Customer.external_id, Customer.id))
        ids = {external_id: customer_id for external_id, customer_id in rows.all()}
        compared = 0
        for at in moments(history, sample):
            facts = await compute_facts(
                session, [ids[name] for name in sample], at, config=CONFIG, derived=derived
            )
            # The whole cohort in one page (the id-range path) agrees with the sample.
            everyone = await compute_facts(
                session, sorted(ids.values()), at, config=CONFIG, derived=derived
            )
            for name in sample:
                actual = {key: facts[ids[name]].get(key) for key in derived.specs}
                assert actual == {key: everyone[ids[name]].get(key) for key in derived.specs}
                wanted = expected(history[name], at)
                for fact in derived.specs:
                    if fact not in wanted:
                        assert actual[fact] is None, f"{name} at {at}: {fact} should be missing"
                        continue
                    value = wanted[fact]
                    if isinstance(value, float):
                        assert actual[fact] == pytest.approx(value, abs=1e-6), f"{name} {at} {fact}"
                    else:
                        assert actual[fact] == value, f"{name} at {at}: {fact}"
                    compared += 1
        # The sample covers the interesting cases: customers with orders in the windows.
        assert compared > SAMPLE_SIZE * 9 * 4
