"""A customer's timeline: events, rule decisions, journeys, messages and tasks, in order.

This answers "why did (or didn't) this customer get it?": every message that was
sent, skipped or deferred appears with its reason, its rule and ruleset hash.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from careflow.intake.apply import find_customer
from careflow.store import Database, Event, JourneyRecord, OutreachLedger, RuleDecision, Task


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str  # event | decision | journey | message | task
    summary: str
    details: dict[str, object] = field(default_factory=dict)


async def customer_timeline(db: Database, customer_id: str) -> list[TimelineEntry] | None:
    """Everything careflow knows happened to one customer; None when unknown."""
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
                    f"{event.type} ({event.event_id})",
                    {"event_id": event.event_id, "type": event.type, "data": event.data},
                )
            )
        for decision in await session.scalars(
            select(RuleDecision).where(RuleDecision.customer_id == customer.id)
        ):
            entries.append(
                TimelineEntry(
                    decision.decided_at,
                    "decision",
                    f"rule {decision.rule_id} fired ({decision.ruleset} "
                    f"{decision.ruleset_hash[:12]})",
                    {
                        "rule_id": decision.rule_id,
                        "ruleset": decision.ruleset,
                        "ruleset_hash": decision.ruleset_hash,
                        "event_id": decision.event_id,
                        "matched_facts": decision.matched_facts,
                        "intents": decision.intents.get("intents", []),
                    },
                )
            )
        for journey in await session.scalars(
            select(JourneyRecord).where(JourneyRecord.customer_id == customer.id)
        ):
            entries.append(
                TimelineEntry(
                    journey.started_at,
                    "journey",
                    f"{journey.journey} started by rule {journey.rule_id}: {journey.workflow_id}",
                    {
                        "workflow_id": journey.workflow_id,
                        "status": journey.status,
                        "outcome": journey.outcome,
                        "ended_at": journey.ended_at.isoformat() if journey.ended_at else None,
                    },
                )
            )
        for message in await session.scalars(
            select(OutreachLedger).where(OutreachLedger.customer_id == customer.id)
        ):
            reason = f": {message.reason}" if message.reason else ""
            entries.append(
                TimelineEntry(
                    message.sent_at or message.updated_at,
                    "message",
                    f"{message.template_id} {message.status}{reason}",
                    {
                        "status": message.status,
                        "reason": message.reason,
                        "template_id": message.template_id,
                        "topic": message.topic,
                        "workflow_id": message.workflow_id,
                        "step_id": message.step_id,
                        "message_id": message.message_id,
                        "rule_id": message.rule_id,
                        "ruleset_hash": message.ruleset_hash,
                    },
                )
            )
        for task in await session.scalars(select(Task).where(Task.customer_id == customer.id)):
            entries.append(
                TimelineEntry(
                    task.created_at,
                    "task",
                    f"{task.kind} for {task.assignee or 'unassigned'}: {task.title}",
                    {
                        "status": task.status,
                        "due_at": task.due_at.isoformat() if task.due_at else None,
                    },
                )
            )
    entries.sort(key=lambda entry: entry.at)
    return entries
