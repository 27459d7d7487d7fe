"""What became of a rule's request to start a journey, read back from the journeys table.

The audit records that a rule fired and what it asked for; the journeys table
records what started, when (at the trigger's instant) and until when. Put together
they answer the commonest "why didn't this customer get it?" without writing
anything more per firing: the rule fired, but the rule had started that journey
for the customer less than `reenter_after` days before (or once, ever, without
it), or another journey of that kind was running. The checks are the dispatcher's
(activities/dispatch.py), in its order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from careflow.holdout import HOLDOUT_STATUS
from careflow.store import JourneyRecord


class StartOutcome(Enum):
    STARTED = "started"
    HELD_OUT = "held_out"
    REENTRY = "reentry"  # the rule started it for the customer too recently (or ever)
    RUNNING = "running"  # another journey of the kind was running


@dataclass(frozen=True)
class JourneySpan:
    """A journey of the customer as the journeys table has it."""

    workflow_id: str
    journey: str
    rule_id: str
    status: str
    started_at: datetime
    ended_at: datetime | None
    subject: str | None = None  # a complaint, an occasion: one journey per subject


def journey_span(record: JourneyRecord) -> JourneySpan:
    return JourneySpan(
        record.workflow_id,
        record.journey,
        record.rule_id,
        record.status,
        record.started_at,
        record.ended_at,
        record.subject,
    )


@dataclass(frozen=True)
class StartRequest:
    """A fired rule's `start` intent: which journey, and its re-entry period."""

    rule_id: str
    journey: str
    reenter_after_days: int | None


@dataclass(frozen=True)
class StartResult:
    outcome: StartOutcome
    journey: str
    workflow_id: str  # the journey started, held out, or standing in the way
    since: datetime  # when that journey started
    again_from: datetime | None = None  # REENTRY: when the rule may start it again


def start_requests(intents: Mapping[str, object]) -> list[StartRequest]:
    """The `start` intents of an audited decision (`rule_decisions.intents`)."""
    found = []
    listed = intents.get("intents")
    for intent in listed if isinstance(listed, list) else []:
        if not isinstance(intent, dict) or intent.get("action") != "start_workflow":
            continue
        journey, rule_id = intent.get("workflow"), intent.get("rule_id")
        reenter = intent.get("reenter_after_days")
        if isinstance(journey, str) and isinstance(rule_id, str):
            found.append(
                StartRequest(rule_id, journey, reenter if isinstance(reenter, int) else None)
            )
    return found


def start_result(
    request: StartRequest, at: datetime, journeys: Sequence[JourneySpan]
) -> StartResult | None:
    """What the dispatcher made of `request` at `at`; None when the table cannot tell
    (the dispatch has not run yet, or the journey was removed by an erasure).

    Journeys about a subject (a complaint, an occasion) are only ever found started:
    the decision does not record its subject, so which of them stood in the way of
    which cannot be told.
    """
    started = next(
        (
            span
            for span in journeys
            if span.rule_id == request.rule_id
            and span.journey == request.journey
            and span.started_at == at
        ),
        None,
    )
    if started is not None:
        held_out = started.status == HOLDOUT_STATUS
        outcome = StartOutcome.HELD_OUT if held_out else StartOutcome.STARTED
        return StartResult(outcome, request.journey, started.workflow_id, started.started_at)
    journeys = [span for span in journeys if span.subject is None]
    last = reentry_blocker(request, at, journeys)
    if last is not None:
        again = reentry_from(last, request)
        return StartResult(
            StartOutcome.REENTRY, request.journey, last.workflow_id, last.started_at, again
        )
    running = _running_at(at, request.journey, journeys)
    if running is not None:
        return StartResult(
            StartOutcome.RUNNING, request.journey, running.workflow_id, running.started_at
        )
    return None


def reentry_blocker(
    request: StartRequest, at: datetime, journeys: Iterable[JourneySpan]
) -> JourneySpan | None:
    """The rule's last start of the journey before `at` when it is too recent for the
    rule to start it again: within `reenter_after_days`, or at all without them.

    The dispatcher decides with this, and the timeline explains with it.
    """
    same_rule = [
        span
        for span in journeys
        if span.rule_id == request.rule_id
        and span.journey == request.journey
        and span.started_at <= at
    ]
    if not same_rule:
        return None
    last = max(same_rule, key=lambda span: span.started_at)
    again = reentry_from(last, request)
    return last if again is None or at < again else None


def reentry_from(last: JourneySpan, request: StartRequest) -> datetime | None:
    """When the rule may start the journey again after `last`; None: never."""
    if request.reenter_after_days is None:
        return None
    return last.started_at + timedelta(days=request.reenter_after_days)


def _running_at(at: datetime, journey: str, journeys: Iterable[JourneySpan]) -> JourneySpan | None:
    for span in journeys:
        if (
            span.journey == journey
            and span.status != HOLDOUT_STATUS
            and span.started_at < at
            and (span.ended_at is None or span.ended_at > at)
        ):
            return span
    return None
