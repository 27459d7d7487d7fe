"""What a journey simulation amounts to, for people and as JSON, and two rule sets compared.

Everything comes from the run's store (rule decisions, journeys, the timeline, as
`careflow timeline` and `careflow kpis` read them) and from its send log (every
answer of `send_email`, deferrals included, which the ledger overwrites once a
message goes out). Times are shown in the data's own calendar: the run's shift is
taken off again. Nothing here reads a wall clock, so the same data and rules give
the same report.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Row, func, select

from careflow.simulate.report import JourneyDifference, RuleCount
from careflow.simulate.run import SIMULATION_KEY, JourneyRun
from careflow.store import Customer, JourneyRecord, RuleDecision
from careflow.timeline import customer_timeline

HOLDOUT = "holdout"
# Journey outcomes that get their own column (all outcomes are listed as well).
GOAL_MET, OPTED_OUT = "goal_met", "opted_out"
# Deferral reasons worth a list of customers (`careflow.outreach.decisions.Reason`).
DEFERRAL_REASONS = ("over_budget", "quiet_hours")


@dataclass(frozen=True)
class JourneyOutcome:
    journey: str
    started: int
    held_out: int
    completed: int  # ended within the simulated days, whatever the outcome
    goal_met: int
    opted_out: int
    in_flight: int  # still running when the simulation ended
    outcomes: dict[str, int]


@dataclass(frozen=True)
class OfferCost:
    """Money-off offers (`offer_value` of the journey's plan), by currency."""

    currency: str
    sent: int
    value_sent: float
    redeemed: int  # offers whose journey met its goal (the customer ordered)
    value_redeemed: float


@dataclass(frozen=True)
class TimelineLine:
    at: str  # minute precision, in the data's calendar (UTC)
    kind: str
    summary: str


@dataclass(frozen=True)
class JourneyReport:
    ruleset_hash: str
    start: date
    days: int
    shift_days: int  # how far the history was moved to run on the server's clock
    rules: list[RuleCount]
    journeys: list[JourneyOutcome]
    # Day (ISO) -> template -> messages sent that day.
    messages_per_day: dict[str, dict[str, int]]
    # "sent", "skipped: no_marketing_consent", ... -> intended messages (journey steps).
    messages_by_outcome: dict[str, int]
    # Deferral reason -> customers who had at least one message deferred for it.
    deferred_customers: dict[str, list[str]]
    offers: list[OfferCost]
    timelines: dict[str, list[TimelineLine]]


@dataclass(frozen=True)
class Receivers:
    """Who got what, for comparing two runs (not part of the printed report)."""

    # Journey -> customers it started for (held-out customers excluded).
    journeys: dict[str, set[str]]
    rules: dict[str, set[str]]


async def summarise_run(
    run: JourneyRun, follow: list[str] | tuple[str, ...] = ()
) -> tuple[JourneyReport, Receivers]:
    """The report of a run, and who received which journey (for `compare_runs`)."""
    rules, fired_for = await _rules(run)
    journeys, receivers = await _journeys(run)
    report = JourneyReport(
        ruleset_hash=run.ruleset_hash,
        start=run.start,
        days=run.days,
        shift_days=run.shift.days,
        rules=rules,
        journeys=journeys,
        messages_per_day=_messages_per_day(run),
        messages_by_outcome=_messages_by_outcome(run),
        deferred_customers=_deferred(run),
        offers=await _offers(run),
        timelines={customer: await _timeline(run, customer) for customer in follow},
    )
    return report, Receivers(receivers, fired_for)


async def _rules(run: JourneyRun) -> tuple[list[RuleCount], dict[str, set[str]]]:
    rows: list[Row[str, str, int]] = []
    for part in run.parts:  # each customer is in one partition's store
        async with part.session() as session:
            rows += (
                await session.execute(
                    select(RuleDecision.rule_id, Customer.external_id, func.count())
                    .join(Customer, Customer.id == RuleDecision.customer_id)
                    .where(RuleDecision.decided_at >= run.begin, RuleDecision.decided_at < run.end)
                    .group_by(RuleDecision.rule_id, Customer.external_id)
                )
            ).all()
    customers: dict[str, set[str]] = defaultdict(set)
    firings: Counter[str] = Counter()
    for rule_id, customer, count in rows:
        customers[rule_id].add(customer)
        firings[rule_id] += count
    ids = [*run.rule_ids, *sorted(set(customers) - set(run.rule_ids))]
    return [RuleCount(i, len(customers.get(i, ())), firings[i]) for i in ids], dict(customers)


async def _journeys(run: JourneyRun) -> tuple[list[JourneyOutcome], dict[str, set[str]]]:
    rows: list[Row[str, str, str | None, datetime | None, str]] = []
    for part in run.parts:
        async with part.session() as session:
            rows += (
                await session.execute(
                    select(
                        JourneyRecord.journey,
                        JourneyRecord.status,
                        JourneyRecord.outcome,
                        JourneyRecord.ended_at,
                        Customer.external_id,
                    )
                    .join(Customer, Customer.id == JourneyRecord.customer_id)
                    .where(
                        JourneyRecord.started_at >= run.begin, JourneyRecord.started_at < run.end
                    )
                )
            ).all()
    receivers: dict[str, set[str]] = defaultdict(set)
    tallies: dict[str, Counter[str]] = defaultdict(Counter)
    outcomes: dict[str, Counter[str]] = defaultdict(Counter)
    for journey, status, outcome, ended_at, customer in rows:
        tally = tallies[journey]
        if status == HOLDOUT:
            tally["held_out"] += 1
            continue
        receivers[journey].add(customer)
        tally["started"] += 1
        if ended_at is not None and ended_at < run.end:
            tally["completed"] += 1
            outcomes[journey][outcome or "ended"] += 1
        else:
            tally["in_flight"] += 1
    report = [
        JourneyOutcome(
            journey=name,
            started=tallies[name]["started"],
            held_out=tallies[name]["held_out"],
            completed=tallies[name]["completed"],
            goal_met=outcomes[name][GOAL_MET],
            opted_out=outcomes[name][OPTED_OUT],
            in_flight=tallies[name]["in_flight"],
            outcomes=dict(sorted(outcomes[name].items())),
        )
        for name in sorted(tallies)
    ]
    return report, dict(receivers)


def _in_window(run: JourneyRun, at: datetime | None) -> bool:
    return at is not None and run.begin <= at < run.end


def _day(run: JourneyRun, at: datetime) -> str:
    return (at - run.shift).date().isoformat()


def _messages_per_day(run: JourneyRun) -> dict[str, dict[str, int]]:
    counts: Counter[tuple[str, str]] = Counter(
        (_day(run, send.at), send.template_id)
        for send in run.sends.sends.values()
        if send.status == "sent" and send.at is not None and _in_window(run, send.at)
    )
    templates = sorted({template for _, template in counts})
    days = [(run.start + timedelta(days=offset)).isoformat() for offset in range(run.days)]
    return {day: {t: counts[(day, t)] for t in templates if counts[(day, t)]} for day in days}


def _messages_by_outcome(run: JourneyRun) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for send in run.sends.sends.values():
        if not _in_window(run, send.at):
            continue
        reason = (send.reason or "").split(":")[0]
        counts[f"{send.status}: {reason}" if reason else send.status] += 1
        if send.deferrals and send.status == "sent":
            counts["sent after a deferral"] += 1
    return dict(sorted(counts.items()))


def _deferred(run: JourneyRun) -> dict[str, list[str]]:
    customers: dict[str, set[str]] = {reason: set() for reason in DEFERRAL_REASONS}
    for send in run.sends.sends.values():
        for deferral in send.deferrals:
            reason = deferral.split(":")[0]
            if reason in customers and _in_window(run, send.at):
                customers[reason].add(send.customer_id)
    return {reason: sorted(found) for reason, found in customers.items()}


async def _offers(run: JourneyRun) -> list[OfferCost]:
    sent = [
        send
        for send in run.sends.sends.values()
        if send.status == "sent" and send.offer_value is not None and _in_window(run, send.at)
    ]
    # One offer per journey: the reminder repeats the same code.
    first: dict[str, float] = {}
    currency: dict[str, str] = {}
    for send in sorted(sent, key=lambda s: (s.workflow_id, s.at or run.begin)):
        if send.workflow_id not in first:
            assert send.offer_value is not None
            first[send.workflow_id] = send.offer_value
            currency[send.workflow_id] = send.offer_currency or ""
    met: set[str] = set()
    for part in run.parts:
        async with part.session() as session:
            met |= set(
                await session.scalars(
                    select(JourneyRecord.workflow_id).where(
                        JourneyRecord.outcome == GOAL_MET, JourneyRecord.ended_at < run.end
                    )
                )
            )
    costs = []
    for code in sorted(set(currency.values())):
        journeys = [w for w in first if currency[w] == code]
        redeemed = [w for w in journeys if w in met]
        costs.append(
            OfferCost(
                code,
                sent=len(journeys),
                value_sent=round(sum(first[w] for w in journeys), 2),
                redeemed=len(redeemed),
                value_redeemed=round(sum(first[w] for w in redeemed), 2),
            )
        )
    return costs


async def _timeline(run: JourneyRun, customer: str) -> list[TimelineLine]:
    store = run.store_of(customer)
    entries = await customer_timeline(store, customer, secret_key=SIMULATION_KEY) or []
    return [
        TimelineLine((entry.at - run.shift).strftime("%Y-%m-%d %H:%M"), entry.kind, entry.summary)
        for entry in entries
        if entry.at < run.end
    ]


@dataclass(frozen=True)
class RunComparison:
    base: JourneyReport
    other: JourneyReport
    journeys: list[JourneyDifference]
    # Per rule id (in the `journey` field): customers it fires for newly / no longer.
    rules: list[JourneyDifference]
    # Day (ISO) -> template -> other minus base messages sent.
    messages_per_day_change: dict[str, dict[str, int]]
    messages_change: int
    # Currency -> (other minus base) value of offers sent, and of offers redeemed.
    offer_value_sent_change: dict[str, float]
    offer_value_redeemed_change: dict[str, float]


def compare_runs(
    base: tuple[JourneyReport, Receivers], other: tuple[JourneyReport, Receivers]
) -> RunComparison:
    """Who newly or no longer gets each journey, and what that does to messages and offers."""
    (base_report, base_receivers), (other_report, other_receivers) = base, other
    journeys = _changes(base_receivers.journeys, other_receivers.journeys)
    # Rules only where they fire for other customers (every journey is listed).
    rules = [
        change
        for change in _changes(base_receivers.rules, other_receivers.rules)
        if change.newly or change.no_longer
    ]
    change: dict[str, dict[str, int]] = {}
    for day, counts in base_report.messages_per_day.items():
        theirs = other_report.messages_per_day.get(day, {})
        templates = sorted(set(counts) | set(theirs))
        change[day] = {
            t: theirs.get(t, 0) - counts.get(t, 0)
            for t in templates
            if theirs.get(t, 0) != counts.get(t, 0)
        }
    total = sum(sum(c.values()) for c in change.values())
    sent = _by_currency(base_report.offers, other_report.offers, lambda o: o.value_sent)
    redeemed = _by_currency(base_report.offers, other_report.offers, lambda o: o.value_redeemed)
    return RunComparison(base_report, other_report, journeys, rules, change, total, sent, redeemed)


def _changes(base: dict[str, set[str]], other: dict[str, set[str]]) -> list[JourneyDifference]:
    """Per name (journey or rule id): who has it only with the other rules, only with the base."""
    changes = []
    for name in sorted(set(base) | set(other)):
        before, after = base.get(name, set()), other.get(name, set())
        changes.append(JourneyDifference(name, sorted(after - before), sorted(before - after)))
    return changes


def _by_currency(
    base: list[OfferCost], other: list[OfferCost], value: Callable[[OfferCost], float]
) -> dict[str, float]:
    before = {offer.currency: value(offer) for offer in base}
    after = {offer.currency: value(offer) for offer in other}
    return {
        code: round(after.get(code, 0.0) - before.get(code, 0.0), 2)
        for code in sorted(set(before) | set(after))
    }
