"""Accepting an event: validate, write it and its effects to the store once, act on it.

The store write and the Event row share one transaction, keyed by `event_id`, so a
repeated event changes nothing. Its rules then run one of two ways
(`CAREFLOW_EVENT_PATH`):

- direct (the default): in this process, right after the commit
  (careflow/intake/direct.py); the row is stored with `handled_at` NULL and marked
  once the intents are carried out. One that stays NULL (a crash in between,
  Temporal away) is handed to its `CustomerEventWorkflow` by the worker's event
  sweep (careflow/intake/sweep.py), and so is a repeat of it posted meanwhile.
- workflow: a `CustomerEventWorkflow` whose id derives from the event id, so
  re-posting an event whose workflow start was lost (a crash between the two)
  starts it, and re-posting one that started finds it.
"""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError

from careflow.contracts.events import DispatchResult, EvaluateEventInput
from careflow.custom_events import EventDeclarations, load_event_declarations
from careflow.intake import apply
from careflow.intake.direct import DirectEvaluation
from careflow.intake.handled import HandledMark, mark_handled
from careflow.intake.records import (
    ComplaintFields,
    ComplaintRef,
    ConsentFields,
    CustomerFields,
    CustomerId,
    Identifier,
    OrderFields,
    SurveyFields,
    check_time_range,
)
from careflow.journeys import running_journeys, signal_journeys
from careflow.observability.metrics import count_event
from careflow.store import Customer, CustomEvent, Database, Event
from careflow.workflows.customer_event import CustomerEventWorkflow
from careflow.workflows.ids import event_workflow_id
from careflow.workflows.registry import JOURNEYS

EventType = Literal[
    "customer_upserted",
    "order_placed",
    "complaint_opened",
    "complaint_resolved",
    "survey_answered",
    "consent_changed",
]
EVENT_TYPES = frozenset(get_args(EventType))

_DATA_MODELS: dict[str, type[BaseModel]] = {
    "customer_upserted": CustomerFields,
    "order_placed": OrderFields,
    "complaint_opened": ComplaintFields,
    "complaint_resolved": ComplaintRef,
    "survey_answered": SurveyFields,
    "consent_changed": ConsentFields,
}


MAX_EVENT_WORKFLOW_ID = 600


class EventIn(BaseModel):
    """The body of `POST /events`."""

    model_config = ConfigDict(extra="forbid")

    # A built-in type, or one declared in rules/events.yaml (checked by `_known_type`).
    type: str = Field(min_length=1, max_length=64)
    customer_id: CustomerId = Field(min_length=1, max_length=128)
    occurred_at: datetime
    data: dict[str, Any] = Field(default_factory=dict)
    event_id: Identifier | None = Field(default=None, min_length=1, max_length=200)

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, value: object) -> object:
        # PostgreSQL cannot store NUL in text, and no real value contains one.
        if _has_nul(value):
            raise ValueError("text must not contain NUL characters")
        return value

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        if value in EVENT_TYPES:
            return value  # the built-in six never depend on the operator file
        declarations = load_event_declarations()
        if value not in declarations.events:
            raise ValueError(declarations.unknown_type_message(value))
        return value

    @field_validator("event_id")
    @classmethod
    def _fits_a_workflow_id(cls, value: str | None) -> str | None:
        # The event's workflow id carries it escaped; Temporal takes ids of 1000 bytes.
        if value is not None and len(event_workflow_id(value)) > MAX_EVENT_WORKFLOW_ID:
            raise ValueError(
                f"too long once escaped for its workflow id ({MAX_EVENT_WORKFLOW_ID} "
                "characters, each one other than ASCII letters, digits and . _ : @ - "
                "counting as 3 per UTF-8 byte)"
            )
        return value

    @field_validator("occurred_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("occurred_at needs a UTC offset, e.g. 2026-11-23T10:00:00+08:00")
        check_time_range(value)
        return value.astimezone(UTC)

    def validated_data(self, declarations: EventDeclarations | None = None) -> BaseModel:
        """The `data` object checked against its event type; errors name `data.<field>`.

        A declared type's data is checked against `rules/events.yaml` (`declarations`,
        read from the rules folder when not given).
        """
        built_in = _DATA_MODELS.get(self.type)
        if built_in is not None:
            return built_in.model_validate(self.data)
        declarations = declarations or load_event_declarations()
        declared = declarations.events.get(self.type)
        if declared is None:
            # Declared when the body was read, gone from the file since.
            raise EventTypeUndeclared(declarations.unknown_type_message(self.type))
        return declared.data_model.model_validate(self.data)

    @property
    def is_custom(self) -> bool:
        """Is this an event of a type declared in rules/events.yaml?"""
        return self.type not in EVENT_TYPES


def _has_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(key) or _has_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_has_nul(item) for item in value)
    return False


class EventDataError(ValueError):
    """`data` does not fit the event type; `.errors` are pydantic's, located under `data`."""

    def __init__(self, error: ValidationError) -> None:
        self.errors = [
            {**detail, "loc": ("body", "data", *detail["loc"])} for detail in error.errors()
        ]
        super().__init__(str(error))


class EventTypeUndeclared(EventDataError):
    """The event's type is neither built in nor declared in rules/events.yaml (any more);
    `.errors` locate it at the body's `type`."""

    def __init__(self, message: str) -> None:
        self.errors = [{"loc": ("body", "type"), "msg": message, "type": "value_error"}]
        ValueError.__init__(self, message)


class EventIdConflict(ValueError):
    """An `event_id` already stored for a different event: the id names one request,
    so a different body under it is refused rather than dropped as a duplicate."""

    def __init__(self, event_id: str, differences: list[str]) -> None:
        self.event_id = event_id
        self.differences = differences
        super().__init__(
            f"event_id {event_id!r} was already used for a different event "
            f"(it differs in {', '.join(differences)}); use a new event_id for a new event"
        )


@dataclass(frozen=True)
class AcceptedEvent:
    event_id: str
    duplicate: bool
    # The event's CustomerEventWorkflow; None when its rules ran in this process.
    workflow_id: str | None
    # On the direct path, what the intents led to; None on the workflow path, for a
    # repeat, and for an event handed to its workflow.
    dispatched: DispatchResult | None = None


@dataclass(frozen=True)
class RecordedEvent:
    """The stored event: new or a duplicate, when it was received, is it handled."""

    event_id: str
    duplicate: bool
    received_at: datetime
    handled: bool
    # The row as committed, for a new event (None for a duplicate).
    row: Event | None = None
    # The customer's primary key, for a new event: the direct path's evaluation and
    # journey record need it and need not look it up again.
    customer_pk: int | None = None


async def record_event(
    db: Database, event: EventIn, now: datetime | None = None
) -> tuple[str, bool]:
    """Apply the event to the store once. Returns (event_id, was it a duplicate).

    A repeated `event_id` with the same type, customer, time and data is a duplicate;
    with anything else it raises `EventIdConflict`. The effect's own refusals
    (`BusinessIdConflict`, `AlreadyAnswered`) write nothing. The event is stored as
    handled: its caller starts its workflow (`start_event_workflow`).
    """
    recorded = await store_event(db, event, now, pending=False)
    return recorded.event_id, recorded.duplicate


async def store_event(
    db: Database, event: EventIn, now: datetime | None = None, *, pending: bool
) -> RecordedEvent:
    """`record_event`, saying more; `pending` stores a new event with `handled_at`
    NULL (the direct path marks it with `mark_handled`, else the sweep sees to it)."""
    try:
        data = event.validated_data()
    except ValidationError as error:
        raise EventDataError(error) from error
    now = now or datetime.now(UTC)
    event_id = event.event_id or f"auto-{uuid.uuid4()}"
    # The first attempt inserts without looking for the id first: a new event (nearly
    # every one) costs no read, and a repeat fails on the id's unique index, rolls
    # back whole, and the second attempt, which looks first, tells a duplicate from
    # a conflict. So does a refusal of the first attempt's effect (an answer already
    # given, a business id that is another's): the event may be that answer's repeat.
    for attempt in range(2):
        stored_data = data.model_dump(mode="json", exclude_unset=True)
        try:
            async with db.session() as session:
                if attempt:
                    stored = await _stored_as(session, event_id, event, stored_data)
                    if stored is not None:
                        return RecordedEvent(
                            event_id, True, stored.received_at, stored.handled_at is not None
                        )
                customer, changed_fields = await _apply(session, event, event_id, data, now)
                if changed_fields:
                    stored_data["changed_fields"] = changed_fields
                row = Event(
                    event_id=event_id,
                    type=event.type,
                    customer_external_id=event.customer_id,
                    occurred_at=event.occurred_at,
                    received_at=now,
                    data=stored_data,
                    handled_at=None if pending else now,
                )
                session.add(row)
        except (IntegrityError, apply.BusinessIdConflict, apply.AlreadyAnswered):
            if attempt:
                raise
            # The same event_id stored already, or a concurrent request that committed
            # the same event_id, order, complaint or survey answer first: once more,
            # now that its rows are visible, tells a duplicate from a conflict.
            continue
        count_event(event.type, EVENT_TYPES)
        return RecordedEvent(event_id, False, now, not pending, row, customer.id)
    raise AssertionError("unreachable: the second attempt returns or raises")


async def _stored_as(
    session: AsyncSession, event_id: str, event: EventIn, data: dict[str, Any]
) -> Event | None:
    """This event as stored under its id already, if it is. Raises `EventIdConflict`
    when a different event is stored under it."""
    stored = await session.scalar(select(Event).where(Event.event_id == event_id))
    if stored is None:
        return None
    differences = _differences(stored, event, data)
    if differences:
        raise EventIdConflict(event_id, differences)
    return stored


def _differences(stored: Event, event: EventIn, data: dict[str, Any]) -> list[str]:
    """Where a repeated event differs from the one stored under its id (field names)."""
    differences = [
        name
        for name, before, after in (
            ("type", stored.type, event.type),
            ("customer_id", stored.customer_external_id, event.customer_id),
            ("occurred_at", stored.occurred_at, event.occurred_at),
        )
        if before != after
    ]
    # `changed_fields` is what applying it found, not part of the request.
    before_data = {key: value for key, value in stored.data.items() if key != "changed_fields"}
    if before_data != data:
        differences.append("data")
    return differences


async def _apply(
    session: AsyncSession, event: EventIn, event_id: str, data: BaseModel, now: datetime
) -> tuple[Customer, list[str]]:
    """Write the event's effect; returns its customer (created if new) and the contact
    fields it changed, if any."""
    at = event.occurred_at
    if event.is_custom:
        customer = await apply.ensure_customer(session, event.customer_id, now)
        # The Event row (added by the caller) carries the same event_id, so the two
        # are written, or refused as a repeat, together.
        session.add(
            CustomEvent(
                event_id=event_id,
                customer_id=customer.id,
                type=event.type,
                occurred_at=at,
                properties=data.model_dump(mode="json", exclude_none=True),
            )
        )
        return customer, []
    if isinstance(data, CustomerFields):
        return await apply.upsert_customer(session, event.customer_id, data, now)
    customer = await apply.ensure_customer(session, event.customer_id, now)
    if isinstance(data, OrderFields):
        await apply.add_order(session, customer, data, at)
    elif isinstance(data, ComplaintFields):
        await apply.open_complaint(session, customer, data, at)
    elif isinstance(data, ComplaintRef):
        await apply.resolve_complaint(session, customer, data, at)
    elif isinstance(data, SurveyFields):
        await apply.record_survey(session, customer, data, at)
    elif isinstance(data, ConsentFields):
        await apply.set_consent(session, customer, data, at)
    return customer, []


async def start_event_workflow(
    client: Client, event_id: str, task_queue: str, *, at: datetime | None = None
) -> str:
    """Start (or find) the workflow that evaluates rules for this event.

    `at` is the instant to evaluate it as of; live intake leaves it to the workflow
    (now), a simulation gives the event's own time.
    """
    workflow_id = event_workflow_id(event_id)
    # An event is evaluated once, ever: a running or finished workflow stands.
    with contextlib.suppress(WorkflowAlreadyStartedError):
        await client.start_workflow(
            CustomerEventWorkflow.run,
            EvaluateEventInput(event_id=event_id, at=at),
            id=workflow_id,
            task_queue=task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        )
    return workflow_id


async def hand_to_workflow(
    db: Database, client: Client, task_queue: str, event_id: str, received_at: datetime
) -> str:
    """Start (or find) the event's `CustomerEventWorkflow` as of `received_at`, the
    instant the direct path decides at too, then mark the event handled."""
    workflow_id = await start_event_workflow(client, event_id, task_queue, at=received_at)
    await mark_handled(db, event_id)
    return workflow_id


async def accept_event(
    db: Database,
    client: Client,
    task_queue: str,
    event: EventIn,
    *,
    direct: DirectEvaluation | None = None,
    now: datetime | None = None,
) -> AcceptedEvent:
    """Record the event and act on it; safe to call again for the same id.

    With `direct` (careflow/intake/direct.py) its rules run here, once, right after
    the commit; a repeat of an event not handled yet goes to its workflow instead
    (its first delivery may still be on its way: the workflow's id makes the two one).
    Without, its `CustomerEventWorkflow` runs them. `now` is when it was received:
    the wall clock live; a simulation gives the event's own (simulated) time.
    """
    recorded = await store_event(db, event, now, pending=direct is not None)
    event_id, duplicate = recorded.event_id, recorded.duplicate
    if not duplicate and _is_opt_out(event):
        await tell_journeys_about_opt_out(db, client, event.customer_id)
    if event.type == "survey_answered":
        # Repeated for a duplicate too: the signal is idempotent, and a retry after
        # Temporal was unreachable must still reach the journey.
        await tell_journeys_about_answer(db, client, event)
    if direct is None:
        workflow_id = await start_event_workflow(client, event_id, task_queue, at=now)
        return AcceptedEvent(event_id, duplicate, workflow_id)
    if recorded.handled:
        return AcceptedEvent(event_id, duplicate, None)
    if duplicate:
        workflow_id = await hand_to_workflow(db, client, task_queue, event_id, recorded.received_at)
        return AcceptedEvent(event_id, duplicate, workflow_id)
    mark = HandledMark(event_id)
    try:
        dispatched = await direct.handle(
            event_id,
            recorded.received_at,
            stored=recorded.row,
            customer_pk=recorded.customer_pk,
            mark=mark,
        )
    except ApplicationError:
        # A permanent failure (a rule's assignee that cannot be resolved, say): its
        # workflow fails with it, where failed work is looked for, as on the workflow path.
        workflow_id = await hand_to_workflow(db, client, task_queue, event_id, recorded.received_at)
        return AcceptedEvent(event_id, duplicate, workflow_id)
    # Anything else (the store or Temporal away) propagates: the caller is answered
    # 503 as before and its retry, a duplicate, hands the event to its workflow; if no
    # retry comes, the sweep does.
    if not mark.written:  # no write of the event's carried the mark
        await mark_handled(db, event_id, now)
    return AcceptedEvent(event_id, duplicate, None, dispatched)


def _is_opt_out(event: EventIn) -> bool:
    return event.type == "consent_changed" and event.data.get("granted") is False


async def tell_journeys_about_opt_out(db: Database, client: Client, customer_id: str) -> list[str]:
    """Signal `opted_out` to the customer's running journeys that listen for it.

    Consent is also checked again inside every send, so this is about ending
    journeys at once, not about correctness of what is sent.
    """
    listening = [name for name, journey in JOURNEYS.items() if "opted_out" in journey.signals]
    records = await running_journeys(db, customer_id, journeys=listening)
    return await signal_journeys(db, client, records, "opted_out")


async def tell_journeys_about_answer(db: Database, client: Client, event: EventIn) -> list[str]:
    """Signal `survey_answered` (with the score) to the running journey that asked.

    That is the journey named by `workflow_id` when it is the customer's, else the
    customer's complaint journeys about `complaint_id`: however the answer arrives
    (the survey page, `POST /events`, the CLI), the journey waiting for it hears it.
    """
    answer = event.validated_data()
    assert isinstance(answer, SurveyFields)
    workflow_id, complaint_id = answer.workflow_id, answer.complaint_id
    listening = [name for name, journey in JOURNEYS.items() if "survey_answered" in journey.signals]
    records = await running_journeys(db, event.customer_id, journeys=listening)
    if workflow_id:
        records = [record for record in records if record.workflow_id == workflow_id]
    elif complaint_id:
        records = [record for record in records if record.subject == complaint_id]
    else:
        return []
    return await signal_journeys(db, client, records, "survey_answered", answer.score)
