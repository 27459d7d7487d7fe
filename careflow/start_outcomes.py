"""What became of a rule's request to start a journey, read back from the journeys table.

The audit records that a rule fired and what it asked for; the journeys table
records what started, when (at the trigger's instant) and until when. Put together
they answer the commonest "why didn't this customer get it?" without writing
anything more per firing: the rule fired, but the rule had started that journey
for the customer less than `reenter_after` days before (or, without it, had
started that very journey id: once per customer, complaint, occasion or day), or
another journey of that kind was running. `start_decision` is the policy
itself, which the dispatcher (activities/dispatch.py) and the rules-only replay
(careflow/simulate/replay.py) decide with.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
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


def start_decision(
    request: StartRequest,
    at: datetime,
    journeys: Iterable[JourneySpan],
    *,
    workflow_id: str,
    earlier_ids: Collection[str] = (),
    subject: str | None = None,
    held_out: bool = False,
) -> StartResult:
    """Whether a fired rule's `start` starts its journey at `at`: the one start policy.

    The dispatcher decides with it, the timeline explains with it and the rules-only
    replay counts with it; each only gathers `journeys` (the customer's journeys as
    known at `at`) its own way. In order:

    1. re-entry: the rule started (or held out) this journey for the customer less
       than `reenter_after_days` before, or, without them, started this very
       journey id (once per customer, or per complaint, occasion, day);
    2. holdout: the customer is in the journey's holdout group (`held_out`);
    3. one of a kind: another journey of the kind is running at `at`, whichever
       rule started it (two rules must not send two retention offers);
    4. otherwise `workflow_id` starts.

    Journeys about a subject (a complaint, an occasion) only meet journeys about
    the same `subject`.
    """
    same_subject = [span for span in journeys if span.subject == subject]
    last = reentry_blocker(request, at, same_subject, workflow_id, earlier_ids)
    if (
        last is not None
        and last.workflow_id in {workflow_id, *earlier_ids}
        and last.status == HOLDOUT_STATUS
    ):
        # A repeated trigger of a held-out journey: the customer stays in the group.
        return StartResult(StartOutcome.HELD_OUT, request.journey, workflow_id, last.started_at)
    if last is not None:
        again = reentry_from(last, request)
        return StartResult(
            StartOutcome.REENTRY, request.journey, last.workflow_id, last.started_at, again
        )
    if held_out:
        return StartResult(StartOutcome.HELD_OUT, request.journey, workflow_id, at)
    running = running_at(at, request.journey, same_subject)
    if running is not None:
        return StartResult(
            StartOutcome.RUNNING, request.journey, running.workflow_id, running.started_at
        )
    return StartResult(StartOutcome.STARTED, request.journey, workflow_id, at)


def start_result(
    request: StartRequest,
    at: datetime,
    journeys: Sequence[JourneySpan],
    workflow_id: str,
    earlier_ids: Collection[str] = (),
) -> StartResult | None:
    """What the dispatcher made of `request` at `at`, read back from the journeys
    table; None when the table cannot tell (the dispatch has not run yet, or the
    journey was removed by an erasure). `workflow_id` is the id the dispatcher built
    for the request at `at`.

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
    decision = start_decision(
        request, at, journeys, workflow_id=workflow_id, earlier_ids=earlier_ids
    )
    return None if decision.outcome is StartOutcome.STARTED else decision


def reentry_blocker(
    request: StartRequest,
    at: datetime,
    journeys: Iterable[JourneySpan],
    workflow_id: str,
    earlier_ids: Collection[str] = (),
) -> JourneySpan | None:
    """The rule's start of the journey that keeps it from starting `workflow_id` at
    `at`: its last start within `reenter_after_days`; without them, a start of the
    very same journey id (once per business key: ever, or per complaint, occasion
    and year, or day, as the journey's id is built).
    """
    if request.reenter_after_days is None:
        # The id holds the business key (and the rule, where it matters): a journey
        # with the same id, or with an id an earlier scheme gave that key
        # (`earlier_ids`, see workflows/ids.py), is this very journey, whichever rule
        # started it (one escalation per complaint).
        same_key = {workflow_id, *earlier_ids}
        return next(
            (
                span
                for span in journeys
                if span.journey == request.journey
                and span.started_at <= at
                and span.workflow_id in same_key
            ),
            None,
        )
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


def running_at(at: datetime, journey: str, journeys: Iterable[JourneySpan]) -> JourneySpan | None:
    """A journey of the kind in flight at `at`: started by then (by any rule, at this
    very instant too) and not ended by then. A held-out record is no journey."""
    for span in journeys:
        if (
            span.journey == journey
            and span.status != HOLDOUT_STATUS
            and span.started_at <= at
            and (span.ended_at is None or span.ended_at > at)
        ):
            return span
    return None
