"""The purchase facts by their definitions in rules/facts.py, in plain Python.

An independent reference for the SQL: it walks the orders one by one with
datetime arithmetic, sharing no code with careflow.facts.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import pairwise


def expected_purchase_facts(
    orders: list[tuple[datetime, float]], at: datetime
) -> dict[str, object]:
    """The purchase facts by their definitions in rules/facts.py, one order at a time."""
    seen = sorted(when for when, _ in orders if when <= at)
    spent = [(when, amount) for when, amount in orders if when <= at]
    day = timedelta(days=1)
    last_90 = sum(1 for when in seen if at - when < 90 * day)
    prev_90 = sum(1 for when in seen if 90 * day <= at - when < 180 * day)
    expected: dict[str, object] = {
        "order_count": len(seen),
        "total_spent": sum(amount for _, amount in spent),
        "orders_last_90d": last_90,
        "orders_prev_90d": prev_90,
        "spend_last_90d": sum(amount for when, amount in spent if at - when < 90 * day),
        "spend_prev_90d": sum(
            amount for when, amount in spent if 90 * day <= at - when < 180 * day
        ),
        "spend_last_365d": sum(amount for when, amount in spent if at - when < 365 * day),
    }
    if seen:
        expected["days_since_last_order"] = (at - seen[-1]).days
    if prev_90:
        expected["purchase_frequency_change"] = (last_90 - prev_90) / prev_90
    if len(seen) >= 2:
        gaps = [(later - earlier) / day for earlier, later in pairwise(seen)]
        expected["avg_order_interval_days"] = sum(gaps) / len(gaps)
    return expected
