"""Journeys in flight that a rule change concerns, and cancelling a rule's journeys.

Every journey row records the rule that started it and the content hash of that
rule's file at the time. Comparing those with the rule files now (what the
running worker follows: it reloads them on every change) tells the operator which
journeys were started by a rule that has since been changed or removed, so they
can leave, cancel or restart them. Only the file's hash is recorded, so a journey
whose rule file changed is listed even if the edit was to another rule of the file.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import select
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from careflow.journeys import mark_journey_ended
from careflow.rules import RuleBook
from careflow.store import Customer, Database, JourneyRecord

RUNNING = "running"
CANCELLED = "cancelled"
Change = Literal["changed", "removed"]


@dataclass(frozen=True)
class JourneyInFlight:
    """A running journey and what became of the rule that started it."""

    workflow_id: str
    journey: str
    customer_id: str | None
    rule_id: str
    ruleset_hash: str
    started_at: datetime
    change: Change
    # The file that holds the rule now (None when it is gone).
    ruleset: str | None


def rule_change(rulebook: RuleBook, rule_id: str, ruleset_hash: str) -> Change | None:
    """None when the rule is still in a file with that very content."""
    holders = [
        ruleset
        for ruleset in rulebook.rulesets
        if any(rule.id == rule_id for rule in ruleset.rules)
    ]
    if not holders:
        return "removed"
    if any(ruleset.hash == ruleset_hash for ruleset in holders):
        return None
    return "changed"


async def running_journeys_of_rule(db: Database, rule_id: str | None = None) -> list[JourneyRecord]:
    """Journeys careflow believes are running, optionally only those `rule_id` started."""
    async with db.session() as session:
        query = select(JourneyRecord).where(JourneyRecord.status == RUNNING)
        if rule_id is not None:
            query = query.where(JourneyRecord.rule_id == rule_id)
        return list(await session.scalars(query.order_by(JourneyRecord.started_at)))


async def journeys_of_changed_rules(db: Database, rulebook: RuleBook) -> list[JourneyInFlight]:
    """Running journeys whose rule was changed or removed since they started, oldest first."""
    async with db.session() as session:
        rows = await session.execute(
            select(JourneyRecord, Customer.external_id)
            .outerjoin(Customer, Customer.id == JourneyRecord.customer_id)
            .where(JourneyRecord.status == RUNNING)
            .order_by(JourneyRecord.started_at, JourneyRecord.id)
        )
        records = rows.all()
    holder = {rule.id: ruleset.name for ruleset in rulebook.rulesets for rule in ruleset.rules}
    found: list[JourneyInFlight] = []
    for record, customer in records:
        change = rule_change(rulebook, record.rule_id, record.ruleset_hash)
        if change is not None:
            found.append(
                JourneyInFlight(
                    workflow_id=record.workflow_id,
                    journey=record.journey,
                    customer_id=customer,
                    rule_id=record.rule_id,
                    ruleset_hash=record.ruleset_hash,
                    started_at=record.started_at,
                    change=change,
                    ruleset=holder.get(record.rule_id),
                )
            )
    return found


async def cancel_journeys(
    db: Database, client: Client, records: Iterable[JourneyRecord]
) -> list[str]:
    """Cancel each journey through Temporal and mark it ended with outcome `cancelled`.

    A journey Temporal no longer knows has ended already: it is marked ended with no
    outcome, as when a signal finds it gone. Returns the ids actually cancelled.
    """
    cancelled: list[str] = []
    for record in records:
        try:
            await client.get_workflow_handle(record.workflow_id).cancel()
        except RPCError as error:
            if error.status != RPCStatusCode.NOT_FOUND:
                raise
            await mark_journey_ended(db, record.workflow_id, outcome=None)
            continue
        await mark_journey_ended(db, record.workflow_id, outcome=CANCELLED)
        cancelled.append(record.workflow_id)
    return cancelled
