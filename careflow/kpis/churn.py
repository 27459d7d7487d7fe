"""Churn rate by tier, with the very definitions the rules see in the facts.

A customer is churned at a time when the `lifecycle_stage` fact would say so then:
no order for `churned_after_days` (counting from joining for one who never
ordered). The churn rate of a period `[since, until)` is, among the customers who
had joined by `since` and were not churned then, the share churned at `until`; the
tier is the `tier` fact as of `since` (the tier staff typed on the record, else the
thresholds of `rules/tiers.yaml`). Everything is one grouped query.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, case, false, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from careflow.facts.config import FactsConfig, TierThresholds
from careflow.facts.purchases import YEAR_WINDOW
from careflow.kpis.care import share
from careflow.rules.facts import TIERS
from careflow.store import Customer, Order


@dataclass(frozen=True)
class TierChurn:
    """Customers of one tier not churned at the start, and how many churned by the end."""

    tier: str
    customers: int
    churned: int
    rate: float | None


async def churn_by_tier(
    session: AsyncSession, since: datetime, until: datetime, config: FactsConfig
) -> list[TierChurn]:
    """One row per tier that had customers at `since`, in the order vip, regular, potential."""
    before_since = Order.ordered_at <= since
    per_customer = (
        select(
            Customer.tier.label("stored_tier"),
            Customer.created_at.label("created_at"),
            func.count(case((before_since, 1))).label("order_count"),
            func.coalesce(func.sum(case((before_since, Order.amount))), 0).label("total_spent"),
            func.coalesce(
                func.sum(
                    case((and_(before_since, Order.ordered_at > since - YEAR_WINDOW), Order.amount))
                ),
                0,
            ).label("spend_last_365d"),
            func.max(case((before_since, Order.ordered_at))).label("last_order_at_since"),
            func.max(Order.ordered_at).label("last_order_at_until"),
        )
        .outerjoin(Order, and_(Order.customer_id == Customer.id, Order.ordered_at <= until))
        .group_by(Customer.id, Customer.tier, Customer.created_at)
        .subquery()
    )
    c = per_customer.c
    churn_age = timedelta(days=config.lifecycle.churned_after_days)
    # Idle since the last order, or since joining for a customer who never ordered.
    churned_at_since = func.coalesce(c.last_order_at_since, c.created_at) <= since - churn_age
    churned_at_until = func.coalesce(c.last_order_at_until, c.created_at) <= until - churn_age
    joined_by_since = or_(c.created_at <= since, c.last_order_at_since.is_not(None))

    def reached(thresholds: TierThresholds) -> ColumnElement[bool]:
        # Any one threshold that is set reaches the tier (TierThresholds.reached_by).
        tests: list[ColumnElement[bool]] = []
        if thresholds.min_spend_last_365d is not None:
            tests.append(c.spend_last_365d >= thresholds.min_spend_last_365d)
        if thresholds.min_total_spent is not None:
            tests.append(c.total_spent >= thresholds.min_total_spent)
        if thresholds.min_order_count is not None:
            tests.append(c.order_count >= thresholds.min_order_count)
        return or_(false(), *tests)

    stored = func.lower(func.trim(c.stored_tier))
    tier = case(
        (stored.in_(TIERS), stored),
        (reached(config.tiers.vip), literal("vip")),
        (reached(config.tiers.regular), literal("regular")),
        else_=literal("potential"),
    )
    rows = await session.execute(
        select(tier, func.count(), func.coalesce(func.sum(case((churned_at_until, 1), else_=0)), 0))
        .where(joined_by_since, ~churned_at_since)
        .group_by(tier)
    )
    found = {str(name): (int(total), int(churned)) for name, total, churned in rows.all()}
    return [
        TierChurn(name, *found[name], share(found[name][1], found[name][0]))
        for name in TIERS
        if name in found
    ]
