"""Erasing a customer: stop their journeys, delete personal data, keep an anonymous ledger.

The customer row stays, anonymised, so the outreach ledger, rule decisions and
KPIs keep their counts without pointing at a person. Events (which carry raw
payloads) are deleted; orders keep only amounts and times.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, update
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from careflow.intake.apply import find_customer
from careflow.journeys import mark_journey_ended, running_journeys
from careflow.store import (
    Complaint,
    Consent,
    CustomerTag,
    Database,
    Event,
    Order,
    SurveyResponse,
)


@dataclass(frozen=True)
class ErasureReport:
    anonymous_id: str
    journeys_cancelled: int
    events_deleted: int


def anonymous_id(customer_id: str) -> str:
    return "erased-" + hashlib.sha256(customer_id.encode()).hexdigest()[:16]


async def erase_customer(db: Database, client: Client, customer_id: str) -> ErasureReport | None:
    """Cancel the customer's journeys and anonymise them; None when unknown."""
    cancelled = 0
    for record in await running_journeys(db, customer_id):
        try:
            await client.get_workflow_handle(record.workflow_id).cancel()
            cancelled += 1
        except RPCError as error:
            if error.status != RPCStatusCode.NOT_FOUND:
                raise
        await mark_journey_ended(db, record.workflow_id, outcome="erased")
    now = datetime.now(UTC)
    anonymous = anonymous_id(customer_id)
    async with db.session() as session:
        customer = await find_customer(session, customer_id)
        if customer is None:
            return None
        events = await session.execute(
            delete(Event).where(Event.customer_external_id == customer_id)
        )
        await session.execute(delete(Consent).where(Consent.customer_id == customer.id))
        await session.execute(delete(CustomerTag).where(CustomerTag.customer_id == customer.id))
        await session.execute(
            update(SurveyResponse)
            .where(SurveyResponse.customer_id == customer.id)
            .values(comment=None)
        )
        await session.execute(
            update(Complaint).where(Complaint.customer_id == customer.id).values(subject=None)
        )
        await session.execute(
            update(Order).where(Order.customer_id == customer.id).values(items=None)
        )
        customer.external_id = anonymous
        customer.name = customer.email = customer.phone = None
        customer.birthday = None
        customer.account_manager = None
        customer.erased_at = customer.updated_at = now
    return ErasureReport(anonymous, cancelled, int(getattr(events, "rowcount", 0) or 0))
