"""Writing validated records to the store, idempotently by the business's own ids.

Events and bulk imports both come through here, so an order imported from CSV
and the same order posted as an event end up as one row.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from careflow.intake.records import (
    ComplaintFields,
    ComplaintRef,
    ConsentFields,
    CustomerFields,
    OrderFields,
    SurveyFields,
    resolve_time,
)
from careflow.store import Complaint, Consent, Customer, JourneyRecord, Order, SurveyResponse
from careflow.webhooks.events import CONSENT_CHANGED, record_event_async

# Fields whose change other departments must hear about (sales, service, marketing).
CONTACT_FIELDS = ("name", "email", "phone", "account_manager")


class BusinessIdConflict(ValueError):
    """A business id (an order or complaint id, a journey a survey answers) that is
    stored for another customer: refused, never taken as the other customer's record.

    `field` is the input field that carries it (`complaint_id`, `order_id`, ...).
    """

    def __init__(self, field: str, value: str, what: str) -> None:
        self.field = field
        self.value = value
        super().__init__(
            f"{what} {value!r} belongs to another customer; {field} must be unique across customers"
        )


class AlreadyAnswered(ValueError):
    """A second answer to one survey (one journey's): a survey is answered once."""

    def __init__(self, workflow_id: str, score: int) -> None:
        self.workflow_id = workflow_id
        self.score = score
        super().__init__(f"the survey of journey {workflow_id!r} was already answered ({score})")


async def check_owner(
    session: AsyncSession, column: Any, owner: Any, value: str, customer: Customer, field: str
) -> bool:
    """Is `value` stored in `column` already? Raises `BusinessIdConflict` when it is
    stored for another customer than `customer` (`owner` is the row's customer column)."""
    stored_for = await session.scalar(select(owner).where(column == value).limit(1))
    if stored_for is None:
        return False
    if stored_for != customer.id:
        raise BusinessIdConflict(field, value, _WHAT[field])
    return True


_WHAT = {"order_id": "order", "complaint_id": "complaint", "workflow_id": "the survey of journey"}


async def find_customer(session: AsyncSession, external_id: str) -> Customer | None:
    return await session.scalar(select(Customer).where(Customer.external_id == external_id))


async def upsert_customer(
    session: AsyncSession, external_id: str, fields: CustomerFields, now: datetime
) -> tuple[Customer, list[str]]:
    """Create or update a customer; returns it and the contact fields that changed.

    Only the fields present in the input are written: an update that leaves out the
    phone number does not erase it.
    """
    customer = await find_customer(session, external_id)
    given = fields.model_dump(exclude_unset=True)
    created_at = given.pop("created_at", None)
    if customer is None:
        customer = Customer(
            external_id=external_id,
            birthday_calendar="solar",
            created_at=resolve_time(created_at, fields.timezone) if created_at else now,
            updated_at=now,
        )
        session.add(customer)
        changed: list[str] = []
    else:
        changed = [
            name
            for name in CONTACT_FIELDS
            if name in given and given[name] != getattr(customer, name)
        ]
        customer.updated_at = now
    for name, value in given.items():
        if name == "birthday_calendar" and value is None:
            continue
        setattr(customer, name, value)
    await session.flush()
    return customer, changed


async def ensure_customer(session: AsyncSession, external_id: str, now: datetime) -> Customer:
    """The customer, created bare if an event arrives before their record does."""
    customer = await find_customer(session, external_id)
    if customer is not None:
        return customer
    customer, _ = await upsert_customer(session, external_id, CustomerFields(), now)
    return customer


async def add_order(
    session: AsyncSession, customer: Customer, fields: OrderFields, default_time: datetime
) -> bool:
    """Record an order once; returns False when its order_id was already stored.

    Raises `BusinessIdConflict` when the order id is another customer's.
    """
    if await check_owner(
        session, Order.external_id, Order.customer_id, fields.order_id, customer, "order_id"
    ):
        return False
    ordered_at = (
        resolve_time(fields.ordered_at, customer.timezone) if fields.ordered_at else default_time
    )
    session.add(
        Order(
            external_id=fields.order_id,
            customer_id=customer.id,
            ordered_at=ordered_at,
            amount=fields.amount,
            items=fields.items,
        )
    )
    return True


async def open_complaint(
    session: AsyncSession, customer: Customer, fields: ComplaintFields, default_time: datetime
) -> Complaint:
    """Record a complaint once (by complaint_id); a repeat updates nothing.

    Raises `BusinessIdConflict` when the complaint id is another customer's.
    """
    existing = await _own_complaint(session, customer, fields.complaint_id)
    if existing is not None:
        return existing
    zone = customer.timezone
    status = fields.status or ("resolved" if fields.resolved_at else "open")
    complaint = Complaint(
        external_id=fields.complaint_id,
        customer_id=customer.id,
        opened_at=resolve_time(fields.opened_at, zone) if fields.opened_at else default_time,
        severity=fields.severity or "medium",
        channel=fields.channel,
        subject=fields.subject,
        status=status,
        resolved_at=resolve_time(fields.resolved_at, zone) if fields.resolved_at else None,
    )
    session.add(complaint)
    await session.flush()
    return complaint


async def import_complaint(
    session: AsyncSession, customer: Customer, fields: ComplaintFields, default_time: datetime
) -> bool:
    """Insert a complaint, or bring a stored one's status up to date; True when created.

    Raises `BusinessIdConflict` when the complaint id is another customer's.
    """
    existing = await _own_complaint(session, customer, fields.complaint_id)
    if existing is None:
        await open_complaint(session, customer, fields, default_time)
        return True
    if fields.status == "resolved" or fields.resolved_at:
        existing.status = "resolved"
        if fields.resolved_at:
            existing.resolved_at = resolve_time(fields.resolved_at, customer.timezone)
    return False


async def _own_complaint(
    session: AsyncSession, customer: Customer, complaint_id: str
) -> Complaint | None:
    """The customer's complaint with this id; another customer's is a conflict."""
    existing = await session.scalar(select(Complaint).where(Complaint.external_id == complaint_id))
    if existing is not None and existing.customer_id != customer.id:
        raise BusinessIdConflict("complaint_id", complaint_id, "complaint")
    return existing


async def resolve_complaint(
    session: AsyncSession, customer: Customer, ref: ComplaintRef, default_time: datetime
) -> Complaint | None:
    """Mark a complaint resolved; None when it is unknown. Raises `BusinessIdConflict`
    when it is another customer's: one customer's event never resolves another's."""
    complaint = await _own_complaint(session, customer, ref.complaint_id)
    if complaint is None:
        return None
    if complaint.status != "resolved":
        complaint.status = "resolved"
        complaint.resolved_at = (
            resolve_time(ref.resolved_at, customer.timezone) if ref.resolved_at else default_time
        )
    return complaint


async def record_survey(
    session: AsyncSession, customer: Customer, fields: SurveyFields, answered_at: datetime
) -> None:
    """Record a survey answer; a survey (one journey's) is answered once.

    Raises `BusinessIdConflict` when the complaint or journey it names is another
    customer's, `AlreadyAnswered` when the journey's survey already has an answer.
    """
    complaint_pk = None
    if fields.complaint_id:
        complaint = await _own_complaint(session, customer, fields.complaint_id)
        complaint_pk = complaint.id if complaint is not None else None
    if fields.workflow_id:
        await check_survey_journey(session, customer, fields.workflow_id)
    session.add(
        SurveyResponse(
            customer_id=customer.id,
            workflow_id=fields.workflow_id,
            complaint_id=complaint_pk,
            score=fields.score,
            comment=fields.comment,
            answered_at=answered_at,
        )
    )


async def check_survey_journey(session: AsyncSession, customer: Customer, workflow_id: str) -> None:
    """Refuse an answer for another customer's journey, or a second answer for one."""
    await check_owner(
        session,
        JourneyRecord.workflow_id,
        JourneyRecord.customer_id,
        workflow_id,
        customer,
        "workflow_id",
    )
    recorded = await recorded_answer(session, workflow_id)
    if recorded is not None:
        raise AlreadyAnswered(workflow_id, recorded)


async def recorded_answer(session: AsyncSession, workflow_id: str) -> int | None:
    """The score recorded for the survey of this journey, if it was answered."""
    return await session.scalar(
        select(SurveyResponse.score)
        .where(SurveyResponse.workflow_id == workflow_id)
        .order_by(SurveyResponse.id)
        .limit(1)
    )


async def set_consent(
    session: AsyncSession, customer: Customer, fields: ConsentFields, recorded_at: datetime
) -> None:
    consent = await session.scalar(
        select(Consent).where(
            Consent.customer_id == customer.id,
            Consent.channel == fields.channel,
            Consent.topic == fields.topic,
        )
    )
    changed = consent is None or consent.granted != fields.granted
    if consent is None:
        session.add(
            Consent(
                customer_id=customer.id,
                channel=fields.channel,
                topic=fields.topic,
                granted=fields.granted,
                source=fields.source,
                recorded_at=recorded_at,
            )
        )
    else:
        consent.granted, consent.source, consent.recorded_at = (
            fields.granted,
            fields.source,
            recorded_at,
        )
    if changed:
        # Keyed by what changed and when: a re-applied event changes nothing twice.
        await record_event_async(
            session,
            CONSENT_CHANGED,
            f"{customer.id}/{fields.channel}/{fields.topic}/{recorded_at.isoformat()}",
            {
                "channel": fields.channel,
                "topic": fields.topic,
                "granted": fields.granted,
                "source": fields.source,
            },
            customer_pk=customer.id,
            at=recorded_at,
        )
