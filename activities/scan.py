"""The daily scan's work: one page of customers -> facts -> rules -> journeys.

A page is one activity: facts for the whole page come from a handful of grouped
SQL queries, the rules run in one worker thread for the page, and only customers
for whom a rule fired cost a dispatch. A retried page starts no journey twice:
journey ids are deterministic, so a second start finds the first.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import asdict

from sqlalchemy import func, insert, select
from temporalio import activity
from temporalio.service import RPCError, RPCStatusCode

from careflow.activities.dispatch import DispatchActivities
from careflow.activities.rules import stamped
from careflow.contracts.events import DispatchInput
from careflow.contracts.scan import (
    CountCustomersInput,
    ReconcileInput,
    ReconcileResult,
    ScanPageInput,
    ScanPageResult,
)
from careflow.facts import compute_facts
from careflow.facts.config import FactsConfig
from careflow.journeys import reconcile_closed
from careflow.observability.metrics import count_rule_firings
from careflow.rules import LiveRuleBook, RuleBook
from careflow.rules.intents import Evaluation, RuleOutcome
from careflow.store import Customer, Database, RuleDecision


class ScanActivities:
    """Holds the store, the live rules and the dispatcher."""

    def __init__(
        self,
        db: Database,
        rulebook: LiveRuleBook,
        dispatcher: DispatchActivities,
        *,
        sync_release: Callable[[], Awaitable[object]] | None = None,
        facts_config: Callable[[], FactsConfig] | None = None,
    ):
        self.db = db
        self.rulebook = rulebook
        self.dispatcher = dispatcher
        # As in RuleActivities: the active release before each page, and its tiers.
        self.sync_release = sync_release
        self.facts_config = facts_config

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
    async def reconcile_journeys(self, request: ReconcileInput) -> ReconcileResult:
        """Mark journeys that failed, timed out or were terminated outside careflow."""
        try:
            marked = await reconcile_closed(self.db, self.dispatcher.client, request.since)
        except RPCError as error:
            if error.status not in (RPCStatusCode.UNIMPLEMENTED, RPCStatusCode.INVALID_ARGUMENT):
                raise
            # A server without visibility queries (the time-skipping test server):
            # timelines still reconcile when they are read.
            return ReconcileResult(
                marked=0, note=f"Temporal cannot list closed journeys: {error.message}"
            )
        if marked:
            activity.logger.warning(
                "%d journeys had closed in Temporal without recording it", len(marked)
            )
        return ReconcileResult(marked=len(marked))

    @activity.defn
    async def scan_page(self, request: ScanPageInput) -> ScanPageResult:
        """Evaluate one page of customers as of `request.at` and start what the rules ask."""
        if self.sync_release is not None:
            await self.sync_release()
        # The page's orders are summed in a session of their own, side by side with
        # the other reads (careflow/facts/compute.py): nothing here is uncommitted.
        async with self.db.session() as session, self.db.side_session() as orders_session:
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
            # May reload files; the book's own derived facts: the snapshot holds what its
            # rules name.
            rulebook, release_id = await asyncio.to_thread(self.rulebook.current_release)
            config = self.facts_config() if self.facts_config is not None else None
            facts = await compute_facts(
                session,
                [pk for pk, _ in rows],
                request.at,
                config=config,
                derived=rulebook.derived,
                orders_session=orders_session,
            )
        snapshots = [(pk, external, facts[pk]) for pk, external in rows if pk in facts]
        evaluations = [
            stamped(evaluation, release_id)
            for evaluation in await asyncio.to_thread(_evaluate_all, rulebook, snapshots)
        ]
        result = ScanPageResult(last_customer_pk=rows[-1][0], customers=len(rows))
        await self._audit(request, snapshots, evaluations, release_id)
        count_rule_firings(
            outcome.rule_id
            for evaluation in evaluations
            for outcome in evaluation.outcomes
            if outcome.fired
        )
        requests = [
            (
                pk,
                evaluation,
                DispatchInput(
                    customer_id=external, intents=list(evaluation.intents), at=request.at
                ),
            )
            for (pk, external, _), evaluation in zip(snapshots, evaluations, strict=True)
            if evaluation.intents
        ]
        # Customers whose journeys this period are all started already need no dispatch
        # (it would find each of them): one query for the page instead of a few round
        # trips per customer, every day a rule keeps firing for them.
        planned = [self.dispatcher.journey_ids(r) for _, _, r in requests]
        wanted = sorted({i for ids in planned if ids for i in ids})
        recorded = await self.dispatcher.recorded(wanted)
        for (pk, evaluation, dispatch_request), ids in zip(requests, planned, strict=True):
            result.rules_fired += sum(1 for outcome in evaluation.outcomes if outcome.fired)
            if ids is not None and recorded.issuperset(ids):
                result.journeys_existing += len(ids)
                continue
            dispatched = await self.dispatcher.dispatch(dispatch_request)
            result.journeys_started += len(dispatched.started)
            result.journeys_existing += len(dispatched.existing)
            activity.heartbeat(pk)
        return result

    async def _audit(
        self,
        request: ScanPageInput,
        snapshots: list[tuple[int, str, dict[str, object]]],
        evaluations: list[Evaluation],
        release_id: str | None,
    ) -> None:
        # A rule's intents are the same for every customer it fires for (`intents_of`
        # builds them from the rule alone), so each is turned into JSON once a page.
        intents: dict[tuple[str, str], dict[str, object]] = {}
        decisions = [
            {
                "customer_id": pk,
                "event_id": request.scan_id,
                "ruleset": outcome.ruleset,
                "ruleset_hash": outcome.ruleset_hash,
                "release_id": release_id,
                "rule_id": outcome.rule_id,
                "intents": _intents_json(intents, outcome),
                "matched_facts": {k: _jsonable(v) for k, v in outcome.matched_facts.items()},
                "decided_at": request.at,
            }
            for (pk, _, _), evaluation in zip(snapshots, evaluations, strict=True)
            for outcome in evaluation.outcomes
            if outcome.fired
        ]
        if decisions:
            # One bulk INSERT (executemany) rather than an ORM object per decision: a
            # daily scan audits every customer a rule fires for, thousands a day.
            async with self.db.session() as session:
                await session.execute(insert(RuleDecision), decisions)


def _intents_json(
    known: dict[tuple[str, str], dict[str, object]], outcome: RuleOutcome
) -> dict[str, object]:
    key = (outcome.ruleset_hash, outcome.rule_id)
    if key not in known:
        known[key] = {"intents": [asdict(intent) for intent in outcome.intents]}
    return known[key]


def _evaluate_all(
    rulebook: RuleBook, snapshots: list[tuple[int, str, dict[str, object]]]
) -> list[Evaluation]:
    # One thread hop per page rather than per customer; the rule book serialises calls.
    return [rulebook.evaluate({**facts, "event_type": "daily_scan"}) for _, _, facts in snapshots]


# A tuple, not a union: `isinstance` with a tuple is the quicker test, made for every
# fact of every rule fired in a scan.
_JSON_SCALARS = (str, int, float, bool)


def _jsonable(value: object) -> object:
    return value if value is None or isinstance(value, _JSON_SCALARS) else str(value)
