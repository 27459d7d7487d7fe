"""Compiled rule files next to hand-written durable_rules JSON for the same rules.

    python -m bench.rules_bench                    # 100,000 snapshots, then 1,000,000 customers
    python -m bench.rules_bench --distinct 0       # the comparison only

Both sides run the daily-scan rules below (a first_match retention ruleset and an
all_matches occasions ruleset, copies of the shipped ones so the figures stay
comparable when operations staff edit rules/) on the same generated snapshots:

- baseline: the conditions written by hand as durable_rules JSON in one ruleset,
  driven the way durable_rules is driven anywhere (assert the snapshot as a fact,
  run the actions, retract it; one session), the first_match winner picked by
  priority in Python;
- careflow: `RuleBook.evaluate`, which also type-checks the snapshot, builds the
  Intents and the audit outcomes.

Both must fire the same rules for every snapshot. The target is careflow's time at
most 1.25x the baseline's. Then `--distinct` customers (a million by default), each
a different snapshot, go through one RuleBook while resident memory is sampled: it
must level off, not grow with the number of customers.
"""

from __future__ import annotations

import argparse
import random
import resource
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from durable.engine import MessageNotHandledException, Ruleset

from careflow.rules import RuleBook, load_rulebook
from careflow.rules.references import References

RETENTION = """\
name: retention
owner: bench
description: Retention and win-back.
mode: first_match
rules:
  - id: vip-dormant-win-back
    description: VIP win-back.
    priority: 50
    when: {event_type: daily_scan, tier: vip, lifecycle_stage: dormant,
           email_marketing_consent: true}
    then: [{start: retention_offer}, {notify: sales}]
    examples: [{given: {event_type: daily_scan, tier: vip, lifecycle_stage: dormant,
                        email_marketing_consent: true},
                expect: [start retention_offer, notify sales]}]
  - id: dormant-win-back
    description: Win-back.
    priority: 40
    when:
      event_type: daily_scan
      lifecycle_stage: dormant
      days_since_last_order: {between: [90, 365]}
      email_marketing_consent: true
    then: [{start: retention_offer}]
    examples: [{given: {event_type: daily_scan, lifecycle_stage: dormant,
                        days_since_last_order: 100, email_marketing_consent: true},
                expect: [start retention_offer]}]
  - id: vip-declining-frequency
    description: VIP declining.
    priority: 30
    when:
      event_type: daily_scan
      tier: vip
      purchase_frequency_change: {at_most: -0.3}
      orders_prev_90d: {at_least: 2}
      email_marketing_consent: true
    then: [{start: retention_offer}]
    examples: [{given: {event_type: daily_scan, tier: vip, purchase_frequency_change: -0.4,
                        orders_prev_90d: 3, email_marketing_consent: true},
                expect: [start retention_offer]}]
  - id: declining-frequency
    description: Declining.
    priority: 20
    when:
      event_type: daily_scan
      purchase_frequency_change: {at_most: -0.5}
      orders_prev_90d: {at_least: 2}
      email_marketing_consent: true
    then: [{start: retention_offer}]
    examples: [{given: {event_type: daily_scan, purchase_frequency_change: -0.6,
                        orders_prev_90d: 3, email_marketing_consent: true},
                expect: [start retention_offer]}]
  - id: overdue-by-usual-rhythm
    description: Overdue.
    priority: 10
    when:
      event_type: daily_scan
      lifecycle_stage: active
      order_count: {at_least: 3}
      order_gap_ratio: {at_least: 3}
      email_marketing_consent: true
    then: [{start: retention_offer}]
    examples: [{given: {event_type: daily_scan, lifecycle_stage: active, order_count: 5,
                        order_gap_ratio: 4.0, email_marketing_consent: true},
                expect: [start retention_offer]}]
"""

OCCASIONS = """\
name: occasions
owner: bench
description: Birthdays and holidays.
mode: all_matches
rules:
  - id: birthday-greeting
    description: Birthday.
    when: {event_type: daily_scan, days_until_birthday: 0}
    then: [{start: care_message, params: {occasion: birthday}}]
    examples: [{given: {event_type: daily_scan, days_until_birthday: 0},
                expect: [start care_message]}]
  - id: vip-birthday-heads-up
    description: VIP heads-up.
    when: {event_type: daily_scan, tier: vip, days_until_birthday: 3}
    then: [{notify: sales}]
    examples: [{given: {event_type: daily_scan, tier: vip, days_until_birthday: 3},
                expect: [notify sales]}]
  - id: spring-festival-greeting
    description: Spring Festival.
    when: {event_type: daily_scan, holiday_today: spring_festival}
    then: [{start: care_message, params: {occasion: spring_festival}}]
    examples: [{given: {event_type: daily_scan, holiday_today: spring_festival},
                expect: [start care_message]}]
  - id: mid-autumn-greeting
    description: Mid-Autumn.
    when: {event_type: daily_scan, holiday_today: mid_autumn}
    then: [{start: care_message, params: {occasion: mid_autumn}}]
    examples: [{given: {event_type: daily_scan, holiday_today: mid_autumn},
                expect: [start care_message]}]
  - id: new-year-greeting
    description: New Year.
    when: {event_type: daily_scan, holiday_today: new_year,
           lifecycle_stage: {one_of: [new, active]}}
    then: [{start: care_message, params: {occasion: new_year}}]
    examples: [{given: {event_type: daily_scan, holiday_today: new_year, lifecycle_stage: new},
                expect: [start care_message]}]
"""

# The same rules as a developer would write them for durable_rules: (priority, condition).
DAILY = {"$eq": {"event_type": "daily_scan"}}
CONSENT = {"$eq": {"email_marketing_consent": True}}
HAND_WRITTEN: dict[str, tuple[str, dict[str, tuple[int, dict[str, object]]]]] = {
    "retention": (
        "first_match",
        {
            "vip-dormant-win-back": (
                50,
                {
                    "$and": [
                        DAILY,
                        {"$eq": {"tier": "vip"}},
                        {"$eq": {"lifecycle_stage": "dormant"}},
                        CONSENT,
                    ]
                },
            ),
            "dormant-win-back": (
                40,
                {
                    "$and": [
                        DAILY,
                        {"$eq": {"lifecycle_stage": "dormant"}},
                        {"$gte": {"days_since_last_order": 90}},
                        {"$lte": {"days_since_last_order": 365}},
                        CONSENT,
                    ]
                },
            ),
            "vip-declining-frequency": (
                30,
                {
                    "$and": [
                        DAILY,
                        {"$eq": {"tier": "vip"}},
                        {"$lte": {"purchase_frequency_change": -0.3}},
                        {"$gte": {"orders_prev_90d": 2}},
                        CONSENT,
                    ]
                },
            ),
            "declining-frequency": (
                20,
                {
                    "$and": [
                        DAILY,
                        {"$lte": {"purchase_frequency_change": -0.5}},
                        {"$gte": {"orders_prev_90d": 2}},
                        CONSENT,
                    ]
                },
            ),
            "overdue-by-usual-rhythm": (
                10,
                {
                    "$and": [
                        DAILY,
                        {"$eq": {"lifecycle_stage": "active"}},
                        {"$gte": {"order_count": 3}},
                        {"$gte": {"order_gap_ratio": 3}},
                        CONSENT,
                    ]
                },
            ),
        },
    ),
    "occasions": (
        "all_matches",
        {
            "birthday-greeting": (0, {"$and": [DAILY, {"$eq": {"days_until_birthday": 0}}]}),
            "vip-birthday-heads-up": (
                0,
                {"$and": [DAILY, {"$eq": {"tier": "vip"}}, {"$eq": {"days_until_birthday": 3}}]},
            ),
            "spring-festival-greeting": (
                0,
                {"$and": [DAILY, {"$eq": {"holiday_today": "spring_festival"}}]},
            ),
            "mid-autumn-greeting": (0, {"$and": [DAILY, {"$eq": {"holiday_today": "mid_autumn"}}]}),
            "new-year-greeting": (
                0,
                {
                    "$and": [
                        DAILY,
                        {"$eq": {"holiday_today": "new_year"}},
                        {
                            "$or": [
                                {"$eq": {"lifecycle_stage": "new"}},
                                {"$eq": {"lifecycle_stage": "active"}},
                            ]
                        },
                    ]
                },
            ),
        },
    ),
}

Snapshot = dict[str, object]


class HandWritten:
    """The baseline: durable_rules driven directly with the hand-written conditions.

    All rules sit in one durable_rules ruleset (one assert per snapshot, the fastest
    way to drive it); first_match is then applied per group in Python.
    """

    def __init__(self) -> None:
        self.fired: list[str] = []
        definition = {
            rule_id: {"all": [{"m": condition}], "run": self._recorder(rule_id)}
            for _, rules in HAND_WRITTEN.values()
            for rule_id, (_, condition) in rules.items()
        }
        self.groups = [
            (mode, sorted(rules, key=lambda rule_id: -rules[rule_id][0]))
            for mode, rules in HAND_WRITTEN.values()
        ]
        self.ruleset = Ruleset("hand-written", None, definition)

    def _recorder(self, rule_id: str) -> Callable[[object], None]:
        return lambda _closure: self.fired.append(rule_id)

    def evaluate(self, snapshot: Snapshot) -> list[str]:
        self.fired.clear()
        try:
            handle = self.ruleset.assert_fact({**snapshot, "sid": "bench", "id": "snapshot"})
            self.ruleset.do_actions(handle, lambda _error, _state: None)
        except MessageNotHandledException:
            pass
        self.ruleset.retract_fact({"sid": "bench", "id": "snapshot"})
        fired = set(self.fired)
        result: list[str] = []
        for mode, ordered in self.groups:
            matched = [rule_id for rule_id in ordered if rule_id in fired]
            result += matched[:1] if mode == "first_match" else matched
        return result


def snapshots(count: int, seed: int) -> Iterator[Snapshot]:
    """Daily-scan snapshots shaped like careflow.facts output, unknown facts left out."""
    rng = random.Random(seed)
    for number in range(count):
        ordered = rng.random() < 0.9
        snapshot: Snapshot = {
            "event_type": "daily_scan",
            "customer": f"c-{number}",  # not a fact: ignored by the rules, as in real snapshots
            "tier": rng.choice(("vip", "regular", "regular", "potential")),
            "lifecycle_stage": rng.choice(("new", "active", "active", "dormant", "churned")),
            "email_marketing_consent": rng.random() < 0.7,
            "has_email": True,
            "locale": rng.choice(("zh-CN", "en")),
            "open_complaints": rng.randint(0, 2),
            "days_since_signup": rng.randint(0, 2000),
        }
        if ordered:
            snapshot |= {
                "days_since_last_order": rng.randint(0, 700),
                "orders_last_90d": rng.randint(0, 6),
                "orders_prev_90d": rng.randint(0, 6),
                "order_count": rng.randint(1, 40),
                "total_spent": round(rng.uniform(10, 20000), 2),
                "spend_last_90d": round(rng.uniform(0, 2000), 2),
                "spend_last_365d": round(rng.uniform(0, 8000), 2),
                "purchase_frequency_change": round(rng.uniform(-1, 1), 2),
                "order_gap_ratio": round(rng.uniform(0, 6), 2),
            }
        if rng.random() < 0.8:
            snapshot["days_until_birthday"] = rng.randint(0, 365) if rng.random() < 0.9 else 0
        if rng.random() < 0.05:
            snapshot["holiday_today"] = rng.choice(("spring_festival", "mid_autumn", "new_year"))
        yield snapshot


def load_bench_rulebook(folder: Path) -> RuleBook:
    """The rule files above, checked and compiled exactly like the shipped ones."""
    (folder / "retention.rules.yaml").write_text(RETENTION)
    (folder / "occasions.rules.yaml").write_text(OCCASIONS)
    references = References(
        {"retention_offer": (), "care_message": ()}, frozenset(), folder / "templates"
    )
    return load_rulebook(folder, references=references)


def resident_mb() -> float:
    """Current resident memory (Linux), else the peak so far."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * resource.getpagesize() / 1e6
    except (OSError, IndexError, ValueError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3


@dataclass(frozen=True)
class RulesFigures:
    """Seconds each side took over the same snapshots, and how many rules fired."""

    snapshots: int
    fired: int
    baseline_seconds: float
    careflow_seconds: float

    @property
    def ratio(self) -> float:
        return self.careflow_seconds / self.baseline_seconds


def measure(rulebook: RuleBook, count: int) -> RulesFigures:
    """Time both sides on the same snapshots (interleaved rounds) and check they agree."""
    data = list(snapshots(count, seed=1))
    hand = HandWritten()
    for snapshot in data[:2000]:  # warm-up, and the two sides must agree
        ours = [outcome.rule_id for outcome in rulebook.evaluate(snapshot).outcomes]
        assert sorted(ours) == sorted(hand.evaluate(snapshot)), snapshot
    timings: dict[str, float] = {"baseline": 0.0, "careflow": 0.0}
    fired = 0
    rounds = 5
    size = len(data) // rounds
    for start in range(0, size * rounds, size):
        chunk = data[start : start + size]
        began = time.perf_counter()
        for snapshot in chunk:
            hand.evaluate(snapshot)
        timings["baseline"] += time.perf_counter() - began
        began = time.perf_counter()
        for snapshot in chunk:
            fired += len(rulebook.evaluate(snapshot).outcomes)
        timings["careflow"] += time.perf_counter() - began
    return RulesFigures(count, fired, timings["baseline"], timings["careflow"])


def compare(rulebook: RuleBook, count: int) -> None:
    """Time both sides on the same snapshots and print the figures."""
    figures = measure(rulebook, count)
    timings = {"baseline": figures.baseline_seconds, "careflow": figures.careflow_seconds}
    print(f"{count:,} snapshots, 10 rules in 2 rulesets, {figures.fired:,} rules fired")
    for side, seconds in timings.items():
        print(f"  {side:9s} {seconds:7.2f} s  {count / seconds:9,.0f} snapshots/s per core")
    verdict = "ok" if figures.ratio <= 1.25 else "OVER TARGET"
    print(f"  ratio     {figures.ratio:7.3f}x (target <= 1.25x: {verdict})")


def distinct_customers(rulebook: RuleBook, count: int) -> None:
    """A different snapshot per customer through one RuleBook; memory must level off."""
    print(f"{count:,} distinct customers through one RuleBook:")
    began = time.perf_counter()
    step = max(count // 10, 1)
    samples: list[float] = []
    for number, snapshot in enumerate(snapshots(count, seed=2), start=1):
        rulebook.evaluate(snapshot)
        if number % step == 0:
            samples.append(resident_mb())
            print(f"  {number:>10,} customers  {samples[-1]:7.1f} MB resident")
    seconds = time.perf_counter() - began
    growth = samples[-1] - samples[0] if samples else 0.0
    print(f"  {count / seconds:,.0f} customers/s; growth after the first tenth: {growth:+.1f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--snapshots", type=int, default=100_000)
    parser.add_argument("--distinct", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        rulebook = load_bench_rulebook(Path(folder))
    if args.snapshots:
        compare(rulebook, args.snapshots)
    if args.distinct:
        distinct_customers(rulebook, args.distinct)


if __name__ == "__main__":
    main()
