"""An event's evaluation computes only the facts its rules can read, and decides the same.

`RuleBook.needs_for_event` leaves out every fact read only by rules that require
another event type (most of a book's rules are the daily scan's). The decisions must
be exactly those of the whole snapshot: same intents, same fired rules, same matched
facts in the audit.
"""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from careflow.facts import compute_facts
from careflow.intake.event_facts import event_facts
from careflow.paths import RULES_DIR
from careflow.rule_references import shipped_references
from careflow.rules.rulebook import RuleBook, load_rulebook
from careflow.store import CustomEvent, Database
from tests.facts.store_rows import (
    CONFIG,
    add_complaint,
    add_customer,
    add_orders,
    add_survey,
)
from tests.segments.test_segment_rules import SEGMENTS as SEGMENT_RULES_SEGMENTS

AT = datetime(2026, 11, 11, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)

# The data each event type is tried with: what makes its rules fire or not.
EVENT_DATA: dict[str, list[dict[str, object]]] = {
    "complaint_opened": [{"severity": "critical"}, {"severity": "low"}],
    "survey_answered": [{"score": 1}, {"score": 5}],
    "customer_upserted": [{"changed_fields": ["tier"]}, {"changed_fields": ["email"]}],
}


async def _customers(db: Database) -> list[int]:
    """Customers whose facts differ in every way the shipped rules look at."""
    async with db.session() as session:
        vip = await add_customer(session, created_at=AT - 800 * DAY, tier="vip", locale="zh-CN")
        await add_orders(
            session,
            vip,
            *((AT - days * DAY, "900.00") for days in (400, 200, 150, 120, 100, 95, 40)),
        )
        await add_complaint(session, vip, opened_at=AT - 2 * DAY, severity="high")
        await add_complaint(session, vip, opened_at=AT - 1 * DAY, severity="critical")
        await add_survey(session, vip, score=2, answered_at=AT - 10 * HOUR)
        dormant = await add_customer(
            session, created_at=AT - 500 * DAY, birthday=date(1990, 11, 12)
        )
        await add_orders(session, dormant, (AT - 200 * DAY, "35.00"), (AT - 190 * DAY, "20.00"))
        for days, points in ((20, 500), (340, 80)):
            session.add(
                CustomEvent(
                    event_id=f"points-{dormant.id}-{days}",
                    customer_id=dormant.id,
                    type="points_earned",
                    occurred_at=AT - days * DAY,
                    properties={"points": points},
                )
            )
        newcomer = await add_customer(session, created_at=AT - 3 * HOUR, email=None)
        return [vip.id, dormant.id, newcomer.id]


async def _decisions_agree(db: Database, rulebook: RuleBook, customer_ids: list[int]) -> int:
    """Evaluate every event type of the book, with each data variant, for each customer:
    on the whole snapshot and on the needed facts alone. Returns how many fired."""
    event_types = rulebook.facts["event_type"].values
    fired = 0
    async with db.session() as session:
        whole = await compute_facts(
            session, customer_ids, AT, config=CONFIG, derived=rulebook.derived
        )
        for event_type in event_types:
            needs = rulebook.needs_for_event(event_type)
            needed = await compute_facts(
                session,
                customer_ids,
                AT,
                config=CONFIG,
                derived=needs.derived,
                only=needs.builtin,
            )
            for data in EVENT_DATA.get(event_type, [{}]):
                for customer_id in customer_ids:
                    about_event = event_facts(event_type, data)
                    expected = rulebook.evaluate({**whole[customer_id], **about_event})
                    actual = rulebook.evaluate({**needed[customer_id], **about_event})
                    assert actual == expected, (event_type, data, customer_id)
                    fired += len(expected.outcomes)
    return fired


async def test_an_event_decides_on_its_needed_facts_as_on_the_whole_snapshot(
    db: Database,
) -> None:
    rulebook = load_rulebook(RULES_DIR, references=shipped_references())
    fired = await _decisions_agree(db, rulebook, await _customers(db))
    assert fired > 0  # the comparison covered rules that fired, not only silence
    complaint = rulebook.needs_for_event("complaint_opened")
    # What the complaint rules read is computed; the scan's and the surveys' facts are not.
    assert {"tier"} <= complaint.builtin
    assert "complaints_last_7d" in complaint.derived.specs
    assert "last_csat_score" not in complaint.builtin
    assert "points_balance" not in complaint.derived.specs
    assert "days_since_last_order" in rulebook.needs_for_event("daily_scan").builtin


SEGMENT_RULES = """\
name: vip-care
owner: care
description: VIPs.
mode: all_matches
rules:
  - id: unhappy-vip-complains
    description: A VIP who complained this week complains again.
    when:
      event_type: {one_of: [complaint_opened, survey_answered]}
      in_segment: vip_customers
      all:
        - in_segment: unhappy
    then:
      - tag: unhappy-vip
    examples:
      - given: {event_type: complaint_opened, in_segment: [vip_customers, unhappy]}
        expect: [tag unhappy-vip]
  - id: anything-from-anyone-dormant
    description: Any event, of any type, from someone without an order for 90 days.
    when:
      any:
        - event_type: order_placed
        - days_since_last_order: {at_least: 90}
    then:
      - tag: stirring
    examples:
      - given: {event_type: complaint_opened, days_since_last_order: 120}
        expect: [tag stirring]
  - id: points-scan
    description: The scan's rule; never read for an event.
    when:
      event_type: daily_scan
      points_balance: {at_least: 100}
    then:
      - tag: points
    examples:
      - given: {event_type: daily_scan, points_balance: 150}
        expect: [tag points]
"""
# The segments of tests/segments, and one that no rule names.
SEGMENTS = (
    SEGMENT_RULES_SEGMENTS
    + """\
  big_spenders:
    description: No rule names this one.
    when:
      total_spent: {at_least: 1000}
"""
)
DERIVED = """\
facts:
  complaints_last_7d: {count: complaint_opened, within: 7d}
  points_balance: {sum: points_earned.points, within: 365d}
"""


def _segment_folder(tmp_path: Path) -> Path:
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    for name in ("journeys.yaml", "tiers.yaml", "outreach_policy.yaml", "holdout.yaml"):
        shutil.copy(RULES_DIR / name, rules_dir / name)
    shutil.copy(RULES_DIR / "events.yaml", rules_dir / "events.yaml")
    (rules_dir / "derived_facts.yaml").write_text(DERIVED, encoding="utf-8")
    (rules_dir / "segments.yaml").write_text(SEGMENTS, encoding="utf-8")
    (rules_dir / "vip.rules.yaml").write_text(SEGMENT_RULES, encoding="utf-8")
    return rules_dir


async def test_segments_and_rules_that_may_fire_on_any_event_keep_their_facts(
    db: Database, tmp_path: Path
) -> None:
    rulebook = load_rulebook(_segment_folder(tmp_path), references=shipped_references())
    complaint = rulebook.needs_for_event("complaint_opened")
    # The segments the rule names travel, with the facts their conditions read.
    assert set(complaint.derived.segments) == {"vip_customers", "unhappy"}
    assert {"tier", "days_since_last_order"} <= complaint.builtin
    assert set(complaint.derived.specs) == {"complaints_last_7d"}
    # `one_of` admits both types; a test of event_type inside `any` requires nothing.
    survey = rulebook.needs_for_event("survey_answered")
    assert set(survey.derived.segments) == {"vip_customers", "unhappy"}
    order = rulebook.needs_for_event("order_placed")
    assert order.derived.segments == {}
    assert "days_since_last_order" in order.builtin
    assert set(rulebook.needs_for_event("daily_scan").derived.specs) == {"points_balance"}
    assert await _decisions_agree(db, rulebook, await _customers(db)) > 0
