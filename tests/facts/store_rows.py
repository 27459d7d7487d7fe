"""Small helpers that put customers and their history into a real store for a test."""

from __future__ import annotations

import itertools
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from careflow.facts import FactsConfig
from careflow.facts.config import LifecycleRules, OccasionRules, TierRules, TierThresholds
from careflow.store import Complaint, Consent, Customer, Order, SurveyResponse

_numbers = itertools.count(1)

# Fixed thresholds, so tests do not change meaning when operators edit tiers.yaml.
CONFIG = FactsConfig(
    tiers=TierRules(
        vip=TierThresholds(min_spend_last_365d=5000, min_total_spent=20000),
        regular=TierThresholds(min_order_count=2),
    ),
    lifecycle=LifecycleRules(new_customer_days=30, dormant_after_days=90, churned_after_days=365),
    occasions=OccasionRules(
        default_timezone="UTC",
        holiday_names={
            "New Year's Day": "new_year",
            "Chinese New Year (Spring Festival)": "spring_festival",
            "Mid-Autumn Festival": "mid_autumn",
            "National Day": "national_day",
            "Christmas Day": "christmas",
        },
        lantern_festival_countries=frozenset({"CN"}),
    ),
)


async def add_customer(
    session: AsyncSession,
    *,
    created_at: datetime,
    email: str | None = "someone@example.com",
    locale: str | None = None,
    timezone: str | None = None,
    birthday: date | None = None,
    birthday_calendar: str = "solar",
    tier: str | None = None,
) -> Customer:
    customer = Customer(
        external_id=f"customer-{next(_numbers)}",
        email=email,
        locale=locale,
        timezone=timezone,
        birthday=birthday,
        birthday_calendar=birthday_calendar,
        tier=tier,
        created_at=created_at,
        updated_at=created_at,
    )
    session.add(customer)
    await session.flush()
    return customer


async def add_orders(
    session: AsyncSession, customer: Customer, *orders: tuple[datetime, str]
) -> None:
    """Orders as (ordered_at, amount) pairs."""
    session.add_all(
        Order(
            external_id=f"order-{next(_numbers)}",
            customer_id=customer.id,
            ordered_at=ordered_at,
            amount=Decimal(amount),
        )
        for ordered_at, amount in orders
    )
    await session.flush()


async def add_complaint(
    session: AsyncSession,
    customer: Customer,
    *,
    opened_at: datetime,
    severity: str = "medium",
    status: str = "open",
    resolved_at: datetime | None = None,
) -> None:
    session.add(
        Complaint(
            external_id=f"complaint-{next(_numbers)}",
            customer_id=customer.id,
            opened_at=opened_at,
            severity=severity,
            status=status,
            resolved_at=resolved_at,
        )
    )
    await session.flush()


async def add_survey(
    session: AsyncSession, customer: Customer, *, score: int, answered_at: datetime
) -> None:
    session.add(SurveyResponse(customer_id=customer.id, score=score, answered_at=answered_at))
    await session.flush()


async def add_consent(
    session: AsyncSession,
    customer: Customer,
    *,
    granted: bool,
    recorded_at: datetime,
    channel: str = "email",
    topic: str = "marketing",
) -> None:
    session.add(
        Consent(
            customer_id=customer.id,
            channel=channel,
            topic=topic,
            granted=granted,
            source="test",
            recorded_at=recorded_at,
        )
    )
    await session.flush()
