"""Evaluating the rules for one event, and dispatching the intents they produce."""

from dataclasses import dataclass, field
from datetime import datetime

from careflow.contracts.activity import ActivityContract
from careflow.rules.intents import Intent


@dataclass(kw_only=True)
class EvaluateEventInput:
    event_id: str
    # The workflow's time; facts are computed as of the later of this and the clock
    # (see SendEmailInput.planned_at for why).
    at: datetime | None = None


@dataclass(kw_only=True)
class EvaluateEventResult:
    """The intents to dispatch, or why the event was not acted on."""

    customer_id: str
    intents: list[Intent] = field(default_factory=list)
    subject: str = ""  # the business key the event is about (a complaint id), if any
    not_acted_reason: str | None = None


@dataclass(kw_only=True)
class DispatchInput:
    customer_id: str
    intents: list[Intent]
    subject: str = ""
    # When the trigger happened (the journey's period for re-entry is its date).
    at: datetime | None = None


@dataclass(kw_only=True)
class DispatchResult:
    """What each intent led to; `existing` lists journeys that a repeated trigger found."""

    started: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    held_out: list[str] = field(default_factory=list)
    signalled: list[str] = field(default_factory=list)
    tagged: list[str] = field(default_factory=list)
    notified: list[str] = field(default_factory=list)
    webhooks: list[str] = field(default_factory=list)
    not_acted_reason: str | None = None


EVALUATE_EVENT = ActivityContract(
    name="evaluate_event", input=EvaluateEventInput, result=EvaluateEventResult
)
DISPATCH_INTENTS = ActivityContract(
    name="dispatch_intents", input=DispatchInput, result=DispatchResult
)
