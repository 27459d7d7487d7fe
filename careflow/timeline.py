"""A customer's timeline: events, rule decisions, journeys, messages and tasks, in order.

This answers "why did (or didn't) this customer get it?": every message that was
sent, skipped or deferred appears with its reason, its rule and ruleset hash.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from careflow.holdout import HOLDOUT_STATUS
from careflow.intake.apply import find_customer
from careflow.journey_keys import journey_ids
from careflow.rules.phrases import Phrase, Stored, Words
from careflow.start_outcomes import (
    JourneySpan,
    StartOutcome,
    StartRequest,
    StartResult,
    journey_span,
    start_requests,
    start_result,
)
from careflow.store import (
    Complaint,
    Database,
    Event,
    JourneyRecord,
    OutreachLedger,
    RuleDecision,
    Task,
)
from careflow.workflows.registry import JOURNEYS

# The English words of the summaries (`careflow timeline` prints them); the console
# says them in the reader's language. Stored values (statuses, journeys, reasons)
# are named by the reader's catalog when it lists them.
TIMELINE_WORDS = Words(
    {
        "timeline.event": "{type} ({event_id})",
        "timeline.decision": "rule {rule} fired ({ruleset} {ruleset_hash})",
        "timeline.decision_blocked": "{decision}; {outcome}",
        "timeline.not_started_reentry": (
            "{journey} not started: this rule started {workflow_id} on {since}, again from {again}"
        ),
        "timeline.not_started_once": (
            "{journey} not started: this rule started {workflow_id} on {since}, once per customer"
        ),
        "timeline.not_started_running": (
            "{journey} not started: {workflow_id} was running (since {since})"
        ),
        "timeline.journey": "{journey} started by rule {rule}: {workflow_id}",
        "timeline.journey_held_out": (
            "{journey} held out by rule {rule} (comparison group, nothing sent): {workflow_id}"
        ),
        "timeline.message": "{template} {status}",
        "timeline.message_reason": "{template} {status}: {reason}",
        "timeline.reason": "{reason}",
        "timeline.reason_detail": "{reason}: {detail}",
        "timeline.task": "{kind} for {assignee}: {title}",
        "timeline.task_unassigned": "{kind} for unassigned: {title}",
        "timeline.task_assigned": "{kind} {task_id} taken by {assignee}",
        "timeline.task_closed": "{kind} {task_id} {status} by {by}",
        "timeline.task_closed_outcome": "{kind} {task_id} {status} by {by}: {outcome}",
        "timeline.complaint_responded": "first response to {complaint_id} by {by}",
    }
)


@dataclass(frozen=True)
class TimelineEntry:
    """One thing that happened; `summary` is English words that also say other languages."""

    at: datetime
    kind: str  # event | decision | journey | message | task | response
    summary: Phrase
    details: dict[str, object] = field(default_factory=dict)


async def customer_timeline(
    db: Database, customer_id: str, *, secret_key: str
) -> list[TimelineEntry] | None:
    """Everything careflow knows happened to one customer; None when unknown.

    `secret_key` keys the pseudonyms journey ids carry: with it the timeline judges a
    rule's start with the very ids the dispatcher built.
    """
    entries: list[TimelineEntry] = []
    async with db.session() as session:
        customer = await find_customer(session, customer_id)
        if customer is None:
            return None
        for event in await session.scalars(
            select(Event).where(Event.customer_external_id == customer_id)
        ):
            entries.append(
                TimelineEntry(
                    event.occurred_at,
                    "event",
                    TIMELINE_WORDS(
                        "timeline.event",
                        type=Stored("event_type", event.type),
                        event_id=event.event_id,
                    ),
                    {"event_id": event.event_id, "type": event.type, "data": event.data},
                )
            )
        journeys = list(
            await session.scalars(
                select(JourneyRecord).where(JourneyRecord.customer_id == customer.id)
            )
        )
        spans = [journey_span(journey) for journey in journeys]
        for decision in await session.scalars(
            select(RuleDecision).where(RuleDecision.customer_id == customer.id)
        ):
            results = [
                result
                for request in start_requests(decision.intents)
                if (
                    result := _start_result(
                        request, decision.decided_at, spans, customer_id, secret_key
                    )
                )
                is not None
            ]
            entries.append(
                TimelineEntry(
                    decision.decided_at,
                    "decision",
                    decision_summary(decision, results),
                    {
                        "rule_id": decision.rule_id,
                        "ruleset": decision.ruleset,
                        "ruleset_hash": decision.ruleset_hash,
                        "release_id": decision.release_id,
                        "event_id": decision.event_id,
                        "matched_facts": decision.matched_facts,
                        "intents": decision.intents.get("intents", []),
                        "journeys": [_result_details(result) for result in results],
                    },
                )
            )
        for journey in journeys:
            entries.append(
                TimelineEntry(
                    journey.started_at,
                    "journey",
                    TIMELINE_WORDS(
                        "timeline.journey_held_out"
                        if journey.status == HOLDOUT_STATUS
                        else "timeline.journey",
                        journey=Stored("journey", journey.journey),
                        rule=journey.rule_id,
                        workflow_id=journey.workflow_id,
                    ),
                    {
                        "workflow_id": journey.workflow_id,
                        "journey": journey.journey,
                        "rule_id": journey.rule_id,
                        "release_id": journey.release_id,
                        "status": journey.status,
                        "outcome": journey.outcome,
                        "ended_at": journey.ended_at.isoformat() if journey.ended_at else None,
                    },
                )
            )
        for message in await session.scalars(
            select(OutreachLedger).where(OutreachLedger.customer_id == customer.id)
        ):
            entries.append(
                TimelineEntry(
                    message.sent_at or message.updated_at,
                    "message",
                    message_summary(message.template_id, message.status, message.reason),
                    {
                        "status": message.status,
                        "reason": message.reason,
                        "template_id": message.template_id,
                        "channel": message.channel,
                        "receipt": message.receipt,
                        "topic": message.topic,
                        "workflow_id": message.workflow_id,
                        "step_id": message.step_id,
                        "message_id": message.message_id,
                        "rule_id": message.rule_id,
                        "ruleset_hash": message.ruleset_hash,
                        "release_id": message.release_id,
                        # The A/B experiment and the customer's variant (None outside one).
                        "experiment": message.experiment,
                        "variant": message.variant,
                    },
                )
            )
        for task in await session.scalars(select(Task).where(Task.customer_id == customer.id)):
            entries.append(
                TimelineEntry(
                    task.created_at,
                    "task",
                    TIMELINE_WORDS(
                        "timeline.task",
                        kind=Stored("task_kind", task.kind),
                        assignee=task.assignee,
                        title=task.title,
                    )
                    if task.assignee
                    else TIMELINE_WORDS(
                        "timeline.task_unassigned",
                        kind=Stored("task_kind", task.kind),
                        title=task.title,
                    ),
                    {
                        "task_id": task.id,
                        "status": task.status,
                        "due_at": task.due_at.isoformat() if task.due_at else None,
                    },
                )
            )
            entries.extend(_task_progress(task))
        for complaint in await session.scalars(
            select(Complaint).where(
                Complaint.customer_id == customer.id, Complaint.responded_at.is_not(None)
            )
        ):
            assert complaint.responded_at is not None
            entries.append(
                TimelineEntry(
                    complaint.responded_at,
                    "response",
                    TIMELINE_WORDS(
                        "timeline.complaint_responded",
                        complaint_id=complaint.external_id,
                        by=complaint.responded_by,
                    ),
                    {
                        "complaint_id": complaint.external_id,
                        "by": complaint.responded_by,
                        "note": complaint.response_note,
                    },
                )
            )
    entries.sort(key=lambda entry: entry.at)
    return entries


def _task_progress(task: Task) -> list[TimelineEntry]:
    """Who took the task and who closed it, how, when: staff's part of the story."""
    found: list[TimelineEntry] = []
    kind = Stored("task_kind", task.kind)
    if task.assigned_at is not None and task.assignee:
        found.append(
            TimelineEntry(
                task.assigned_at,
                "task",
                TIMELINE_WORDS(
                    "timeline.task_assigned", kind=kind, task_id=task.id, assignee=task.assignee
                ),
                {"task_id": task.id, "assignee": task.assignee},
            )
        )
    if task.completed_at is not None and task.closed_by:
        status = Stored("task_status", task.status)
        found.append(
            TimelineEntry(
                task.completed_at,
                "task",
                TIMELINE_WORDS(
                    "timeline.task_closed_outcome",
                    kind=kind,
                    task_id=task.id,
                    status=status,
                    by=task.closed_by,
                    outcome=Stored("task_outcome", task.outcome),
                )
                if task.outcome
                else TIMELINE_WORDS(
                    "timeline.task_closed",
                    kind=kind,
                    task_id=task.id,
                    status=status,
                    by=task.closed_by,
                ),
                {
                    "task_id": task.id,
                    "status": task.status,
                    "outcome": task.outcome,
                    "by": task.closed_by,
                    "note": task.note,
                },
            )
        )
    return found


def _start_result(
    request: StartRequest,
    at: datetime,
    spans: list[JourneySpan],
    customer_id: str,
    secret_key: str,
) -> StartResult | None:
    """What the dispatcher made of `request` at `at`, judged with the ids it built for
    a journey about no subject (the only ones the timeline explains: see
    `start_result`)."""
    journey = JOURNEYS.get(request.journey)
    if journey is None:
        return start_result(request, at, spans, "")
    ids = journey_ids(
        journey.workflow_id,
        secret_key,
        customer_id,
        request.rule_id,
        "",
        at.date(),
        request.reenter_after_days,
    )
    return start_result(request, at, spans, ids.current, ids.earlier)


def decision_summary(decision: RuleDecision, results: list[StartResult]) -> Phrase:
    """`rule X fired (...)`, and why the journey it asked for did not start, if it did not."""
    fired = TIMELINE_WORDS(
        "timeline.decision",
        rule=decision.rule_id,
        ruleset=decision.ruleset,
        ruleset_hash=decision.ruleset_hash[:12],
    )
    blocked = next((r for r in results if r.outcome in _NOT_STARTED), None)
    if blocked is None:
        return fired
    return TIMELINE_WORDS("timeline.decision_blocked", decision=fired, outcome=_why(blocked))


_NOT_STARTED = (StartOutcome.REENTRY, StartOutcome.RUNNING)


def _why(result: StartResult) -> Phrase:
    journey = Stored("journey", result.journey)
    since = result.since.date().isoformat()
    if result.outcome is StartOutcome.RUNNING:
        return TIMELINE_WORDS(
            "timeline.not_started_running",
            journey=journey,
            workflow_id=result.workflow_id,
            since=since,
        )
    if result.again_from is None:
        return TIMELINE_WORDS(
            "timeline.not_started_once",
            journey=journey,
            workflow_id=result.workflow_id,
            since=since,
        )
    return TIMELINE_WORDS(
        "timeline.not_started_reentry",
        journey=journey,
        workflow_id=result.workflow_id,
        since=since,
        again=result.again_from.date().isoformat(),
    )


def _result_details(result: StartResult) -> dict[str, object]:
    return {
        "journey": result.journey,
        "outcome": result.outcome.value,
        "workflow_id": result.workflow_id,
        "since": result.since.isoformat(),
        "again_from": result.again_from.isoformat() if result.again_from else None,
    }


def message_summary(template_id: str, status: str, reason: str | None) -> Phrase:
    """`care_message deferred: quiet_hours: until 08:00 Asia/Shanghai`."""
    shown_status = Stored("message_status", status)
    if not reason:
        return TIMELINE_WORDS("timeline.message", template=template_id, status=shown_status)
    return TIMELINE_WORDS(
        "timeline.message_reason",
        template=template_id,
        status=shown_status,
        reason=message_reason(reason),
    )


def message_reason(reason: str) -> Phrase:
    """A ledger reason in words: `quiet_hours: until 08:00 Asia/Shanghai`.

    The send step stores `code: detail`; the code is a stored value a catalog can
    name, the detail is kept as written.
    """
    code, separator, detail = reason.partition(": ")
    if not separator:
        return TIMELINE_WORDS("timeline.reason", reason=Stored("reason", reason))
    return TIMELINE_WORDS("timeline.reason_detail", reason=Stored("reason", code), detail=detail)
