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
    same_rule = sorted(
        (
            span
            for span in journeys
            if span.rule_id == request.rule_id
            and span.journey == request.journey
            and span.started_at <= at
        ),
        key=lambda span: span.started_at,
    )
    if same_rule:
        last = same_rule[-1]
        blocked_by = (request.journey, last.workflow_id, last.started_at)
        if request.reenter_after_days is None:
            return StartResult(StartOutcome.REENTRY, *blocked_by)
        again = last.started_at + timedelta(days=request.reenter_after_days)
        if at < again:
            return StartResult(StartOutcome.REENTRY, *blocked_by, again)
    running = _running_at(at, request.journey, journeys)
    if running is not None:
        return StartResult(
            StartOutcome.RUNNING, request.journey, running.workflow_id, running.started_at
        )
    return None


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
