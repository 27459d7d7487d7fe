"""SQLAlchemy models of everything careflow stores.

Customers, orders and complaints are keyed by the business's own ids
(`external_id`) as well as a surrogate integer key; every external interface
(events, CSV import, API, CLI) speaks external ids.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from careflow.store.types import UtcDateTime


class Base(DeclarativeBase):
    """Declarative base of every careflow table."""

    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UtcDateTime(),
        dict[str, Any]: JSON(),
    }


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_id: Mapped[str] = mapped_column(String(128), unique=True)
    name: Mapped[str | None] = mapped_column(String(256))
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(64))
    locale: Mapped[str | None] = mapped_column(String(16))
    timezone: Mapped[str | None] = mapped_column(String(64))
    birthday: Mapped[date | None] = mapped_column(Date)
    # "solar" (Gregorian) or "lunar": a lunar birthday is stored as the lunar
    # month/day in `birthday` and converted to this year's solar date when needed.
    birthday_calendar: Mapped[str] = mapped_column(String(8), default="solar")
    tier: Mapped[str | None] = mapped_column(String(16))
    account_manager: Mapped[str | None] = mapped_column(String(320))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    erased_at: Mapped[datetime | None]
    # "email" or "sms": tried first when a message may go on it (rules/sms.yaml channels).
    preferred_channel: Mapped[str | None] = mapped_column(String(8))


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (Index("ix_orders_customer_time", "customer_id", "ordered_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_id: Mapped[str] = mapped_column(String(128), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    ordered_at: Mapped[datetime]
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    items: Mapped[str | None] = mapped_column(Text)


class Complaint(Base):
    __tablename__ = "complaints"
    __table_args__ = (Index("ix_complaints_customer_status", "customer_id", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_id: Mapped[str] = mapped_column(String(128), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    opened_at: Mapped[datetime]
    severity: Mapped[str] = mapped_column(String(16), default="medium")
    channel: Mapped[str | None] = mapped_column(String(32))
    subject: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="open")
    resolved_at: Mapped[datetime | None]
    # The first response by staff (careflow/staffwork/complaints.py): it stops the
    # response clock. `response_note` is free text, cleared when the customer is erased.
    responded_at: Mapped[datetime | None]
    responded_by: Mapped[str | None] = mapped_column(String(64))
    response_note: Mapped[str | None] = mapped_column(Text)


class Consent(Base):
    """The current consent state for one customer, channel and topic."""

    __tablename__ = "consents"
    __table_args__ = (UniqueConstraint("customer_id", "channel", "topic"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))
    topic: Mapped[str] = mapped_column(String(32))
    granted: Mapped[bool] = mapped_column(Boolean)
    source: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime]


class OutreachLedger(Base):
    """One row per intended message, written before any send is attempted.

    `idempotency_key` is the workflow id plus a deterministic step id; the email's
    Message-ID derives from it, so a retry can never produce a second message.
    """

    __tablename__ = "outreach_ledger"
    # Experiment results read one experiment's rows (careflow/experiments/results.py).
    __table_args__ = (
        Index("ix_outreach_ledger_experiment", "experiment", "variant"),
        # A campaign's counts (status, console) read its rows by workflow id.
        Index("ix_outreach_ledger_workflow", "workflow_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(400), unique=True)
    # Nullable so that erasure can keep an anonymised ledger.
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"), index=True
    )
    workflow_id: Mapped[str] = mapped_column(String(300))
    step_id: Mapped[str] = mapped_column(String(100))
    template_id: Mapped[str] = mapped_column(String(100))
    channel: Mapped[str] = mapped_column(String(16), default="email")
    topic: Mapped[str] = mapped_column(String(32), default="transactional")
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    message_id: Mapped[str | None] = mapped_column(String(400))
    rule_id: Mapped[str | None] = mapped_column(String(100))
    ruleset_hash: Mapped[str | None] = mapped_column(String(64))
    # The release whose templates and outreach policy the send used (careflow/releases/).
    release_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]
    # What the provider reported after `sent` (SMS delivery receipts): `delivered`, or
    # `failed: <provider code>`; the status stays `sent` (the step is done either way).
    receipt: Mapped[str | None] = mapped_column(String(100))
    receipt_at: Mapped[datetime | None]
    # The A/B experiment this message was part of and the customer's variant in it
    # (careflow/experiments/): `journey:<journey>:<template>` for a journey send step, a
    # campaign's own name for a campaign. Null for messages outside any experiment
    # (and for every message written before experiments existed).
    experiment: Mapped[str | None] = mapped_column(String(200))
    variant: Mapped[str | None] = mapped_column(String(64))


class Event(Base):
    """Every accepted intake event, for idempotency (`event_id`) and the timeline.

    `handled_at` is NULL from the commit that stores the event until its rules were
    evaluated and their intents carried out in the intake process (the direct event
    path), or until it was handed to its `CustomerEventWorkflow`; the event sweep
    (careflow/intake/sweep.py) hands every event still NULL after a grace period to
    that workflow, so a crash between the commit and the dispatch loses nothing.
    """

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_customer_time", "customer_external_id", "occurred_at"),
        Index("ix_events_pending", "handled_at", "received_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(200), unique=True)
    type: Mapped[str] = mapped_column(String(64))
    customer_external_id: Mapped[str] = mapped_column(String(128))
    occurred_at: Mapped[datetime]
    received_at: Mapped[datetime]
    data: Mapped[dict[str, Any]]
    handled_at: Mapped[datetime | None]


class CustomEvent(Base):
    """An event of a type declared in `rules/events.yaml`, with its checked properties:
    what windowed facts (`rules/derived_facts.yaml`) count and sum."""

    __tablename__ = "custom_events"
    __table_args__ = (
        # Windowed facts read one type's events of a page of customers within a window.
        Index("ix_custom_events_type_customer_time", "type", "customer_id", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(200), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[datetime]
    properties: Mapped[dict[str, Any]]


class RuleDecision(Base):
    """Audit of a rule evaluation: which ruleset (by content hash) decided what, and why."""

    __tablename__ = "rule_decisions"
    __table_args__ = (
        Index("ix_rule_decisions_customer_time", "customer_id", "decided_at"),
        # The console counts each rule's firings in the last days and lists its latest.
        Index("ix_rule_decisions_rule_time", "rule_id", "decided_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    event_id: Mapped[str | None] = mapped_column(String(200))
    ruleset: Mapped[str] = mapped_column(String(200))
    ruleset_hash: Mapped[str] = mapped_column(String(64))
    # The release (careflow/releases/) whose rules decided; None before releases existed.
    release_id: Mapped[str | None] = mapped_column(String(64))
    rule_id: Mapped[str] = mapped_column(String(100))
    intents: Mapped[dict[str, Any]]
    matched_facts: Mapped[dict[str, Any]]
    decided_at: Mapped[datetime]


class SurveyResponse(Base):
    __tablename__ = "survey_responses"
    __table_args__ = (
        # The facts read each customer's latest score as of a time.
        Index("ix_survey_responses_customer_time", "customer_id", "answered_at"),
        # A journey's survey is answered once; answers not about a journey are NULL.
        Index("ux_survey_responses_workflow_id", "workflow_id", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    workflow_id: Mapped[str | None] = mapped_column(String(300))
    complaint_id: Mapped[int | None] = mapped_column(ForeignKey("complaints.id"))
    score: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime]


class Task(Base):
    """A task for staff (call the customer, handle an escalated case) or a notification."""

    __tablename__ = "tasks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(400), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    assignee: Mapped[str | None] = mapped_column(String(320))
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"), index=True
    )
    complaint_id: Mapped[int | None] = mapped_column(ForeignKey("complaints.id"))
    workflow_id: Mapped[str | None] = mapped_column(String(300))
    title: Mapped[str] = mapped_column(Text)
    due_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16), default="open")
    created_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]
    # The lifecycle staff drive (careflow/staffwork/tasks.py): when it was last
    # assigned or claimed, who closed it, with what outcome and note (free text,
    # cleared when the customer is erased).
    assigned_at: Mapped[datetime | None]
    closed_by: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str | None] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(Text)


class JourneyRecord(Base):
    """A journey careflow started, so signals, the timeline and operators can find it."""

    __tablename__ = "journeys"
    __table_args__ = (Index("ix_journeys_customer_journey", "customer_id", "journey", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workflow_id: Mapped[str] = mapped_column(String(300), unique=True)
    journey: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    rule_id: Mapped[str] = mapped_column(String(100))
    ruleset_hash: Mapped[str] = mapped_column(String(64))
    # The release whose rule started the journey (careflow/releases/).
    release_id: Mapped[str | None] = mapped_column(String(64))
    subject: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="running")
    outcome: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]


class CustomerTag(Base):
    __tablename__ = "customer_tags"
    __table_args__ = (UniqueConstraint("customer_id", "tag"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    tag: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]


class ConsoleUser(Base):
    """A member of staff who may log in to the operations console (careflow/console/)."""

    __tablename__ = "console_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    # viewer | operator | admin (careflow/console/roles.py)
    role: Mapped[str] = mapped_column(String(16))
    # A PHC string (`$argon2id$v=19$m=...`) with its parameters, so they can grow; older
    # `scrypt$n$r$p$salt$hash` hashes are replaced at the user's next login.
    password_hash: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ConsoleSession(Base):
    """A console login, valid while its row exists: logout, a password change or the
    user's removal delete it, and the signed cookie naming it stops working at once."""

    __tablename__ = "console_sessions"
    __table_args__ = (Index("ix_console_sessions_user", "user_id"),)

    # SHA-256 of the random token the cookie carries: a copy of the table logs no one in.
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("console_users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class AuditEntry(Base):
    """Who did what, when, through the console or the `users` commands; never deleted."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_at", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime]
    # The console user's name (or the name tried, for a failed login; `cli` for commands).
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(300))
    details: Mapped[dict[str, Any]]


class Release(Base):
    """One version of the whole operator configuration (careflow/releases/).

    `id` is the content hash of its files, so the same folder proposed twice is one
    release. Which release is active is the newest `ReleaseActivation`.
    """

    __tablename__ = "releases"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    note: Mapped[str | None] = mapped_column(Text)
    proposed_by: Mapped[str] = mapped_column(String(64))
    proposed_at: Mapped[datetime]
    # None: not checked yet; "passed" or "failed" with the problems in `check_report`.
    check_status: Mapped[str | None] = mapped_column(String(16))
    check_report: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    checked_by: Mapped[str | None] = mapped_column(String(64))
    checked_at: Mapped[datetime | None]
    backtest: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    backtested_at: Mapped[datetime | None]
    approved_by: Mapped[str | None] = mapped_column(String(64))
    approved_at: Mapped[datetime | None]


class ReleaseFile(Base):
    """One file of a release: `rules/...` or `templates/...`, its bytes as written."""

    __tablename__ = "release_files"

    release_id: Mapped[str] = mapped_column(
        ForeignKey("releases.id", ondelete="CASCADE"), primary_key=True
    )
    path: Mapped[str] = mapped_column(String(300), primary_key=True)
    content: Mapped[bytes] = mapped_column(LargeBinary)


class ReleaseActivation(Base):
    """Each time a release went live; the newest row is the one active release."""

    __tablename__ = "release_activations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    release_id: Mapped[str] = mapped_column(ForeignKey("releases.id"))
    previous_release_id: Mapped[str | None] = mapped_column(String(64))
    # "activate" or "rollback".
    kind: Mapped[str] = mapped_column(String(16))
    activated_by: Mapped[str] = mapped_column(String(64))
    activated_at: Mapped[datetime]


class OutboundEvent(Base):
    """Something careflow did that webhooks and staff robots may hear about.

    Written in the transaction of the change it reports, once per `event_key`; the
    delivery loop fans it out (`fanned_out_at`) into `webhook_deliveries`.
    """

    __tablename__ = "outbound_events"
    __table_args__ = (Index("ix_outbound_events_pending", "fanned_out_at", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_key: Mapped[str] = mapped_column(String(500), unique=True)
    type: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]]
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"), index=True
    )
    occurred_at: Mapped[datetime]
    fanned_out_at: Mapped[datetime | None]


class WebhookDelivery(Base):
    """One event for one endpoint (a subscriber or a staff robot): sent under one id.

    `delivery_id` is the `webhook-id` every attempt carries, so a receiver that saw
    it before can tell a repeat; `claimed_until` keeps two workers from sending at once.
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    delivery_id: Mapped[str] = mapped_column(String(64), unique=True)
    endpoint: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    event_id: Mapped[int] = mapped_column(
        ForeignKey("outbound_events.id", ondelete="CASCADE"), index=True
    )
    event_type: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    claimed_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]


class WebhookEndpointState(Base):
    """How an endpoint has been doing: failures in a row, and paused since when."""

    __tablename__ = "webhook_endpoints"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    paused_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    last_success_at: Mapped[datetime | None]
