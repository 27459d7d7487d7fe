"""Rule evaluation for one customer, in an activity (durable_rules must never run in workflows)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import asdict, replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from careflow.contracts.events import EvaluateEventInput, EvaluateEventResult
from careflow.facts import compute_facts, customer_key
from careflow.facts.config import FactsConfig
from careflow.intake.event_facts import event_facts
from careflow.intake.handled import HandledMark
from careflow.observability.metrics import count_rule_firings
from careflow.rules import LiveRuleBook
from careflow.rules.intents import Evaluation
from careflow.store import Database, Event, RuleDecision


class RuleActivities:
    """Evaluates the live rule files against a customer's facts and audits the decisions."""

    def __init__(
        self,
        db: Database,
        rulebook: LiveRuleBook,
        max_event_age: timedelta,
        *,
        sync_release: Callable[[], Awaitable[object]] | None = None,
        facts_config: Callable[[], FactsConfig] | None = None,
    ) -> None:
        self.db = db
        self.rulebook = rulebook
        self.max_event_age = max_event_age
        # Asks the store for the active release before each evaluation, so no decision
        # after an activation uses the release before it (careflow/releases/).
        self.sync_release = sync_release
        # The tiers of the release served (default: the configured rules folder's).
        self.facts_config = facts_config

    @activity.defn
    async def evaluate_event(self, request: EvaluateEventInput) -> EvaluateEventResult:
        """Facts as of the workflow's `at` plus the event's own facts, through every rule set
        (`evaluate`)."""
        return await self.evaluate(request)

    async def evaluate(
        self,
        request: EvaluateEventInput,
        stored: Event | None = None,
        *,
        customer_pk: int | None = None,
        mark_if_nothing_fires: HandledMark | None = None,
    ) -> EvaluateEventResult:
        """The work of `evaluate_event`; `stored` is the event's row as its caller has
        just committed it (the direct event path), which saves reading it back;
        `mark_if_nothing_fires` its handled mark, written with the decisions when no
        intent comes of them (nothing left to do for the event); and
        `customer_pk` its customer's key from that transaction, which saves looking
        it up (both only used when `stored` is the requested event).

        The decisions are stamped with `at`, the instant the dispatcher starts their
        journeys from: one clock for both, so the timeline finds the journey a
        decision started (a wall-clock stamp, a little later, made it look as if
        that very journey stood in the decision's way). Whether the event is too old
        to act on is judged by the later of `at` and the wall clock, so a retry long
        after an outage does not act on a stale event.
        """
        now = max(datetime.now(UTC), request.at or datetime.min.replace(tzinfo=UTC))
        decided_at = request.at or now
        if self.sync_release is not None:
            await self.sync_release()
        async with self.db.session() as session:
            given = stored is not None and stored.event_id == request.event_id
            event = (
                stored
                if given
                else await session.scalar(select(Event).where(Event.event_id == request.event_id))
            )
            if event is None:
                raise ApplicationError(
                    f"event {request.event_id} is not in the store", non_retryable=True
                )
            customer_id = event.customer_external_id
            subject = str(event.data.get("complaint_id") or "")
            if now - event.occurred_at > self.max_event_age:
                # Replayed history is recorded, never acted on: nobody wants an apology
                # for a complaint from last year.
                return EvaluateEventResult(
                    customer_id=customer_id,
                    subject=subject,
                    not_acted_reason="event is too old to act on",
                )
            # A reload reads and compiles files: keep it off the event loop.
            rulebook, release_id = await asyncio.to_thread(self.rulebook.current_release)
            config = self.facts_config() if self.facts_config is not None else None
            if not given or customer_pk is None:
                customer_pk = await customer_key(session, customer_id)
            # Only what the rules that can fire on this type of event read: the same
            # evaluation as with the whole snapshot, for a fraction of the queries.
            needs = rulebook.needs_for_event(event.type)
            facts = None
            if customer_pk is not None:
                computed = await compute_facts(
                    session,
                    [customer_pk],
                    decided_at,
                    config=config,
                    derived=needs.derived,
                    only=needs.builtin,
                )
                facts = computed.get(customer_pk)
            if facts is None:
                return EvaluateEventResult(
                    customer_id=customer_id, subject=subject, not_acted_reason="customer unknown"
                )
            facts.update(event_facts(event.type, event.data))
            evaluation = stamped(await asyncio.to_thread(rulebook.evaluate, facts), release_id)
            for outcome in evaluation.outcomes:
                if not outcome.fired:
                    continue
                session.add(
                    RuleDecision(
                        customer_id=customer_pk,
                        event_id=request.event_id,
                        ruleset=outcome.ruleset,
                        ruleset_hash=outcome.ruleset_hash,
                        release_id=release_id,
                        rule_id=outcome.rule_id,
                        intents={"intents": [asdict(intent) for intent in outcome.intents]},
                        matched_facts=_jsonable(outcome.matched_facts),
                        decided_at=decided_at,
                    )
                )
            mark = None if evaluation.intents else mark_if_nothing_fires
            if mark is not None:
                await mark.write_in(session)
        if mark is not None:
            mark.committed()
        count_rule_firings(outcome.rule_id for outcome in evaluation.outcomes if outcome.fired)
        activity.logger.info(
            "event %s for customer %s: %d intents",
            request.event_id,
            customer_id,
            len(evaluation.intents),
        )
        return EvaluateEventResult(
            customer_id=customer_id, intents=list(evaluation.intents), subject=subject
        )


def stamped(evaluation: Evaluation, release_id: str | None) -> Evaluation:
    """The evaluation with every intent naming the release that asked for it."""
    if release_id is None or not evaluation.intents:
        return evaluation
    outcomes = tuple(
        replace(
            outcome,
            intents=tuple(replace(intent, release_id=release_id) for intent in outcome.intents),
        )
        for outcome in evaluation.outcomes
    )
    return Evaluation(
        intents=tuple(intent for outcome in outcomes for intent in outcome.intents),
        outcomes=outcomes,
    )


def _jsonable(facts: dict[str, object]) -> dict[str, object]:
    return {
        name: value if isinstance(value, str | int | float | bool) or value is None else str(value)
        for name, value in facts.items()
    }
