"""The customer record and marketing-email consent for a page of customers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from careflow.store.models import Consent, Customer

EMAIL_CHANNEL = "email"
MARKETING_TOPIC = "marketing"


@dataclass(frozen=True, slots=True)
class CustomerProfile:
    """The columns of a customer that facts are derived from."""

    id: int
    external_id: str
    has_email: bool
    locale: str | None
    timezone: str | None
    birthday: date | None
    birthday_calendar: str
    tier: str | None
    created_at: datetime
    email_marketing_consent: bool


async def customer_profiles(
    session: AsyncSession, customer_ids: Sequence[int], at: datetime
) -> list[CustomerProfile]:
    """Profiles of the customers among `customer_ids` that exist, in id order."""
    customers = Customer.__table__.c
    consents = Consent.__table__.c
    # Consent is taken as of `at`: one recorded later was not given yet, and
    # unknown means no (rules can never send marketing on a guess).
    marketing_email = and_(
        consents.customer_id == customers.id,
        consents.channel == EMAIL_CHANNEL,
        consents.topic == MARKETING_TOPIC,
        consents.recorded_at <= at,
    )
    statement = (
        select(
            customers.id,
            customers.external_id,
            customers.email,
            customers.erased_at,
            customers.locale,
            customers.timezone,
            customers.birthday,
            customers.birthday_calendar,
            customers.tier,
            customers.created_at,
            consents.granted,
        )
        .outerjoin_from(Customer.__table__, Consent.__table__, marketing_email)
        .where(customers.id.in_(customer_ids))
        .order_by(customers.id)
    )
    result = await session.execute(statement)
    return [
        CustomerProfile(
            id=row.id,
            external_id=row.external_id,
            # An erased customer keeps a row for the ledger but is never contacted.
            has_email=bool(row.email) and row.erased_at is None,
            locale=row.locale,
            timezone=row.timezone,
            birthday=row.birthday,
            birthday_calendar=row.birthday_calendar,
            tier=row.tier,
            created_at=row.created_at,
            email_marketing_consent=bool(row.granted) and row.erased_at is None,
        )
        for row in result.all()
    ]
