"""Sending one message from a journey: the request and what happened."""

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Literal

from careflow.contracts.activity import ActivityContract

ParamValue = str | int | float | bool
# Which consent a message needs: transactional (none), care, or marketing.
Topic = Literal["transactional", "care", "marketing"]


class MessageStatus(StrEnum):
    """How a send step ended; the values are stored in the ledger and in histories."""

    SENT = "sent"
    SKIPPED = "skipped"
    FAILED = "failed"
    # Quiet hours or the contact budget said "not now": `retry_at` says when.
    DEFERRED = "deferred"


@dataclass(kw_only=True)
class SendEmailInput:
    """One intended email, identified by its journey and a deterministic step id."""

    workflow_id: str
    step_id: str
    customer_id: str  # the business's external id
    template_id: str
    topic: str = "transactional"  # a `Topic`
    params: dict[str, ParamValue] = field(default_factory=dict)
    rule_id: str | None = None
    ruleset_hash: str | None = None
    # The journey's own time (workflow.now()). Policies decide, and every time the
    # step writes is stamped, as of the later of this and the wall clock (`as_of`), so
    # a journey on the time-skipping server (tests, simulations) sees quiet hours and
    # budgets at its simulated time and leaves a ledger in that time.
    planned_at: datetime | None = None
    # An A/B experiment whose variant the caller chose itself (a campaign, with
    # careflow/experiments/assign.py): `template_id` is then the variant's template,
    # and the ledger records both. A journey leaves them unset: the send step picks the
    # variant of an experiment rules/journeys.yaml sets up for its template.
    experiment: str | None = None
    variant: str | None = None
    # Only this channel ("email" or "sms"): a customer it cannot reach there (no address
    # or number, no consent for it) is skipped with that reason, never sent on another.
    # None (every journey, and every history recorded before it): the send step's own
    # choice, rules/sms.yaml's order with the customer's preferred channel first.
    channel: str | None = None


@dataclass(kw_only=True)
class SendEmailResult:
    """What happened: sent, or an expected outcome (skipped, failed, deferred) and why.

    `deferred` comes with `retry_at`: quiet hours or the contact budget say not now;
    the journey waits until then and calls again with the same step id.
    """

    status: MessageStatus
    message_id: str | None = None
    reason: str | None = None
    retry_at: datetime | None = None
    # When it was sent, on the send step's clock (`as_of`): what a journey counts its
    # next dates from. None unless sent.
    sent_at: datetime | None = None
    # The channel it went on (or was meant for): email, or sms (rules/sms.yaml).
    channel: str = "email"


SEND_EMAIL = ActivityContract(name="send_email", input=SendEmailInput, result=SendEmailResult)
