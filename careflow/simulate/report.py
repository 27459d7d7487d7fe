"""What a replay amounts to, for people and as JSON, and the difference between two rule sets."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta

from careflow.simulate.replay import Replay


@dataclass(frozen=True)
class RuleCount:
    rule_id: str
    customers: int  # distinct customers it fired for
    firings: int


@dataclass(frozen=True)
class JourneyCount:
    journey: str
    started: int
    held_out: int  # would have started, but the customer is in the holdout group
    customers: int


@dataclass(frozen=True)
class TimelineEntry:
    at: str
    what: str  # "<trigger> fired <rule>" or "start <journey>" / "held out of <journey>"


@dataclass(frozen=True)
class SimulationReport:
    ruleset_hash: str
    start: date
    days: int
    rules: list[RuleCount]
    journeys: list[JourneyCount]
    # Day (ISO) -> journey -> journeys started that day (held-out customers excluded).
    starts_per_day: dict[str, dict[str, int]]
    timelines: dict[str, list[TimelineEntry]]


@dataclass(frozen=True)
class JourneyDifference:
    journey: str
    newly: list[str]  # customers who get it only with the other rules
    no_longer: list[str]  # customers who get it only with the base rules


@dataclass(frozen=True)
class RuleDifference:
    rule_id: str
    newly: list[str]  # customers it fires for only in the other rules
    no_longer: list[str]  # customers it fires for only in the base rules


@dataclass(frozen=True)
class Comparison:
    base: SimulationReport
    other: SimulationReport
    journeys: list[JourneyDifference]
    # Rules (by id, in either set) that fire for different customers.
    rules: list[RuleDifference]
    # Day (ISO) -> journey -> other minus base starts.
    starts_per_day_change: dict[str, dict[str, int]]


def summarise(replay: Replay) -> SimulationReport:
    """Counts per rule and journey, starts per day, and the followed customers' timelines."""
    rules = [
        RuleCount(
            rule_id,
            len(replay.customers_by_rule.get(rule_id, ())),
            replay.firings_by_rule[rule_id],
        )
        for rule_id in dict.fromkeys(replay.rule_ids)
    ]
    names = sorted({start.journey for start in replay.journeys})
    journeys = [
        JourneyCount(
            name,
            started=sum(1 for s in replay.journeys if s.journey == name and not s.held_out),
            held_out=sum(1 for s in replay.journeys if s.journey == name and s.held_out),
            customers=len({s.customer_id for s in replay.journeys if s.journey == name}),
        )
        for name in names
    ]
    timelines = {
        customer: sorted(
            [TimelineEntry(at.isoformat(), f"{kind} fired {rule}") for at, kind, rule in entries]
            + [
                TimelineEntry(
                    s.at.isoformat(),
                    f"{'held out of' if s.held_out else 'start'} {s.journey} ({s.workflow_id})",
                )
                for s in replay.journeys
                if s.customer_id == customer
            ],
            key=lambda entry: entry.at,
        )
        for customer, entries in replay.timelines.items()
    }
    return SimulationReport(
        replay.ruleset_hash,
        replay.start,
        replay.days,
        rules,
        journeys,
        _starts_per_day(replay),
        timelines,
    )


def compare(base: Replay, other: Replay) -> Comparison:
    """Who newly gets or no longer gets each journey, and the change in starts per day."""
    names = sorted({s.journey for s in base.journeys} | {s.journey for s in other.journeys})
    differences = []
    for name in names:
        before = _receivers(base, name)
        after = _receivers(other, name)
        differences.append(JourneyDifference(name, sorted(after - before), sorted(before - after)))
    rules = []
    for rule_id in dict.fromkeys([*base.rule_ids, *other.rule_ids]):
        before = base.customers_by_rule.get(rule_id, set())
        after = other.customers_by_rule.get(rule_id, set())
        if before != after:
            rules.append(RuleDifference(rule_id, sorted(after - before), sorted(before - after)))
    base_days, other_days = _starts_per_day(base), _starts_per_day(other)
    change = {
        day: {
            name: other_days[day].get(name, 0) - base_days[day].get(name, 0)
            for name in names
            if other_days[day].get(name, 0) != base_days[day].get(name, 0)
        }
        for day in base_days
    }
    return Comparison(summarise(base), summarise(other), differences, rules, change)


def _receivers(replay: Replay, journey: str) -> set[str]:
    return {s.customer_id for s in replay.journeys if s.journey == journey and not s.held_out}


def _starts_per_day(replay: Replay) -> dict[str, dict[str, int]]:
    counts: Counter[tuple[date, str]] = Counter(
        (s.at.date(), s.journey) for s in replay.journeys if not s.held_out
    )
    days = [replay.start + timedelta(days=offset) for offset in range(replay.days)]
    names = sorted({name for _, name in counts})
    return {
        day.isoformat(): {name: counts[(day, name)] for name in names if counts[(day, name)]}
        for day in days
    }
