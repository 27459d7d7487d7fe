"""The customer record and marketing-email consent for a page of customers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Integer,
    Select,
    and_,
    bindparam,
    cast,
    extract,
    func,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from careflow.facts.pages import epoch_microseconds, ids_filter, in_range, page_bounds
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
    page = page_bounds(customer_ids)
    if page is None:
        statement = _profiles(ids_filter(Customer.__table__.c.id, customer_ids), at)
        result = await session.execute(statement)
    else:
        result = await session.execute(_PROFILES_OF_RANGE, {**page, "at": at})
    wanted = set(customer_ids)
    # The columns come back typed and in the order of CustomerProfile's fields.
    return [CustomerProfile(*row) for row in result.all() if row[0] in wanted]


def _profiles(in_page: ColumnElement[bool], at: datetime | BindParameter[datetime]) -> Select[Any]:
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
    return (
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
        .where(in_page)
    )


# Built once: a page that is a range of ids (the scan's pages, the single customer
# of an event's evaluation) runs this with its bounds and `at` as parameters.
_PROFILES_OF_RANGE = _profiles(
    in_range(Customer.__table__.c.id), bindparam("at", type_=Consent.__table__.c.recorded_at.type)
)
