"""The daily scan's work: one page of customers -> facts -> rules -> journeys.

A page is one activity: facts for the whole page come from a handful of grouped
SQL queries, the rules run in one worker thread for the page, and only customers
for whom a rule fired cost a dispatch. A retried page starts no journey twice:
journey ids are deterministic, so a second start finds the first.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import func, select
from temporalio import activity

from activities.dispatch import DispatchActivities, DispatchInput
from careflow.facts import compute_facts
from careflow.store import Customer, Database, RuleDecision
from rules import LiveRuleBook, RuleBook
from rules.intents import Evaluation


@dataclass
class ScanPageInput:
    scan_id: str
    at: datetime
    after_customer_pk: int = 0
    page_size: int = 2000


@dataclass
class ScanPageResult:
    """Where the page ended (None: no customers left) and what it did."""

    last_customer_pk: int | None
    customers: int = 0
    rules_fired: int = 0
    journeys_started: int = 0
    journeys_existing: int = 0


@dataclass
class CountCustomersInput:
    after_customer_pk: int = 0


class ScanActivities:
    """Holds the store, the live rules and the dispatcher."""

    def __init__(self, db: Database, rulebook: LiveRuleBook, dispatcher: DispatchActivities):
        self.db = db
        self.rulebook = rulebook
        self.dispatcher = dispatcher

    @activity.defn
    async def count_customers(self, request: CountCustomersInput) -> int:
        """How many customers a scan will visit (for its progress)."""
        async with self.db.session() as session:
            total = await session.scalar(
                select(func.count())
                .select_from(Customer)
                .where(Customer.id > request.after_customer_pk, Customer.erased_at.is_(None))
            )
        return int(total or 0)

    @activity.defn
    async def scan_page(self, request: ScanPageInput) -> ScanPageResult:
        """Evaluate one page of customers as of `request.at` and start what the rules ask."""
        async with self.db.session() as session:
            rows = (
                await session.execute(
                    select(Customer.id, Customer.external_id)
                    .where(
                        Customer.id > request.after_customer_pk,
                        Customer.erased_at.is_(None),
                    )
                    .order_by(Customer.id)
                    .limit(request.page_size)
                )
            ).all()
            if not rows:
                return ScanPageResult(last_customer_pk=None)
            facts = await compute_facts(session, [pk for pk, _ in rows], request.at)
        rulebook = await asyncio.to_thread(self.rulebook.current)  # may reload files
        snapshots = [(pk, external, facts[pk]) for pk, external in rows if pk in facts]
        evaluations = await asyncio.to_thread(_evaluate_all, rulebook, snapshots)
        result = ScanPageResult(last_customer_pk=rows[-1][0], customers=len(rows))
        await self._audit(request, snapshots, evaluations)
        for (pk, external, _), evaluation in zip(snapshots, evaluations, strict=True):
            if not evaluation.intents:
                continue
            result.rules_fired += sum(1 for outcome in evaluation.outcomes if outcome.fired)
            dispatched = await self.dispatcher.dispatch(
                DispatchInput(customer_id=external, intents=list(evaluation.intents), at=request.at)
            )
            result.journeys_started += len(dispatched.started)
            result.journeys_existing += len(dispatched.existing)
            activity.heartbeat(pk)
        return result

    async def _audit(
        self,
        request: ScanPageInput,
        snapshots: list[tuple[int, str, dict[str, object]]],
        evaluations: list[Evaluation],
    ) -> None:
        decisions = [
            RuleDecision(
                customer_id=pk,
                event_id=request.scan_id,
                ruleset=outcome.ruleset,
                ruleset_hash=outcome.ruleset_hash,
                rule_id=outcome.rule_id,
                intents={"intents": [asdict(intent) for intent in outcome.intents]},
                matched_facts={k: _jsonable(v) for k, v in outcome.matched_facts.items()},
                decided_at=request.at,
            )
            for (pk, _, _), evaluation in zip(snapshots, evaluations, strict=True)
            for outcome in evaluation.outcomes
            if outcome.fired
        ]
        if decisions:
            async with self.db.session() as session:
                session.add_all(decisions)


def _evaluate_all(
    rulebook: RuleBook, snapshots: list[tuple[int, str, dict[str, object]]]
) -> list[Evaluation]:
    # One thread hop per page rather than per customer; the rule book serialises calls.
    return [rulebook.evaluate({**facts, "event_type": "daily_scan"}) for _, _, facts in snapshots]


def _jsonable(value: object) -> object:
    return value if isinstance(value, str | int | float | bool) or value is None else str(value)
