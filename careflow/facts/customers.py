"""The customer record and marketing-email consent for a page of customers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import Integer, and_, cast, extract, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from careflow.facts.pages import epoch_microseconds, ids_filter
from careflow.store.models import Consent, Customer

EMAIL_CHANNEL = "email"
MARKETING_TOPIC = "marketing"


class CustomerProfile(NamedTuple):
    """The parts of a customer record that facts are derived from."""

    id: int
    has_email: bool
    locale: str | None
    timezone: str | None
    # Month and day of the birthday (lunar ones in the lunar calendar); None if unknown.
    birthday_month: int | None
    birthday_day: int | None
    birthday_calendar: str
    tier: str | None
    created_us: int
    email_marketing_consent: bool


async def customer_profiles(
    session: AsyncSession, customer_ids: Sequence[int], at: datetime
) -> list[CustomerProfile]:
    """Profiles of the customers among `customer_ids` that exist."""
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
            # An erased customer keeps a row for the ledger but is never contacted.
            and_(
                customers.email.is_not(None), customers.email != "", customers.erased_at.is_(None)
            ),
            customers.locale,
            customers.timezone,
            cast(extract("month", customers.birthday), Integer),
            cast(extract("day", customers.birthday), Integer),
            customers.birthday_calendar,
            customers.tier,
            epoch_microseconds(customers.created_at),
            and_(func.coalesce(consents.granted, False), customers.erased_at.is_(None)),
        )
        .outerjoin_from(Customer.__table__, Consent.__table__, marketing_email)
        .where(ids_filter(customers.id, customer_ids))
    )
    result = await session.execute(statement)
    wanted = set(customer_ids)
    # The columns come back typed and in the order of CustomerProfile's fields.
    return [CustomerProfile(*row) for row in result.all() if row[0] in wanted]
