"""Messages by status and reason: how much outreach went out, and why the rest did not.

Ledger rows store a skip or deferral as `<reason code>: <detail>`; they are counted
by the code (`quiet_hours`, `over_budget`, `no_marketing_consent`, ...), so
per-message details do not split the counts. A failure's reason is the delivery
error, counted as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from careflow.outreach.decisions import Reason
from careflow.store import OutreachLedger


@dataclass(frozen=True)
class MessageCount:
    status: str
    reason: str
    count: int


async def messages_by_reason(
    session: AsyncSession, since: datetime, until: datetime
) -> list[MessageCount]:
    """Ledger rows created in the period, by their current status and reason code."""
    stored = OutreachLedger.reason
    reason = case(
        (stored.is_(None), literal("")),
        *((stored.startswith(code.value, autoescape=True), literal(code.value)) for code in Reason),
        else_=stored,
    )
    rows = await session.execute(
        select(OutreachLedger.status, reason, func.count())
        .where(OutreachLedger.created_at >= since, OutreachLedger.created_at < until)
        .group_by(OutreachLedger.status, reason)
        .order_by(OutreachLedger.status, reason)
    )
    return [MessageCount(str(status), str(code), int(count)) for status, code, count in rows.all()]


async def sent_by_channel(
    session: AsyncSession, since: datetime, until: datetime
) -> dict[str, int]:
    """Messages sent in the period by channel (`{"email": 40, "sms": 12}`)."""
    rows = await session.execute(
        select(OutreachLedger.channel, func.count())
        .where(
            OutreachLedger.created_at >= since,
            OutreachLedger.created_at < until,
            OutreachLedger.status == "sent",
        )
        .group_by(OutreachLedger.channel)
        .order_by(OutreachLedger.channel)
    )
    return {str(channel): int(count) for channel, count in rows.all()}


def totals_by_status(counts: list[MessageCount]) -> dict[str, int]:
    """`{"sent": 12, "skipped": 3, ...}` from the detailed counts."""
    totals: dict[str, int] = {}
    for row in counts:
        totals[row.status] = totals.get(row.status, 0) + row.count
    return totals
