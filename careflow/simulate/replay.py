"""Replay a stored history day by day through a rule set: who would get which journey, when.

Each simulated day, the daily scan evaluates every customer's facts as of the scan
time, and every order and complaint of that day is evaluated at its own time with
its event facts, as the live intake would. Whether a rule's `start` starts its
journey is decided by the dispatcher's own policy (`careflow.start_outcomes.
start_decision`) over the journeys this replay started, with the ids the dispatcher
builds (`workflows.registry`): re-entry periods, once per journey id, one journey
per subject and the holdout group (`rules/holdout.yaml`) hold as in production.
Nothing is written: two rule sets can replay the same store.

This runs no journey (no messages, policies or goals): `careflow.simulate.run` does.
So it cannot know when a journey ends: one journey of a kind stands in the way of
another only when both are asked for at the same instant (two rules firing in one
scan); a journey started earlier is taken as over. The full run knows.
"""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from itertools import groupby

from sqlalchemy import select

from careflow.activities.dispatch import journey_subject
from careflow.facts import MAX_IDS_PER_QUERY, compute_facts
from careflow.facts.config import FactsConfig
from careflow.holdout import HOLDOUT_STATUS, HoldoutConfig
from careflow.intake.event_facts import event_facts
from careflow.journey_keys import journey_ids
from careflow.rules import RuleBook
from careflow.rules.intents import Evaluation
from careflow.simulate.run import SIMULATION_KEY
from careflow.start_outcomes import JourneySpan, StartOutcome, StartRequest, start_decision
from careflow.store import Complaint, Customer, Database, Order
from careflow.workflows.registry import JOURNEYS

DAILY_SCAN = "daily_scan"


@dataclass(frozen=True)
class Trigger:
    """A moment the rules are asked: the daily scan, or one event of one customer."""

    at: datetime
    kind: str  # daily_scan | order_placed | complaint_opened
    customer_id: str = ""
    customer_pk: int = 0
    subject: str = ""
    data: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class JourneyStart:
    at: datetime
    customer_id: str
    journey: str
    rule_id: str
    workflow_id: str
    held_out: bool


@dataclass
class Replay:
    """What a rule set did over the days: firings, journeys started, a few timelines."""

    ruleset_hash: str
    start: date
    days: int
    rule_ids: list[str]
    # rule id -> customers it fired for, and how many firings in all.
    customers_by_rule: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    firings_by_rule: Counter[str] = field(default_factory=Counter)
    journeys: list[JourneyStart] = field(default_factory=list)
    # For the customers asked about: (time, trigger, rule id) of every firing.
    timelines: dict[str, list[tuple[datetime, str, str]]] = field(default_factory=dict)


async def replay(
    db: Database,
    rulebook: RuleBook,
    *,
    start: date,
    days: int,
    scan_time: time = time(6),
    facts_config: FactsConfig | None = None,
    holdout: HoldoutConfig | None = None,
    follow: Iterable[str] = (),
    on_day: Callable[[date], None] | None = None,
) -> Replay:
    """Replay `days` days from `start` (UTC); `follow` lists customers to keep timelines of."""
    rule_ids = [rule.id for ruleset in rulebook.rulesets for rule in ruleset.rules]
    result = Replay(rulebook.hash, start, days, rule_ids, timelines={c: [] for c in follow})
    started: dict[str, list[JourneySpan]] = defaultdict(list)  # per customer
    holdout = holdout or HoldoutConfig()
    for offset in range(days):
        day = start + timedelta(days=offset)
        triggers = await _triggers_of_day(db, day, scan_time)
        # Events at one instant (a day's orders often carry a date only) share one
        # fact query: nothing is written during a replay, so their facts are the same.
        for (at, is_scan), group in groupby(triggers, key=lambda t: (t.at, t.kind == DAILY_SCAN)):
            batch = list(group)
            if is_scan:
                evaluated = await _scan(db, rulebook, at, facts_config)
                for customer, evaluation in evaluated:
                    record_evaluation(result, started, holdout, batch[0], customer, evaluation)
                continue
            for trigger, evaluation in await _events(db, rulebook, batch, facts_config):
                record_evaluation(
                    result, started, holdout, trigger, trigger.customer_id, evaluation
                )
        if on_day is not None:
            on_day(day)
    return result


async def _triggers_of_day(db: Database, day: date, scan_time: time) -> list[Trigger]:
    """The day's scan and events, in time order (an event at the scan time goes first)."""
    begin = datetime.combine(day, time(), UTC)
    end = begin + timedelta(days=1)
    triggers = [Trigger(datetime.combine(day, scan_time, UTC), DAILY_SCAN)]
    async with db.session() as session:
        orders = await session.execute(
            select(Order.ordered_at, Customer.external_id, Customer.id)
            .join(Customer, Customer.id == Order.customer_id)
            .where(Order.ordered_at >= begin, Order.ordered_at < end)
        )
        triggers += [
            Trigger(at, "order_placed", customer, customer_pk=pk)
            for at, customer, pk in orders.all()
        ]
        complaints = await session.execute(
            select(
                Complaint.opened_at,
                Customer.external_id,
                Customer.id,
                Complaint.external_id,
                Complaint.severity,
            )
            .join(Customer, Customer.id == Complaint.customer_id)
            .where(Complaint.opened_at >= begin, Complaint.opened_at < end)
        )
        triggers += [
            Trigger(
                at,
                "complaint_opened",
                customer,
                customer_pk=pk,
                subject=complaint,
                data=(("complaint_id", complaint), ("severity", severity)),
            )
            for at, customer, pk, complaint, severity in complaints.all()
        ]
    # Deterministic: by time, then events before the scan, then by customer and subject.
    return sorted(triggers, key=lambda t: (t.at, t.kind == DAILY_SCAN, t.customer_id, t.subject))


async def _scan(
    db: Database, rulebook: RuleBook, at: datetime, config: FactsConfig | None
) -> list[tuple[str, Evaluation]]:
    """Every customer's facts as of `at`, through the rules, as the daily scan does."""
    evaluated: list[tuple[str, Evaluation]] = []
    async with db.session() as session:
        customers = (
            await session.execute(
                select(Customer.id, Customer.external_id)
                .where(Customer.erased_at.is_(None))
                .order_by(Customer.id)
            )
        ).all()
        for first in range(0, len(customers), MAX_IDS_PER_QUERY):
            page = customers[first : first + MAX_IDS_PER_QUERY]
            facts = await compute_facts(
                session, [pk for pk, _ in page], at, config=config, derived=rulebook.derived
            )
            snapshots = [(external, facts[pk]) for pk, external in page if pk in facts]
            evaluations = await asyncio.to_thread(_evaluate_scan, rulebook, snapshots)
            evaluated += [
                (external, evaluation)
                for (external, _), evaluation in zip(snapshots, evaluations, strict=True)
            ]
    return evaluated


def _evaluate_scan(
    rulebook: RuleBook, snapshots: list[tuple[str, dict[str, object]]]
) -> list[Evaluation]:
    # One thread hop per page, as the daily scan's activity does.
    return [rulebook.evaluate({**facts, "event_type": DAILY_SCAN}) for _, facts in snapshots]


async def _events(
    db: Database, rulebook: RuleBook, triggers: list[Trigger], config: FactsConfig | None
) -> list[tuple[Trigger, Evaluation]]:
    """Events at one instant: each customer's facts then, plus the event's own facts."""
    async with db.session() as session:
        facts = await compute_facts(
            session,
            sorted({t.customer_pk for t in triggers}),
            triggers[0].at,
            config=config,
            derived=rulebook.derived,
        )
    return [
        (
            trigger,
            rulebook.evaluate(
                {**facts[trigger.customer_pk], **event_facts(trigger.kind, dict(trigger.data))}
            ),
        )
        for trigger in triggers
        if trigger.customer_pk in facts
    ]


def record_evaluation(
    result: Replay,
    started: dict[str, list[JourneySpan]],
    holdout: HoldoutConfig,
    trigger: Trigger,
    customer: str,
    evaluation: Evaluation,
) -> None:
    """Count the firings; start each journey the start policy lets start."""
    for outcome in evaluation.outcomes:
        if outcome.fired:
            result.customers_by_rule[outcome.rule_id].add(customer)
            result.firings_by_rule[outcome.rule_id] += 1
            if customer in result.timelines:
                result.timelines[customer].append((trigger.at, trigger.kind, outcome.rule_id))
    on = trigger.at.date()
    for intent in evaluation.intents:
        if intent.action != "start_workflow" or intent.workflow not in JOURNEYS:
            continue
        journey = JOURNEYS[intent.workflow]
        subject = journey_subject(journey.needs_subject, trigger.subject, intent, on)
        # The id a simulation's dispatcher builds (keyed with the simulations' key), so
        # the replay names the journeys `careflow simulate` starts.
        workflow_id = journey_ids(
            journey.workflow_id,
            SIMULATION_KEY,
            customer,
            intent.rule_id,
            subject,
            on,
            intent.reenter_after_days,
        ).current
        spans = started[customer]
        decision = start_decision(
            StartRequest(intent.rule_id, journey.name, intent.reenter_after_days),
            trigger.at,
            _known_at(trigger.at, spans),
            workflow_id=workflow_id,
            subject=subject or None,
            held_out=holdout.holds_out(customer, journey.name),
        )
        if decision.outcome not in (StartOutcome.STARTED, StartOutcome.HELD_OUT) or any(
            span.workflow_id == workflow_id for span in spans
        ):
            continue  # the dispatcher would find it in the way, or already held out
        held_out = decision.outcome is StartOutcome.HELD_OUT
        spans.append(
            JourneySpan(
                workflow_id,
                journey.name,
                intent.rule_id,
                HOLDOUT_STATUS if held_out else "running",
                trigger.at,
                None,
                subject or None,
            )
        )
        result.journeys.append(
            JourneyStart(
                at=trigger.at,
                customer_id=customer,
                journey=journey.name,
                rule_id=intent.rule_id,
                workflow_id=workflow_id,
                held_out=held_out,
            )
        )


def _known_at(at: datetime, spans: list[JourneySpan]) -> list[JourneySpan]:
    """The replay's journeys as the policy sees them at `at`: those started at this
    very instant are running; when the earlier ones ended is unknown (none ran), so
    they are taken as over."""
    return [
        span if span.started_at == at else replace(span, ended_at=span.started_at) for span in spans
    ]
