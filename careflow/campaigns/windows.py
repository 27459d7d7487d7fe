"""A campaign's send window in the customer's own time zone: inside it, and when it opens.

The workflow and the preview ask the same two questions, here, with the zone the
send step would use (`customer_zone`: the customer's own, or the policy's default).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from careflow.campaigns.spec import SendWindow
from careflow.outreach.zones import customer_zone
from careflow.store import Customer, Database


def within_window(window: SendWindow, now: datetime, zone: str | None, default: str) -> bool:
    """Whether `now` falls inside the window in `zone` (`default`: the policy's zone,
    for a customer without a valid one)."""
    return window.contains(now.astimezone(customer_zone(zone, default)).time())


def next_window_opening(
    window: SendWindow, now: datetime, zone: str | None, default: str
) -> datetime:
    """The next time (aware UTC, after `now`) the window opens in `zone`.

    Today's opening if it is still ahead, else tomorrow's; a local time that a
    daylight-saving change skips resolves as zoneinfo does (fold 0), which is at
    worst an hour off and never inside quiet hours (the send step checks those).
    """
    tz = customer_zone(zone, default)
    local = now.astimezone(tz)
    opening = datetime.combine(local.date(), window.start, tzinfo=tz)
    if opening <= local:
        opening = datetime.combine(local.date() + timedelta(days=1), window.start, tzinfo=tz)
    return opening.astimezone(UTC)


async def member_zones(
    db: Database, members: Sequence[str]
) -> tuple[dict[str, str | None], dict[str, int]]:
    """Each member's time zone name and store key, in one query (no personal data)."""
    async with db.session() as session:
        rows = (
            await session.execute(
                select(Customer.external_id, Customer.timezone, Customer.id).where(
                    Customer.external_id.in_(list(members))
                )
            )
        ).all()
    return {row[0]: row[1] for row in rows}, {row[0]: row[2] for row in rows}
